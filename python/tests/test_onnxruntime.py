"""The ONNX Runtime backend's pure parts (its module imports without onnxruntime: that lives in its own env)."""

import hashlib

from ladder_worker.backends.onnxruntime import HASHED_BYTES, OnnxRuntimeBackend, file_proof, integer_ops


def test_one_export_serves_every_option(tmp_path):
    # The int8 UNet is derived from the fp32 export and cached beside it: no option splits the export.
    keys = {
        OnnxRuntimeBackend(o, tmp_path).cache_key("/m")
        for o in ({}, {"precision": "int8"}, {"intra_op_threads": 1, "graph_optimization": "basic"})
    }
    assert len(keys) == 1


def test_threads_default_to_the_launchers(tmp_path, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert OnnxRuntimeBackend({}, tmp_path).threads == 3
    assert OnnxRuntimeBackend({"intra_op_threads": 1}, tmp_path).threads == 1
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert OnnxRuntimeBackend({}, tmp_path).threads is None  # ONNX Runtime's own default


def test_file_proof_names_the_file_its_folder_and_its_head(tmp_path):
    model = tmp_path / "model.onnx"
    body = b"\x08\x07" + bytes(range(256)) * 5000  # past the hashed first MB
    model.write_bytes(body)
    (tmp_path / "weight_0").write_bytes(b"w" * 10)  # external data beside it
    (tmp_path / "ladder_int8.json").write_text("{}")  # a marker is not the model
    proof = file_proof(model)
    assert proof == {
        "path": str(model),
        "bytes": len(body),
        "folder_bytes": len(body) + 10,
        "sha256_first_mb": hashlib.sha256(body[:HASHED_BYTES]).hexdigest(),
    }


def test_integer_ops_count_only_what_dynamic_quantization_adds():
    ops = {"ConvInteger": 2, "MatMulInteger": 3, "DynamicQuantizeLinear": 5, "Conv": 7, "MatMul": 1}
    assert integer_ops(ops) == 10
    assert integer_ops({"Conv": 7}) == 0
