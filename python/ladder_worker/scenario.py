"""What is measured: the article's protocol. One warm-up call, then timed passes, each timed here
with a monotonic clock so controller and socket latency never enter a sample. Every pass starts from
the same initial latents (made from the seed with numpy, so every backend gets identical ones), and
the last pass's image is saved for the quality guard."""
import contextlib
import time

import numpy as np

from .timing import Breakdown

PROGRESS_INTERVAL_S = 1.0

DEFAULTS = {
    "prompt": "sailing ship in storm by Rembrandt",
    "steps": 20,
    "warmup_steps": 10,
    "passes": 10,
    # Keep passing until this much time was measured too (hyperfine/MLPerf style), up to max_passes.
    "min_time_s": 0.0,
    "max_passes": 1000,
    "height": 512,
    "width": 512,
    "guidance_scale": 7.5,
    "seed": 0,
    "output_type": "np",
    "image_path": None,
}


def initial_latents(pipe, seed: int, height: int, width: int):
    import torch
    scale = getattr(pipe, "vae_scale_factor", 8)
    shape = (1, pipe.unet.config.in_channels, height // scale, width // scale)
    return torch.from_numpy(np.random.default_rng(seed).standard_normal(shape, dtype=np.float32))


def run(backend, scenario: dict, progress) -> dict:
    sc = {**DEFAULTS, **scenario}
    latents = initial_latents(backend.pipe, sc["seed"], sc["height"], sc["width"])
    call = dict(prompt=sc["prompt"], height=sc["height"], width=sc["width"], latents=latents,
                guidance_scale=sc["guidance_scale"], output_type=sc["output_type"])
    # The first call (warm-up, or the first pass without one) also proves the runtime toggles:
    # the dtype the UNet really computes in.
    observe = getattr(backend, "observe", None) or (lambda: contextlib.nullcontext(None))
    breakdown = Breakdown(backend.pipe)
    runtime = None
    t0 = time.perf_counter()
    if sc["warmup_steps"] > 0:
        with observe() as runtime:
            backend.generate(num_inference_steps=sc["warmup_steps"], seed=sc["seed"], **call)
    warmup_s = time.perf_counter() - t0
    progress(stage="warmup", seconds=warmup_s, message=f"warm-up ({sc['warmup_steps']} steps)")
    samples, components = [], []
    unsent, last_sent = [], time.perf_counter()

    def more() -> bool:
        return len(samples) < sc["passes"] or (sum(samples) < sc["min_time_s"] and len(samples) < sc["max_passes"])

    while more():
        with observe() if runtime is None else contextlib.nullcontext(runtime) as runtime:
            breakdown.start()
            t0 = time.perf_counter()
            images = backend.generate(num_inference_steps=sc["steps"], seed=sc["seed"], **call)
            samples.append(time.perf_counter() - t0)
        components.append(breakdown.result(samples[-1]))
        unsent.append(samples[-1])
        # At most one message a second: every message wakes the controller while we measure.
        if time.perf_counter() - last_sent >= PROGRESS_INTERVAL_S or not more():
            progress(stage="pass", index=len(samples), total=sc["passes"], seconds=samples[-1], samples=unsent)
            unsent, last_sent = [], time.perf_counter()
    if sc["image_path"]:
        np.save(sc["image_path"], np.asarray(images[0], dtype=np.float32))
    return {
        "samples_s": samples,
        "components": components,
        "components_missing": breakdown.missing,
        "runtime": runtime,
        "warmup_s": warmup_s,
        "scenario": {k: v for k, v in sc.items() if k != "image_path"},
        "image_shape": list(getattr(images, "shape", [])),
    }
