"""The stable-diffusion.cpp backend's pure parts (its module imports without stable_diffusion_cpp: that lives in its
own env, built from source)."""

import hashlib
import json
import struct

import pytest

from ladder_worker.backends.sdcpp import (
    HASHED_BYTES,
    LOGGED,
    SAMPLERS,
    SdcppBackend,
    SdcppTimers,
    busy_threads,
    file_proof,
    find_logged,
    gguf_tensor_types,
    isa_missing,
    knobs_logged,
    parse_system_info,
    parse_weight_stat,
    stage_diffusers,
)
from ladder_worker.errors import UserError
from ladder_worker.scenario import SCHEDULERS


def _string(s: str) -> bytes:
    return struct.pack("<Q", len(s)) + s.encode()


def write_gguf(path, tensors, kv=(("general.name", "x"),)):
    """A gguf v3 header: metadata (strings and one array) and tensor infos (name, dims, ggml type)."""
    out = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kv) + 1)
    for k, v in kv:
        out += _string(k) + struct.pack("<I", 8) + _string(v)
    out += _string("arr") + struct.pack("<IIQ", 9, 5, 3) + struct.pack("<3i", 1, 2, 3)
    for name, dims, kind in tensors:
        out += _string(name) + struct.pack("<I", len(dims)) + struct.pack(f"<{len(dims)}Q", *dims)
        out += struct.pack("<IQ", kind, 0)
    path.write_bytes(out)


def test_gguf_types_count_parameters_per_network(tmp_path):
    path = tmp_path / "m.gguf"
    write_gguf(
        path,
        [
            ("model.diffusion_model.input_blocks.0.0.weight", (3, 3, 4, 320), 0),  # a 3x3 conv: stays f32
            ("model.diffusion_model.attn.to_q.weight", (320, 320), 8),
            ("model.diffusion_model.attn.to_q.bias", (320,), 0),
            ("first_stage_model.decoder.conv_in.weight", (3, 3, 4, 512), 1),
            ("cond_stage_model.transformer.text_model.embeddings.token_embedding.weight", (768, 49408), 8),
            ("alphas_cumprod", (1000,), 0),
        ],
    )
    assert gguf_tensor_types(path) == {
        "diffusion_model": {"f32": 3 * 3 * 4 * 320 + 320, "q8_0": 320 * 320},
        "vae": {"f16": 3 * 3 * 4 * 512},
        "text_encoder": {"q8_0": 768 * 49408},
        "other": {"f32": 1000},
    }


def test_gguf_refuses_another_format(tmp_path):
    path = tmp_path / "m.safetensors"
    path.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{}")
    with pytest.raises(UserError, match="not a gguf file"):
        gguf_tensor_types(path)


def test_file_proof_names_the_file_and_its_head(tmp_path):
    model = tmp_path / "model-q8_0.gguf"
    body = bytes(range(256)) * 5000  # past the hashed first MB
    model.write_bytes(body)
    assert file_proof(model) == {
        "path": str(model),
        "bytes": len(body),
        "sha256_first_mb": hashlib.sha256(body[:HASHED_BYTES]).hexdigest(),
    }


def test_sd_cpp_log_lines_are_read():
    stat = "stable-diffusion.cpp:335  - Diffusion model weight type stat:      f32: 395  |    q8_0: 291"
    m = LOGGED["weight_stat"].search(stat)
    assert m.group(1) == "Diffusion model weight"
    assert parse_weight_stat(m.group(2)) == {"f32": 395, "q8_0": 291}
    lines = [
        "model.cpp:742  - using 2 threads for model loading",
        "stable-diffusion.cpp:3367 - generate_image 64x64",
        "denoiser.hpp:499  - get_sigmas with discrete scheduler",
        "stable-diffusion.cpp:2814 - sampling using DPM++ (2M) method",
        "stable-diffusion.cpp:3401 - generating image: 1/1 - seed 0",
        "stable-diffusion.cpp:3168 - get_learned_condition completed, taking 1.35s",
        "stable-diffusion.cpp:3212 - decode_first_stage completed, taking 2.81s",
    ]
    assert find_logged(lines, "sample_method").group(1) == "DPM++ (2M)"
    assert find_logged(lines, "schedule").group(1) == "discrete"
    assert find_logged(lines, "seed").group(1) == "0"
    assert find_logged(lines, "size").groups() == ("64", "64")
    assert find_logged(lines, "threads").group(1) == "2"
    assert find_logged(lines, "loaded") is None


def test_knobs_are_on_where_sd_cpp_logged_them():
    lines = [
        "stable-diffusion.cpp:545  - Using Conv2d direct in the diffusion model",
        "stable-diffusion.cpp:737  - Using flash attention in the diffusion model",
    ]
    assert knobs_logged(lines) == {
        "flash_attn": {"text_encoder_vae": False, "diffusion_model": True},
        "conv_direct": {"diffusion_model": True, "vae": False},
    }
    assert knobs_logged(["stable-diffusion.cpp:723  - Using flash attention"])["flash_attn"] == {
        "text_encoder_vae": True,
        "diffusion_model": False,
    }


def test_system_info_and_the_isa_the_build_lacks():
    info = parse_system_info("System Info: \n    SSE3 = 1 |     AVX = 1 |     AVX2 = 1 |     AVX512 = 0 |  F16C = 1 |")
    assert info == {"SSE3": True, "AVX": True, "AVX2": True, "AVX512": False, "F16C": True}
    assert isa_missing(info, {"avx", "avx2", "avx512f", "f16c"}) == ["AVX512"]
    assert isa_missing(info, {"avx", "avx2"}) == []
    # A feature the system info does not name (AVX512_BF16 here) is not judged.
    assert isa_missing(info, {"avx512_bf16"}) == []


def test_busy_threads_are_those_near_the_busiest():
    before = {1: 100, 2: 50, 3: 7, 4: 0}
    after = {1: 200, 2: 140, 3: 8, 4: 0, 5: 30}  # 5 started during the call
    assert busy_threads(before, after) == 3  # 100, 90 and 30 of 100: the socket's 1 tick is not work
    assert busy_threads(before, before) == 0


def test_staged_text_encoder_gets_the_text_model_prefix_and_keeps_its_tensors(tmp_path):
    src = tmp_path / "model"
    for rel in ("unet/diffusion_pytorch_model.safetensors", "vae/diffusion_pytorch_model.safetensors"):
        (src / rel).parent.mkdir(parents=True)
        (src / rel).write_bytes(b"weights")
    header = {
        "__metadata__": {"format": "pt"},
        "embeddings.token_embedding.weight": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
        "text_model.final_layer_norm.weight": {"dtype": "F32", "shape": [1], "data_offsets": [8, 12]},
    }
    blob = json.dumps(header).encode()
    data = struct.pack("<3f", 1.0, 2.0, 3.0)
    (src / "text_encoder").mkdir()
    (src / "text_encoder/model.safetensors").write_bytes(struct.pack("<Q", len(blob)) + blob + data)

    staged = tmp_path / "staged"
    assert stage_diffusers(src, staged) == 1
    assert (staged / "unet/diffusion_pytorch_model.safetensors").read_bytes() == b"weights"
    raw = (staged / "text_encoder/model.safetensors").read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    assert n % 8 == 0
    assert sorted(json.loads(raw[8 : 8 + n])) == [
        "__metadata__",
        "text_model.embeddings.token_embedding.weight",
        "text_model.final_layer_norm.weight",
    ]
    assert raw[8 + n :] == data

    (src / "vae/diffusion_pytorch_model.safetensors").unlink()
    with pytest.raises(UserError, match="no vae/diffusion_pytorch_model.safetensors"):
        stage_diffusers(src, tmp_path / "again")


def test_every_scenario_scheduler_has_an_sd_cpp_sampler():
    assert set(SAMPLERS) == set(SCHEDULERS)


def test_threads_default_to_the_launchers_and_no_option_splits_the_conversion(tmp_path, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert SdcppBackend({}, tmp_path).threads == 3
    assert SdcppBackend({"threads": 1}, tmp_path).threads == 1
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert SdcppBackend({}, tmp_path).threads is None  # sd.cpp's own default
    # One folder per model: each weight type is its own file in it.
    keys = {SdcppBackend(o, tmp_path).cache_key("/m") for o in ({}, {"weight_type": "f16"}, {"threads": 1})}
    assert len(keys) == 1


class _FakeLog:
    def __init__(self, lines, progress):
        self.lines, self.progress = lines, progress

    def mark(self):
        return 0

    def since(self, _mark):
        return self.lines


class _FakeBackend:
    def __init__(self, log):
        self.log = log

    def step_times(self):
        marks = self.log.progress
        return [b - a for a, b in zip(marks, marks[1:], strict=False)]


def test_timers_take_text_and_vae_from_the_log_and_steps_from_the_progress_marks():
    log = _FakeLog(
        [
            "get_learned_condition completed, taking 1.25s",
            "decode_first_stage completed, taking 2.50s",
        ],
        [10.0, 11.0, 13.0],
    )
    timers = SdcppTimers(_FakeBackend(log))
    timers.start()
    out = timers.result(7.0)
    assert out == {
        "text_encoding_s": 1.25,
        "unet_s": 3.0,
        "vae_decode_s": 2.5,
        "safety_checker_s": 0.0,
        "unet_steps_s": [1.0, 2.0],
        "rest_s": pytest.approx(0.25),
    }
    assert timers.missing == ["safety_checker"]


def test_explain_says_in_one_line_what_sdcpp_cannot_time(tmp_path):
    with pytest.raises(UserError) as e:
        SdcppBackend({}, tmp_path).explain({})
    message = str(e.value)
    assert message.startswith("sdcpp cannot profile a UNet call: stable-diffusion.cpp (stable-diffusion-cpp-python ")
    assert "one ggml graph on the CPU backend, which times no op" in message
    assert "only whole sampling steps are timed (the run's unet_steps_s)" in message
    assert "\n" not in message
