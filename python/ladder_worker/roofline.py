"""Work and peak for the roofline: FLOPs of one image for the actual shapes (attention included),
and this machine's measured matrix-product peak for a dtype."""

import time

import torch
from torch.utils.flop_counter import FlopCounterMode, register_flop_formula, sdpa_flop

from .backends.base import check_probe_dtypes, check_repeats

# Matrix-product probes per dtype of a roofline job that does not say (`repeats`); the best is kept.
REPEATS = 3

# FlopCounterMode has no formula for the CPU flash-attention kernel (it counts 0): give it the
# standard SDPA one, so attention, a large part of SD's UNet, is counted.
_cpu_sdpa = getattr(torch.ops.aten, "_scaled_dot_product_flash_attention_for_cpu", None)
if _cpu_sdpa is not None:
    try:

        @register_flop_formula(_cpu_sdpa, get_raw=True)
        def _cpu_sdpa_flops(query, key, value, *args, out_val=None, **kwargs) -> int:
            return sdpa_flop(query.shape, key.shape, value.shape)
    except (RuntimeError, ValueError):  # already registered by a newer torch
        pass


def _count(fn) -> int:
    with FlopCounterMode(display=False) as counter, torch.inference_mode():
        fn()
    return int(counter.get_total_flops())


def image_flops(pipe, height: int, width: int, steps: int, guidance_scale: float) -> dict:
    """FLOPs per component of one image, counted on the real modules with the run's shapes."""
    cfg = 2 if guidance_scale > 1 else 1
    scale = pipe.vae_scale_factor
    latent = torch.zeros(cfg, pipe.unet.config.in_channels, height // scale, width // scale)
    ids = torch.zeros(1, pipe.tokenizer.model_max_length, dtype=torch.long)
    text = _count(lambda: pipe.text_encoder(ids))  # once per prompt, and once more for the empty one (CFG)
    hidden = torch.zeros(cfg, pipe.tokenizer.model_max_length, pipe.text_encoder.config.hidden_size)
    unet = _count(lambda: pipe.unet(latent, torch.tensor(1), encoder_hidden_states=hidden))
    vae = _count(lambda: pipe.vae.decode(latent[:1]))
    safety = 0
    if getattr(pipe, "safety_checker", None) is not None:
        size = pipe.feature_extractor.crop_size["height"] if isinstance(pipe.feature_extractor.crop_size, dict) else 224
        pixels = torch.zeros(1, 3, size, size)
        safety = _count(lambda: pipe.safety_checker.vision_model(pixels))
    parts = {
        "text_encoding": text * cfg,
        "unet_per_call": unet,
        "unet": unet * steps,
        "vae_decode": vae,
        "safety_checker": safety,
    }
    parts["total"] = parts["text_encoding"] + parts["unet"] + vae + safety
    return parts


def matmul_peak(dtype_name: str, seconds: float = 2.0, n: int = 2048) -> float:
    """GFLOP/s (GOP/s for int8) of a large square matrix product in this process (oneDNN/MKL through torch)."""
    if dtype_name == "int8":
        # Integer operations per second (2 per multiply-add, as for floats): int8 x int8 -> int32.
        a = torch.randint(-128, 128, (n, n), dtype=torch.int8)
        b = torch.randint(-128, 128, (n, n), dtype=torch.int8)
        product = torch._int_mm
    else:
        dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}[dtype_name]
        a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
        product = torch.matmul
    for _ in range(3):
        product(a, b)
    reps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        product(a, b)
        reps += 1
    return 2 * n**3 * reps / (time.perf_counter() - t0) / 1e9


def peak_probes(dtype_name: str, repeats: int, seconds: float = 2.0, n: int = 2048) -> dict:
    """`repeats` probes of matmul_peak: {"gflops": [each probe], "seconds": wall time of them all}."""
    t0 = time.perf_counter()
    gflops = [matmul_peak(dtype_name, seconds, n) for _ in range(repeats)]
    return {"gflops": gflops, "seconds": time.perf_counter() - t0}


def job(pipe, scenario: dict, peaks, repeats: int | None = None, seconds: float = 2.0) -> dict:
    """The roofline job: FLOPs of one image for the scenario (defaults applied) and, for each dtype in
    `peaks`, `repeats` probes of the matrix-product peak (the best in peaks_gflops, all in peak_probes)."""
    dtypes = check_probe_dtypes(peaks)
    repeats = check_repeats(REPEATS if repeats is None else repeats)
    flops = image_flops(pipe, scenario["height"], scenario["width"], scenario["steps"], scenario["guidance_scale"])
    probes = {d: peak_probes(d, repeats, seconds) for d in dtypes}
    return {
        "flops": flops,
        "peaks_gflops": {d: max(p["gflops"]) for d, p in probes.items()},
        "peak_probes": probes,
    }
