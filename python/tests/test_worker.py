"""The worker process end to end, driven like the controller does, on the sleep backend (no model)."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import zmq

from ladder_worker import backends, protocol
from ladder_worker.protocol import message

PYTHON_DIR = Path(__file__).resolve().parents[1]
LOAD_KEYS = {
    "model",
    "effective",
    "timings",
    "startup_s",
    "resolve_s",
    "load_s",
    "threads",
    "allocator",
    "peak_rss_bytes",
    "job_s",
}
SCENARIO = {"steps": 2, "warmup_steps": 1, "passes": 2, "height": 16, "width": 16}


class Controller:
    """A ROUTER socket and one worker process, as src/worker/session.ts has them."""

    def __init__(self, tmp_path, *extra):
        self.router = zmq.Context.instance().socket(zmq.ROUTER)
        endpoint = f"ipc://{tmp_path}/ctl.sock"
        self.router.bind(endpoint)
        env = {**os.environ, "PYTHONPATH": str(PYTHON_DIR)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ladder_worker", "--endpoint", endpoint, "--rung", "t", *extra],
            env=env,
            stderr=subprocess.PIPE,
        )
        self.cache_dir = str(tmp_path / "cache")
        self.jobs = 0
        assert self.router.poll(120_000), "no hello"
        self.ident, data = self.router.recv_multipart()
        assert protocol.decode(data, "worker")["type"] == "hello"

    def recv(self, timeout_s: float):
        if not self.router.poll(timeout_s * 1000):
            return None
        return protocol.decode(self.router.recv_multipart()[1], "worker")

    def send(self, type_: str, **fields) -> None:
        self.router.send_multipart([self.ident, protocol.encode(message(type_, **fields), "controller")])

    def job(self, type_: str, **fields) -> tuple[str, dict]:
        self.jobs += 1
        job = f"{type_}-{self.jobs}"
        self.send(type_, job=job, **fields)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            msg = self.recv(1)
            if msg and msg["type"] in ("done", "failed"):
                assert msg["job"] == job
                return job, msg
        raise AssertionError(f"{job}: no answer")

    def load(self, backend: str, model: str = "none", **options) -> dict:
        return self.job(
            "load", model=model, cache_dir=self.cache_dir, backend=backend, options=options, scenario=SCENARIO
        )[1]

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()
        self.router.close(0)


@pytest.fixture
def ctl(tmp_path):
    c = Controller(tmp_path)
    yield c
    c.close()


def test_load_bench_and_faults_on_the_sleep_backend(ctl):
    failed = ctl.load("nope")
    assert failed["type"] == "failed" and failed["user_error"] is True
    assert f"known: {', '.join(backends.known())}" in failed["error"]
    failed = ctl.load("torch")  # model "none" is for backends that need no model
    assert failed["type"] == "failed" and failed["user_error"] is True and "needs a model" in failed["error"]
    failed = ctl.load("sleep", model="synthetic:nope")  # a model error stays a user error
    assert failed["type"] == "failed" and failed["user_error"] is True and failed["error_type"] == "ModelError"
    failed = ctl.load("sleep", fault="explode")
    assert failed["type"] == "failed" and failed["user_error"] is True and "fault" in failed["error"]

    done = ctl.load("sleep", series=[0.02, 0.03], dtype="bf16", fault="deadlock", fault_at_pass=3)
    assert done["type"] == "done", done.get("traceback")
    result = done["result"]
    assert set(result) == LOAD_KEYS
    assert result["model"]["spec"] == "none" and result["model"]["real_weights"] is False
    assert result["timings"] == {"scripted_load_s": 0.0}
    eff = result["effective"]
    assert eff["backend"] == "sleep" and eff["scheduler"] == "PNDMScheduler" and eff["sleep"]["dtype"] == "bf16"

    _, done = ctl.job("bench", scenario=SCENARIO)
    assert done["type"] == "done", done.get("traceback")
    assert done["result"]["samples_s"] == [0.02, 0.03]
    assert done["result"]["runtime"]["autocast_dtype"] == "bfloat16"

    _, failed = ctl.job("roofline", scenario=SCENARIO, peaks=["fp32"])
    assert failed["type"] == "failed" and failed["user_error"] and "PyTorch pipeline" in failed["error"]

    # Pass 3 deadlocks the main thread: the I/O thread keeps beating, busy with the job, and no answer comes.
    ctl.send("bench", job="stuck", scenario=SCENARIO)
    seen = []
    deadline = time.monotonic() + 3.5
    while time.monotonic() < deadline:
        msg = ctl.recv(0.5)
        if msg:
            seen.append(msg)
    assert not [m for m in seen if m["type"] in ("done", "failed")]
    assert len([m for m in seen if m["type"] == "heartbeat" and m.get("busy") == "bench stuck"]) >= 2
    assert ctl.proc.poll() is None


@pytest.fixture
def sleep_ctl(tmp_path):
    """A worker started for the sleep backend (it imports no torch), as the controller starts one."""
    c = Controller(tmp_path, "--backend", "sleep")
    yield c
    c.close()


def stuck_bench(ctl, seconds: float) -> list[dict]:
    """Send a bench whose first timed pass blocks the main thread; everything heard for `seconds`."""
    ctl.send("bench", job="stuck", scenario=SCENARIO)
    seen = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        msg = ctl.recv(0.25)
        if msg:
            seen.append(msg)
    return seen


@pytest.mark.parametrize("fault", ["hang", "deadlock"])
def test_a_blocked_main_thread_keeps_beating_busy_with_its_job(sleep_ctl, fault):
    """The controller's job deadline is what catches these: heartbeats alone never stop."""
    done = sleep_ctl.load("sleep", fault=fault, fault_at_pass=1, pass_s=0.01)
    assert done["type"] == "done", done.get("traceback")
    seen = stuck_bench(sleep_ctl, 4.5)
    assert [m["type"] for m in seen if m["type"] in ("done", "failed")] == []
    beats = [m for m in seen if m["type"] == "heartbeat"]
    assert len(beats) >= 3 and all(m.get("busy") == "bench stuck" for m in beats)
    assert sleep_ctl.proc.poll() is None
    assert f"scripted fault '{fault}' at pass 1".encode() in os.read(sleep_ctl.proc.stderr.fileno(), 65536)


def test_probe_job_is_answered_by_the_backend_the_worker_started_with(sleep_ctl):
    options = {"probe_gflops": 500.0, "machine_drift": 0.1}
    _, done = sleep_ctl.job("probe", dtypes=["fp32", "bf16"], seconds=30.0, repeats=2, label="start", options=options)
    assert done["type"] == "done", done.get("traceback")  # no model loaded, and no 30-second wait
    result = done["result"]
    assert set(result) == {"gflops", "probes", "seconds", "job_s"} and result["job_s"] < 5
    assert result["gflops"] == {"fp32": 500.0, "bf16": 500.0} and result["seconds"] == 0.0
    assert result["probes"] == {"fp32": [500.0, 500.0], "bf16": [500.0, 500.0]}
    _, done = sleep_ctl.job("probe", dtypes=["fp32"], seconds=30.0, repeats=1, label="end", options=options)
    assert done["result"]["gflops"] == {"fp32": 450.0}
    _, done = sleep_ctl.job("probe", dtypes=["fp32"], seconds=1.0, repeats=1, label="end")  # options are optional
    assert done["result"]["gflops"] == {"fp32": 1000.0}
    _, failed = sleep_ctl.job("probe", dtypes=["fp64"], seconds=1.0, repeats=1, label="start")
    assert failed["type"] == "failed" and failed["user_error"] is True and "fp64" in failed["error"]


def test_probe_job_without_backend_is_a_torch_matmul_probe(ctl):
    _, done = ctl.job("probe", dtypes=["fp32"], seconds=0.05, repeats=2, label="start")
    assert done["type"] == "done", done.get("traceback")
    result = done["result"]
    assert len(result["probes"]["fp32"]) == 2 and result["gflops"]["fp32"] == max(result["probes"]["fp32"]) > 0
    assert result["seconds"] >= 0.1


def test_an_allocation_failure_under_an_address_space_limit_reads_as_out_of_memory():
    # Hardening II: a real OOM under memory_limit_bytes in a torch rung read "could not create a primitive".
    from ladder_worker.errors import is_out_of_memory

    onednn = RuntimeError("could not create a primitive")
    assert is_out_of_memory(onednn, limit=2**30)
    assert is_out_of_memory(
        RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 8 GB"), 2**30
    )
    assert is_out_of_memory(MemoryError(), limit=0)
    # Without a limit the same words are a library's own failure, reported as such.
    assert not is_out_of_memory(onednn, limit=0)
    assert not is_out_of_memory(RuntimeError("shape mismatch"), limit=2**30)
