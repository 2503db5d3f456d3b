"""The sleep mock backend: scripted, deterministic pass times through the real scenario.run."""

import math
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from ladder_worker import scenario
from ladder_worker.backends import get, sleep
from ladder_worker.errors import UserError

PYTHON_DIR = Path(__file__).resolve().parents[1]
SMALL = {"steps": 4, "warmup_steps": 2, "passes": 3, "height": 16, "width": 24}
QUIET = lambda **kw: None  # noqa: E731 (the progress callback)


def loaded(tmp_path, **options):
    b = get("sleep", options, tmp_path)
    b.load({"spec": "none"}, scenario.DEFAULTS)
    return b


def bench(b, **sc):
    return scenario.run(b, {**SMALL, **sc}, QUIET)


def test_series_gives_exactly_those_samples(tmp_path):
    series = [0.011, 0.013, 0.017]
    b = loaded(tmp_path, series=series, pass_s=0.005)
    res = bench(b, passes=5)
    assert res["samples_s"] == [0.011, 0.013, 0.017, 0.011, 0.013]  # exact, not approximately
    assert res["warmup_s"] == 0.005  # the warm-up takes pass_s and consumes no series entry
    # The series goes on over the life of the process.
    assert bench(b, passes=2)["samples_s"] == [0.017, 0.011]


def test_pass_s_gives_exactly_that_sample_and_takes_that_wall_time(tmp_path):
    b = loaded(tmp_path, pass_s=0.03)
    t0 = time.perf_counter()
    res = bench(b, passes=4, warmup_steps=0)
    assert res["samples_s"] == [0.03] * 4
    assert time.perf_counter() - t0 >= 4 * 0.03


def test_min_time_adds_passes(tmp_path):
    res = bench(loaded(tmp_path, pass_s=0.01), passes=1, warmup_steps=0, min_time_s=0.035, max_passes=10)
    assert res["samples_s"] == [0.01] * 4


def test_components_in_breakdown_format(tmp_path):
    res = bench(loaded(tmp_path, pass_s=0.02))
    assert res["components_missing"] == []
    for sample, parts in zip(res["samples_s"], res["components"], strict=True):
        assert list(parts) == [
            "text_encoding_s",
            "unet_s",
            "vae_decode_s",
            "safety_checker_s",
            "unet_steps_s",
            "rest_s",
        ]
        assert parts["unet_s"] == pytest.approx(0.8 * sample) and parts["rest_s"] == 0.0
        assert parts["unet_steps_s"] == [pytest.approx(0.8 * sample / 4)] * 4
        named = sum(parts[k] for k in ("text_encoding_s", "unet_s", "vae_decode_s", "safety_checker_s"))
        assert named == pytest.approx(sample)


def test_process_noise_is_deterministic_for_a_seed_and_differs_between_seeds(tmp_path):
    def run(seed):
        b = loaded(tmp_path, pass_s=0.01, process_noise=0.2, noise_seed=seed)
        samples = bench(b, passes=3, warmup_steps=0)["samples_s"]
        return b.effective()["sleep"]["process_factor"], samples

    f0, s0 = run(0)
    assert run(0) == (f0, s0)
    f1, s1 = run(1)
    assert f1 != f0 and s1 != s0
    assert f0 != 1.0 and s0 == [0.01 * f0] * 3  # one level for the whole process, no pass noise


def test_pass_noise_varies_passes_deterministically(tmp_path):
    def samples():
        return bench(loaded(tmp_path, pass_s=0.01, pass_noise=0.1, noise_seed=3), passes=4)["samples_s"]

    first = samples()
    assert first == samples() and len(set(first)) == 4
    assert all(0.005 < s < 0.02 for s in first)


def test_lognormal_factor_has_mean_one_and_the_asked_spread():
    draws = [sleep.lognormal_factor(np.random.default_rng(7), 0.0)]
    assert draws == [1.0]
    rng = np.random.default_rng(0)
    many = np.array([sleep.lognormal_factor(rng, 0.1) for _ in range(20000)])
    assert many.mean() == pytest.approx(1.0, abs=0.005) and many.std() == pytest.approx(0.1, abs=0.005)


@pytest.mark.parametrize(
    ("dtype", "broken", "autocast", "output"),
    [
        ("fp32", False, None, "float32"),
        ("bf16", False, "bfloat16", "bfloat16"),
        ("bf16", True, None, "float32"),  # the toggle "did not take effect"
        ("fp32", True, "bfloat16", "bfloat16"),
    ],
)
def test_observed_dtype_and_broken_toggle(tmp_path, dtype, broken, autocast, output):
    res = bench(loaded(tmp_path, dtype=dtype, broken_toggle=broken))
    assert res["runtime"] == {"unet_calls": 2, "autocast_dtype": autocast, "unet_output_dtype": output}


def test_runtime_observed_on_the_first_pass_without_warmup(tmp_path):
    assert bench(loaded(tmp_path), warmup_steps=0)["runtime"]["unet_calls"] == 4


def test_images_are_seeded(tmp_path):
    b = loaded(tmp_path)
    a = b.generate(
        seed=0,
        prompt="p",
        height=16,
        width=24,
        latents=None,
        guidance_scale=7.5,
        num_inference_steps=1,
        output_type="np",
    )
    assert a.shape == (1, 16, 24, 3) and a.dtype == np.float32 and 0 <= a.min() and a.max() <= 1
    call = dict(
        prompt="p", height=16, width=24, latents=None, guidance_scale=7.5, num_inference_steps=1, output_type="np"
    )
    assert np.array_equal(a, b.generate(seed=0, **call))
    assert not np.array_equal(a, b.generate(seed=1, **call))
    lat = b.initial_latents(0, 64, 64)
    assert lat.shape == (1, 4, 8, 8) and np.array_equal(lat, b.initial_latents(0, 64, 64))


@pytest.mark.parametrize(("image", "check"), [("nan", np.isnan), ("inf", np.isinf)])
def test_nan_and_inf_images(tmp_path, image, check):
    res = bench(loaded(tmp_path, image=image), image_path=str(tmp_path / "img.npy"))
    img = np.load(tmp_path / "img.npy")
    assert img.shape == (16, 24, 3) and res["image_shape"] == [1, 16, 24, 3]
    assert check(img).sum() == 3 and check(img[0, 0]).all()


def test_image_noise_scripts_a_psnr_drift(tmp_path):
    clean = tmp_path / "clean.npy"
    bench(loaded(tmp_path), height=64, width=64, image_path=str(clean))
    for noise, want_db in ((0.01, 40), (0.1, 20)):
        noisy = tmp_path / f"noisy-{noise}.npy"
        bench(loaded(tmp_path, image_noise=noise), height=64, width=64, image_path=str(noisy))
        mse = float(np.mean((np.load(clean) - np.load(noisy)) ** 2))
        assert 10 * math.log10(1 / mse) == pytest.approx(want_db, abs=0.5)


def test_effective_and_timings(tmp_path):
    b = get("sleep", {"load_s": 0.02, "scheduler": "dpm"}, tmp_path)
    b.load({"spec": "none"}, scenario.DEFAULTS)
    eff = b.effective()
    assert eff["backend"] == "sleep" and eff["scheduler"] == "DPMSolverMultistepScheduler"
    assert eff["components"] == {} and eff["torch_threads"] == torch.get_num_threads()
    assert eff["sleep"] == {**sleep.DEFAULTS, "load_s": 0.02, "scheduler": "dpm", "process_factor": 1.0}
    assert b.timings == {"scripted_load_s": 0.02}
    assert loaded(tmp_path).effective()["scheduler"] == "PNDMScheduler"
    assert b.roofline_pipe() is None


@pytest.mark.parametrize(
    "options",
    [
        {"pass_s": -1},
        {"pass_s": "1"},
        {"series": [0.1, -0.1]},
        {"series": 0.1},
        {"fault": "explode"},
        {"image": "black"},
        {"dtype": "int8"},
        {"fault_at_pass": 0},
        {"noise_seed": 1.5},
        {"broken_toggle": "yes"},
        {"scheduler": "euler"},
        {"pass_S": 0.1},
        {"probe_gflops": 0},
        {"probe_gflops": "fast"},
        {"machine_drift": 1.0},
        {"machine_drift": float("nan")},
    ],
)
def test_bad_options_are_user_errors(tmp_path, options):
    with pytest.raises(UserError):
        get("sleep", options, tmp_path)


def test_fault_raise_at_the_asked_pass(tmp_path):
    b = loaded(tmp_path, fault="raise", fault_at_pass=3, pass_s=0.001)
    with pytest.raises(RuntimeError, match="scripted fault 'raise' at pass 3"):
        bench(b, passes=5)
    assert b.passes == 3


def test_fault_oom_is_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr(sleep, "OOM_LIMIT_BYTES", 4 * sleep.OOM_CHUNK_BYTES)
    with pytest.raises(MemoryError, match="still alive"):
        bench(loaded(tmp_path, fault="oom"))


@pytest.mark.parametrize(("fault", "code"), [("exit", 7), ("kill", -9)])
def test_fault_exit_and_kill(tmp_path, fault, code):
    script = (
        "from ladder_worker import scenario\n"
        "from ladder_worker.backends import get\n"
        f"b = get('sleep', {{'fault': {fault!r}, 'fault_at_pass': 2, 'pass_s': 0.001}}, '.')\n"
        "scenario.run(b, {'steps': 1, 'warmup_steps': 0, 'passes': 3, 'height': 8, 'width': 8}, lambda **kw: None)\n"
        "print('survived')\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], cwd=PYTHON_DIR, capture_output=True, text=True, timeout=60)
    assert proc.returncode == code and "survived" not in proc.stdout
    assert f"scripted fault '{fault}' at pass 2" in proc.stderr


def test_probe_is_scripted_by_label_and_options_and_takes_no_time():
    cls = sleep.SleepBackend
    t0 = time.perf_counter()
    start = cls.probe(["fp32", "bf16"], 5.0, 3, "start", {"probe_gflops": 800.0, "machine_drift": 0.25})
    end = cls.probe(["fp32", "bf16"], 5.0, 3, "end", {"probe_gflops": 800.0, "machine_drift": 0.25})
    assert time.perf_counter() - t0 < 0.5
    both = ("fp32", "bf16")
    assert start == {"gflops": dict.fromkeys(both, 800.0), "probes": {d: [800.0] * 3 for d in both}, "seconds": 0.0}
    assert end == {"gflops": dict.fromkeys(both, 600.0), "probes": {d: [600.0] * 3 for d in both}, "seconds": 0.0}
    # Defaults: 1000 GFLOP/s, no drift; a negative drift is a machine that got faster.
    default = cls.probe(["fp32"], 1.0, 1, "end", None)
    assert default == {"gflops": {"fp32": 1000.0}, "probes": {"fp32": [1000.0]}, "seconds": 0.0}
    assert cls.probe(["bf16"], 1.0, 2, "end", {"machine_drift": -0.1})["probes"] == {"bf16": [1100.0, 1100.0]}
    assert sleep.DEFAULTS["probe_gflops"] == 1000.0 and sleep.DEFAULTS["machine_drift"] == 0.0


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((["fp16"], 1.0, 1, "start", {}), "unknown probe dtype 'fp16'"),
        ((["fp32"], 0, 1, "start", {}), "seconds must be a number > 0"),
        ((["fp32"], 1.0, 0, "start", {}), "repeats must be an integer >= 1"),
        ((["fp32"], 1.0, 1, "middle", {}), "label must be one of start, end"),
        ((["fp32"], 1.0, 1, "end", {"machine_drift": 2}), "machine_drift must be < 1"),
        ((["fp32"], 1.0, 1, "end", {"nope": 1}), "unknown option 'nope'"),
    ],
)
def test_probe_arguments_are_user_errors(args, match):
    with pytest.raises(UserError, match=match):
        sleep.SleepBackend.probe(*args)


def test_drift_factor_is_piecewise_linear_with_steps_and_flat_beyond():
    drift = [[0, 1.0], [1.0, 1.5], [1.0, 2.0], [3.0, 3.0]]
    assert sleep.drift_factor(drift, -1) == 1.0
    assert sleep.drift_factor(drift, 0.5) == 1.25
    assert sleep.drift_factor(drift, 1.0) == 2.0  # the step: from its time on, the later factor
    assert sleep.drift_factor(drift, 2.0) == 2.5
    assert sleep.drift_factor(drift, 9.0) == 3.0
    assert sleep.drift_factor([], 5.0) == 1.0


def test_drift_slows_passes_by_the_shared_clock_across_processes(tmp_path):
    clock = tmp_path / "clock"
    drift = [[0, 1.0], [0.1, 2.0]]
    first = loaded(tmp_path, pass_s=0.02, drift=drift, drift_clock=str(clock))
    res = bench(first, passes=2, warmup_steps=1)
    # warm-up at t=0 (x1), pass 1 at t=0.02 (x1.2), pass 2 at t=0.044 (x1.44)
    assert res["samples_s"] == pytest.approx([0.024, 0.0288], rel=1e-9)
    # A second worker of the run continues the same machine: the clock is in the file.
    second = loaded(tmp_path, pass_s=0.02, drift=drift, drift_clock=str(clock))
    # its pass starts at t = 0.0728: x1.728
    assert bench(second, passes=1, warmup_steps=0)["samples_s"] == pytest.approx([0.03456], rel=1e-9)
    assert float(clock.read_text()) == pytest.approx(0.0728 + 0.03456, rel=1e-9)


def test_later_rounds_draw_their_own_process_level(tmp_path):
    def factor(round_):
        b = get("sleep", {"process_noise": 0.1, "noise_seed": 3}, tmp_path)
        b.load({"spec": "none"}, {**scenario.DEFAULTS, "round": round_})
        return b.process_factor

    assert factor(0) == factor(0)  # the first round: as a run of one round always drew it
    assert factor(1) == factor(1) != factor(0)
    assert factor(2) != factor(1)


@pytest.mark.parametrize(
    "options",
    [
        {"drift": [[0, 1.0]]},
        {"drift": [[1, 1.0], [0, 2.0]], "drift_clock": "x"},
        {"drift": [[0, 0]], "drift_clock": "x"},
    ],
)
def test_bad_drift_is_a_user_error(tmp_path, options):
    with pytest.raises(UserError, match="drift"):
        get("sleep", options, tmp_path)
