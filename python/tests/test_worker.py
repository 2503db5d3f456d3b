"""The worker process end to end, driven like the controller does, on the sleep backend (no model)."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import zmq

from ladder_worker import protocol
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

    def __init__(self, tmp_path):
        self.router = zmq.Context.instance().socket(zmq.ROUTER)
        endpoint = f"ipc://{tmp_path}/ctl.sock"
        self.router.bind(endpoint)
        env = {**os.environ, "PYTHONPATH": str(PYTHON_DIR)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ladder_worker", "--endpoint", endpoint, "--rung", "t"],
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
    assert "known: ipex, openvino, sleep, torch" in failed["error"]
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
