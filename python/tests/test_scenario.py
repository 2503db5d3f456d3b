"""The measured scenario on the real tiny pipeline: breakdown, identical latents, saved image, roofline."""
import numpy as np
import pytest
import torch

from ladder_worker import models, roofline, scenario
from ladder_worker.backends.torch_backend import TorchBackend


@pytest.fixture(scope="module")
def backend(tmp_path_factory):
    info = models.resolve_model("synthetic:tiny", tmp_path_factory.mktemp("models"))
    b = TorchBackend()
    b.load(info, {})
    return b


SMALL = {"steps": 2, "warmup_steps": 1, "passes": 2, "height": 64, "width": 64}


def test_breakdown_adds_up_and_counts_unet_steps(backend, tmp_path):
    res = scenario.run(backend, {**SMALL, "image_path": str(tmp_path / "img.npy")}, lambda **kw: None)
    assert len(res["samples_s"]) == 2 and res["components_missing"] == []
    for sample, parts in zip(res["samples_s"], res["components"]):
        named = sum(parts[f"{k}_s"] for k in ("text_encoding", "unet", "vae_decode", "safety_checker"))
        assert named > 0 and parts["unet_s"] > 0 and parts["vae_decode_s"] > 0
        assert named + parts["rest_s"] == pytest.approx(sample)
        assert 0 <= parts["rest_s"] < sample
        # One batched (CFG) UNet call per step, plus one: PNDM's PLMS start repeats a timestep.
        assert len(parts["unet_steps_s"]) == 3
    assert res["runtime"]["unet_calls"] >= 1  # observed during the warm-up
    assert res["runtime"]["autocast_dtype"] is None and res["runtime"]["unet_output_dtype"] == "float32"
    image = np.load(tmp_path / "img.npy")
    assert image.shape == (64, 64, 3) and image.dtype == np.float32


def test_min_time_adds_passes(backend):
    res = scenario.run(backend, {**SMALL, "passes": 1, "warmup_steps": 0, "min_time_s": 1e9, "max_passes": 3}, lambda **kw: None)
    assert len(res["samples_s"]) == 3


def test_same_seed_same_latents_same_image(backend, tmp_path):
    for name in ("a", "b"):
        scenario.run(backend, {**SMALL, "passes": 1, "image_path": str(tmp_path / f"{name}.npy")}, lambda **kw: None)
    assert np.array_equal(np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy"))
    l1 = scenario.initial_latents(backend.pipe, 0, 64, 64)
    assert l1.shape == (1, 4, 8, 8) and torch.equal(l1, scenario.initial_latents(backend.pipe, 0, 64, 64))
    assert not torch.equal(l1, scenario.initial_latents(backend.pipe, 1, 64, 64))


def test_roofline_counts_attention_and_sums(backend):
    f = roofline.image_flops(backend.pipe, 64, 64, 2, 7.5)
    assert f["unet"] == 2 * f["unet_per_call"] > 0
    assert f["total"] == f["text_encoding"] + f["unet"] + f["vae_decode"] + f["safety_checker"]
    # Attention is counted: the CPU SDPA kernel has a formula now.
    q = torch.zeros(1, 2, 16, 8)
    with torch.utils.flop_counter.FlopCounterMode(display=False) as c, torch.inference_mode():
        torch.nn.functional.scaled_dot_product_attention(q, q, q)
    assert c.get_total_flops() == 2 * (2 * 1 * 2 * 16 * 16 * 8)
    assert roofline.matmul_peak("fp32", seconds=0.1, n=256) > 0
