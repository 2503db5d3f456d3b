"""The openvino-genai backend's pure parts (its module imports without openvino_genai: that lives in the
openvino environment)."""

from types import SimpleNamespace

import pytest

from ladder_worker.backends.openvino_genai import GenAITimers, OpenVINOGenAIBackend, busy_threads, genai_scheduler_type
from ladder_worker.errors import UserError


def test_dpm_is_refused_pndm_mapped():
    assert genai_scheduler_type("PNDMScheduler") == "PNDM"
    with pytest.raises(UserError, match=r"GenAI has no DPMSolverMultistepScheduler \(it has PNDMScheduler, "):
        genai_scheduler_type("DPMSolverMultistepScheduler")


def test_properties_carry_the_precision_asked_and_the_launchers_threads(tmp_path, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert OpenVINOGenAIBackend({"precision": "bf16"}, tmp_path)._properties() == {
        "INFERENCE_PRECISION_HINT": "bf16",
        "INFERENCE_NUM_THREADS": 3,
    }
    monkeypatch.delenv("OMP_NUM_THREADS")
    # auto: OpenVINO's own choice, nothing passed.
    assert OpenVINOGenAIBackend({}, tmp_path)._properties() == {}


def test_one_tokenizer_view_per_ir_whatever_the_precision(tmp_path):
    keys = {OpenVINOGenAIBackend(o, tmp_path).cache_key("ir") for o in ({}, {"precision": "bf16"})}
    assert len(keys) == 1
    assert OpenVINOGenAIBackend({"quantization": "int8"}, tmp_path).cache_key("ir") not in keys


def test_timers_read_genais_metrics_in_seconds():
    metrics = SimpleNamespace(
        raw_metrics=SimpleNamespace(unet_inference_durations=[20_000.0, 6_000.0, 4_000.0]),  # microseconds
        get_text_encoder_infer_duration=lambda: {"text_encoder": 4.0},  # milliseconds
        get_vae_decoder_infer_duration=lambda: 110.0,  # milliseconds
    )
    timers = GenAITimers(SimpleNamespace(get_performance_metrics=lambda: metrics))
    timers.start()
    out = timers.result(0.2)
    assert out["unet_steps_s"] == pytest.approx([0.02, 0.006, 0.004])
    assert out["unet_s"] == pytest.approx(0.03)
    assert out["text_encoding_s"] == pytest.approx(0.004)
    assert out["vae_decode_s"] == pytest.approx(0.11)
    assert out["safety_checker_s"] == 0.0
    assert out["rest_s"] == pytest.approx(0.2 - 0.03 - 0.004 - 0.11)
    assert timers.missing == ["safety_checker"]


def test_busy_threads_counts_the_threads_a_call_works_on():
    # Pure Python holds the GIL: one thread does the work, whatever else the process runs.
    seen = busy_threads(lambda: sum(range(200_000)), want=2, seconds=0.3, tries=2)
    assert seen["busy_threads"] == 1, seen
    assert seen["busy_calls"] >= 1 and seen["busy_ticks"][0] > 0
    assert seen["busy_windows"] == 2  # one thread of the 2 wanted: every window read


@pytest.mark.parametrize("check", [None, {"max_abs_diff": 0.25}])
def test_explain_profiles_only_a_compile_proven_identical_to_genais(tmp_path, check):
    backend = OpenVINOGenAIBackend({}, tmp_path)
    backend.proofs = {"unet_check": check} if check else {}
    with pytest.raises(UserError, match="cannot profile a UNet call: GenAI's UNet was not proven identical"):
        backend.explain({})
