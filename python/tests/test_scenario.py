"""The measured scenario on the real tiny pipeline: breakdown, identical latents, saved image, roofline;
and on a fake backend: passes and warm-up are timed with the backend's clock."""

import numpy as np
import pytest
import torch

from ladder_worker import models, roofline, scenario
from ladder_worker.backends.base import Backend
from ladder_worker.backends.torch import TorchBackend
from ladder_worker.errors import UserError

pytestmark = pytest.mark.real  # the tiny pipeline, built and run


@pytest.fixture(scope="module")
def backend(tmp_path_factory):
    cache = tmp_path_factory.mktemp("models")
    info = models.resolve_model("synthetic:tiny", cache)
    b = TorchBackend({}, cache)
    assert b.load(info, {**scenario.DEFAULTS, "height": 64, "width": 64}) is None
    return b


SMALL = {"steps": 2, "warmup_steps": 1, "passes": 2, "height": 64, "width": 64}


def test_breakdown_adds_up_and_counts_unet_steps(backend, tmp_path):
    res = scenario.run(backend, {**SMALL, "image_path": str(tmp_path / "img.npy")}, lambda **kw: None)
    assert len(res["samples_s"]) == 2 and res["components_missing"] == []
    for sample, parts in zip(res["samples_s"], res["components"], strict=True):
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
    # Each pass's [start, end] on CLOCK_MONOTONIC, in order, no shorter than the pass it holds.
    windows = res["windows"]
    assert len(windows) == 2 and windows[0][1] <= windows[1][0]
    for (start, end), sample in zip(windows, res["samples_s"], strict=True):
        assert end - start >= sample > 0


def test_min_time_adds_passes(backend):
    res = scenario.run(
        backend, {**SMALL, "passes": 1, "warmup_steps": 0, "min_time_s": 1e9, "max_passes": 3}, lambda **kw: None
    )
    assert len(res["samples_s"]) == 3


def test_same_seed_same_latents_same_image(backend, tmp_path):
    for name in ("a", "b"):
        scenario.run(backend, {**SMALL, "passes": 1, "image_path": str(tmp_path / f"{name}.npy")}, lambda **kw: None)
    assert np.array_equal(np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy"))
    l1 = backend.initial_latents(0, 64, 64)
    assert l1.shape == (1, 4, 8, 8) and torch.equal(l1, backend.initial_latents(0, 64, 64))
    assert not torch.equal(l1, backend.initial_latents(1, 64, 64))


def test_effective_of_the_torch_backend(backend):
    eff = backend.effective()
    assert eff["backend"] == "torch" and eff["scheduler"] == "PNDMScheduler"
    assert set(eff["components"]) == {"unet", "vae", "text_encoder", "safety_checker"}
    assert eff["components"]["unet"]["param_dtypes"] == {"float32": len(list(backend.pipe.unet.parameters()))}
    assert eff["torch_threads"] == torch.get_num_threads()
    assert backend.roofline_pipe() is backend.pipe and backend.timings == {}


def test_roofline_counts_attention_and_sums(backend):
    f = roofline.image_flops(backend.roofline_pipe(), 64, 64, 2, 7.5)
    assert f["unet"] == 2 * f["unet_per_call"] > 0
    assert f["total"] == f["text_encoding"] + f["unet"] + f["vae_decode"] + f["safety_checker"]
    # Attention is counted: the CPU SDPA kernel has a formula now.
    q = torch.zeros(1, 2, 16, 8)
    with torch.utils.flop_counter.FlopCounterMode(display=False) as c, torch.inference_mode():
        torch.nn.functional.scaled_dot_product_attention(q, q, q)
    assert c.get_total_flops() == 2 * (2 * 1 * 2 * 16 * 16 * 8)
    assert roofline.matmul_peak("fp32", seconds=0.1, n=256) > 0


class TickingBackend(Backend):
    """No pipeline: a clock that advances one second per call, and a stub for everything else."""

    name = "ticking"

    def resolve_options(self, options):  # a backend of this test alone: no schema in protocol/options.json
        return dict(options or {})

    def __init__(self):
        super().__init__({}, "/nonexistent")
        self.now = 100.0
        self.calls = []

    def load(self, info, scenario):
        pass

    def generate(self, *, seed, prompt, height, width, latents, guidance_scale, num_inference_steps, output_type):
        self.calls.append(num_inference_steps)
        self.now += 1.0
        return np.zeros((1, height, width, 3), dtype=np.float32)

    def effective(self):
        return {}

    def clock(self):
        return self.now

    def initial_latents(self, seed, height, width):
        return None

    def timers(self):
        class Timers:
            missing = ["everything"]

            def start(self):
                pass

            def result(self, pass_s):
                return {"rest_s": pass_s}

        return Timers()


def test_passes_and_warmup_are_timed_with_the_backends_clock():
    b = TickingBackend()
    res = scenario.run(b, {**SMALL, "steps": 3, "warmup_steps": 2, "passes": 4}, lambda **kw: None)
    assert res["samples_s"] == [1.0] * 4 and res["warmup_s"] == 1.0
    assert b.calls == [2, 3, 3, 3, 3]
    assert res["components"] == [{"rest_s": 1.0}] * 4 and res["components_missing"] == ["everything"]
    assert res["runtime"] is None  # the default observe() observes nothing
    assert res["scenario"]["prompt"] == scenario.SHARED["article_scenario"]["prompt"]


def test_defaults_are_the_shared_article_scenario():
    assert scenario.DEFAULTS == {**scenario.SHARED["article_scenario"], "image_path": None}
    assert scenario.DEFAULTS["steps"] == 20 and scenario.DEFAULTS["warmup_steps"] == 10
    assert scenario.SCHEDULERS["default"] is None and scenario.SCHEDULERS["dpm"] == "DPMSolverMultistepScheduler"


def test_torch_backend_swaps_the_scheduler_by_its_shared_name(backend, tmp_path):
    info = models.resolve_model("synthetic:tiny", backend.cache_dir)
    dpm = TorchBackend({"scheduler": "dpm"}, backend.cache_dir)
    dpm.load(info, scenario.DEFAULTS)
    assert dpm.effective()["scheduler"] == scenario.SCHEDULERS["dpm"]


def test_roofline_job_keeps_the_best_of_repeated_probes(backend, monkeypatch):
    readings = iter([100.0, 300.0, 200.0, 50.0, 70.0, 60.0])
    asked = []

    def fake_peak(dtype, seconds=2.0, n=2048):
        asked.append((dtype, seconds))
        return next(readings)

    monkeypatch.setattr(roofline, "matmul_peak", fake_peak)
    sc = {**scenario.DEFAULTS, **SMALL}
    res = roofline.job(backend.roofline_pipe(), sc, ["fp32", "bf16"], None)  # repeats: 3 when not given
    assert set(res) == {"flops", "peaks_gflops", "peak_probes"}
    assert res["flops"] == roofline.image_flops(backend.roofline_pipe(), 64, 64, 2, sc["guidance_scale"])
    assert res["peaks_gflops"] == {"fp32": 300.0, "bf16": 70.0}
    assert res["peak_probes"]["fp32"]["gflops"] == [100.0, 300.0, 200.0]
    assert res["peak_probes"]["bf16"]["gflops"] == [50.0, 70.0, 60.0]
    assert all(p["seconds"] >= 0 for p in res["peak_probes"].values())
    assert asked == [("fp32", 2.0)] * 3 + [("bf16", 2.0)] * 3
    readings = iter([5.0])
    assert roofline.job(backend.roofline_pipe(), sc, ["fp32"], 1)["peak_probes"]["fp32"]["gflops"] == [5.0]
    assert roofline.job(backend.roofline_pipe(), sc, [], 2)["peaks_gflops"] == {}


@pytest.mark.parametrize(
    ("peaks", "repeats", "match"),
    [(["fp16"], 1, "unknown probe dtype 'fp16'"), (["fp32"], 0, "repeats must be"), (["fp32"], True, "repeats")],
)
def test_roofline_job_arguments_are_user_errors(backend, peaks, repeats, match):
    with pytest.raises(UserError, match=match):
        roofline.job(backend.roofline_pipe(), {**scenario.DEFAULTS, **SMALL}, peaks, repeats)


def test_base_probe_runs_real_matrix_products():
    res = Backend.probe(["fp32", "bf16", "int8"], 0.05, 2, "start", {})
    assert set(res) == {"gflops", "probes", "seconds"}
    for d in ("fp32", "bf16", "int8"):
        assert len(res["probes"][d]) == 2 and all(g > 0 for g in res["probes"][d])
        assert res["gflops"][d] == max(res["probes"][d])
    assert res["seconds"] >= 6 * 0.05
    assert TorchBackend.probe(["fp32"], 0.01, 1, "end", None)["gflops"]["fp32"] > 0
    with pytest.raises(UserError, match="unknown probe dtype 'fp16'"):
        TorchBackend.probe(["fp16"], 0.01, 1, "end", None)


def test_barrier_holds_each_party_until_the_last_one_arrives(tmp_path):
    # Causality, not timing: the early party returns only after the late one marked itself ready.
    import multiprocessing as mp
    import time

    barrier = {"dir": str(tmp_path), "parties": 2}
    ctx = mp.get_context("fork")  # the child only waits and writes: no torch in it
    early = ctx.Process(target=_wait_and_stamp, args=(barrier, str(tmp_path / "early.done")))
    early.start()
    time.sleep(0.2)
    assert early.is_alive() and not (tmp_path / "early.done").exists()
    arrived = time.clock_gettime(time.CLOCK_MONOTONIC)
    assert scenario.wait_at_barrier(barrier) >= 0
    early.join(timeout=30)
    assert early.exitcode == 0
    assert float((tmp_path / "early.done").read_text()) >= arrived


def _wait_and_stamp(barrier, out):
    import time

    scenario.wait_at_barrier(barrier)
    with open(out, "w") as f:
        f.write(repr(time.clock_gettime(time.CLOCK_MONOTONIC)))
