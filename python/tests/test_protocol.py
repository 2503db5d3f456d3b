import os
import subprocess
import sys
import time
from pathlib import Path

import msgpack
import pytest
import zmq

from ladder_worker import probe, protocol
from ladder_worker.protocol import ProtocolError, message

PYTHON_DIR = Path(__file__).resolve().parents[1]


def test_round_trip_and_version():
    data = protocol.encode(message("progress", job="bench-1", stage="pass", index=1, total=3, seconds=0.5))
    assert protocol.decode(data, "worker")["seconds"] == 0.5
    with pytest.raises(ProtocolError, match="protocol version"):
        protocol.decode(msgpack.packb({"v": 99, "type": "shutdown"}), "controller")


def test_rejects_wrong_sender_missing_and_mistyped_fields():
    with pytest.raises(ProtocolError, match="may not be sent by the worker"):
        protocol.encode(message("load", job="j", model="m", cache_dir="/c", backend="torch", options={}, scenario={}))
    with pytest.raises(ProtocolError, match="missing field 'result'"):
        protocol.encode(message("done", job="j"))
    with pytest.raises(ProtocolError, match="expected int"):
        protocol.encode(message("progress", job="j", stage="pass", index="1"))
    with pytest.raises(ProtocolError, match="unknown message type"):
        protocol.encode(message("launch_missiles"))
    with pytest.raises(ProtocolError, match="undecodable"):
        protocol.decode(b"\xc1", "controller")


def test_load_carries_the_scenario():
    load = dict(job="j", model="none", cache_dir="/c", backend="sleep", options={"pass_s": 0.1})
    assert protocol.VERSION == protocol.WIRE["version"] == 3
    msg = protocol.decode(protocol.encode(message("load", **load, scenario={"height": 64}), "controller"), "controller")
    assert msg["scenario"] == {"height": 64} and msg["options"] == {"pass_s": 0.1}
    with pytest.raises(ProtocolError, match="missing field 'scenario'"):
        protocol.validate(message("load", **load), "controller")
    with pytest.raises(ProtocolError, match="expected map"):
        protocol.validate(message("load", **load, scenario=[64, 64]), "controller")
    with pytest.raises(ProtocolError, match="protocol version 2, expected 3"):
        protocol.validate({**message("load", **load, scenario={}), "v": 2}, "controller")


def test_roofline_repeats_and_the_probe_job():
    roof = dict(job="r", scenario={}, peaks=["fp32"])
    assert protocol.validate(message("roofline", **roof), "controller")  # repeats is optional
    assert protocol.validate(message("roofline", **roof, repeats=5), "controller")["repeats"] == 5
    with pytest.raises(ProtocolError, match="roofline.repeats: expected int"):
        protocol.validate(message("roofline", **roof, repeats=2.5), "controller")
    probe_job = dict(job="p", dtypes=["fp32", "bf16"], seconds=1, repeats=3, label="start")
    assert protocol.validate(message("probe", **probe_job), "controller")  # options is optional; seconds may be int
    assert protocol.validate(message("probe", **probe_job, options={"probe_gflops": 5.0}), "controller")
    for missing in ("dtypes", "seconds", "repeats", "label"):
        with pytest.raises(ProtocolError, match=f"missing field '{missing}'"):
            protocol.validate(message("probe", **{k: v for k, v in probe_job.items() if k != missing}), "controller")
    with pytest.raises(ProtocolError, match="may not be sent by the worker"):
        protocol.encode(message("probe", **probe_job))


MEASURED_ENV = (
    "^(LD_.*|MALLOC_.*|GLIBC_TUNABLES|PYTHONMALLOC|TCMALLOC_.*|JE_.*|OMP_.*|KMP_.*|GOMP_.*|"
    "MKL_.*|OPENBLAS_.*|DNNL_.*|ONEDNN_.*|ATEN_.*|TORCH.*|PYTORCH_.*|ZENDNN_.*|OV_.*|TBB_.*|LADDER_.*)$"
)


def test_measured_env_is_defined_once_in_the_wire_file():
    assert protocol.WIRE["measured_env"] == MEASURED_ENV
    assert protocol.MEASURED_ENV.pattern == MEASURED_ENV
    assert "`measured_env` matches the environment variables that change what is measured" in protocol.WIRE["$comment"]


MEASURED = {
    "LD_PRELOAD": "/usr/lib/libjemalloc.so.2",
    "LD_LIBRARY_PATH": "/opt/lib",
    "LD_AUDIT": "/tmp/audit.so",
    "LD_BIND_NOW": "1",
    "ZENDNN_MATMUL_ALGO": "FP32:4",
    "PYTORCH_TUNABLEOP_ENABLED": "1",
    "MALLOC_CONF": "oversize_threshold:1",
    "MALLOC_ARENA_MAX": "2",
    "GLIBC_TUNABLES": "glibc.malloc.hugetlb=1",
    "PYTHONMALLOC": "malloc",
    "TCMALLOC_RELEASE_RATE": "0",
    "JE_MALLOC_CONF": "x",
    "OMP_NUM_THREADS": "2",
    "KMP_AFFINITY": "granularity=fine",
    "GOMP_SPINCOUNT": "0",
    "MKL_ENABLE_INSTRUCTIONS": "AVX2",
    "OPENBLAS_NUM_THREADS": "1",
    "DNNL_MAX_CPU_ISA": "AVX2",
    "ONEDNN_VERBOSE": "0",
    "ATEN_CPU_CAPABILITY": "avx2",
    "TORCH_COMPILE_DEBUG": "0",
    "TORCHINDUCTOR_FREEZING": "1",
    "OV_CPU_CAPABILITY": "x",
    "LADDER_TEST_VAR": "1",
}
NOT_MEASURED = {
    "XLD_PRELOAD": "x",
    "OLD_PRELOAD": "x",
    "XOMP_NUM_THREADS": "1",
    "PYTHONMALLOCSTATS": "1",
    "OVERLAY": "1",
    "DNNL": "x",
}


def test_hello_env_reports_every_measured_variable_and_nothing_else(monkeypatch):
    for name in list(os.environ):
        if protocol.MEASURED_ENV.fullmatch(name):
            monkeypatch.delenv(name)
    for name, value in {**MEASURED, **NOT_MEASURED}.items():
        monkeypatch.setenv(name, value)
    assert probe.hello_fields("t")["env"] == MEASURED


def test_hello_fields_are_valid_and_report_real_process_state():
    msg = message("hello", **probe.hello_fields("t"))
    protocol.validate(msg, "worker")
    assert msg["pid"] == os.getpid()
    assert msg["allocator"]["name"] in ("default", "jemalloc", "tcmalloc", "mimalloc")
    assert msg["cpu"]["logical_cpus"] >= 1


def _start_worker(endpoint, *extra):
    env = {**os.environ, "PYTHONPATH": str(PYTHON_DIR)}
    return subprocess.Popen(
        [sys.executable, "-m", "ladder_worker", "--endpoint", endpoint, "--rung", "pytest", *extra],
        env=env,
        stderr=subprocess.PIPE,
    )


def test_worker_says_hello_and_exits_on_shutdown(tmp_path):
    ctx = zmq.Context.instance()
    router = ctx.socket(zmq.ROUTER)
    endpoint = f"ipc://{tmp_path}/ctl.sock"
    router.bind(endpoint)
    proc = _start_worker(endpoint)
    try:
        assert router.poll(120_000), "no hello"
        ident, data = router.recv_multipart()
        hello = protocol.decode(data, "worker")
        assert hello["type"] == "hello" and hello["pid"] == proc.pid and hello["rung"] == "pytest"
        assert "torch" in hello["packages"] and hello["threads"]["torch_intra_op"] >= 1
        router.send_multipart([ident, protocol.encode(message("shutdown"), "controller")])
        types = []
        deadline = time.monotonic() + 20
        while "bye" not in types and time.monotonic() < deadline:
            if router.poll(1000):
                types.append(protocol.decode(router.recv_multipart()[1], "worker")["type"])
        assert "bye" in types
        assert proc.wait(timeout=20) == 0
    finally:
        proc.kill()
        router.close(0)


def test_worker_exits_when_controller_goes_silent(tmp_path):
    ctx = zmq.Context.instance()
    router = ctx.socket(zmq.ROUTER)
    endpoint = f"ipc://{tmp_path}/ctl.sock"
    router.bind(endpoint)
    proc = _start_worker(endpoint, "--controller-timeout", "2")
    try:
        assert router.poll(120_000), "no hello"
        router.recv_multipart()  # hello; we never answer, not even a heartbeat
        assert proc.wait(timeout=30) == 3
        assert b"controller silent" in proc.stderr.read()
    finally:
        proc.kill()
        router.close(0)
