"""Worker entry point: `python -m ladder_worker --endpoint ipc://... --rung NAME`.

Started by the controller in a fresh process per rung, with the rung's environment (allocator
preload, MALLOC_CONF, threads) already set, so everything measured here runs under it.
"""

import argparse
import ctypes
import os
import signal
import sys
import time
import traceback

PR_SET_PDEATHSIG = 1
# The model of a load job whose model is "none" (backends that need no model, such as sleep).
NO_MODEL = {
    "spec": "none",
    "kind": "none",
    "name": "none",
    "path": "",
    "real_weights": False,
    "built": False,
    "note": "no model (sleep backend)",
}


def die_with_parent() -> None:
    # If the controller is killed outright (SIGKILL, crash) the kernel sends us SIGTERM at once;
    # heartbeats would notice too, but only after the timeout.
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass
    if os.getppid() == 1:
        sys.exit(3)


def main() -> int:
    parser = argparse.ArgumentParser(prog="ladder_worker")
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--rung", default="adhoc")
    parser.add_argument("--backend", help="import this backend before saying hello (its libraries, e.g. torch)")
    parser.add_argument(
        "--controller-timeout", type=float, default=float(os.environ.get("LADDER_CONTROLLER_TIMEOUT", "30"))
    )
    args = parser.parse_args()
    die_with_parent()
    started = time.perf_counter()

    # Import the rung's backend (and so its heavy stack) before saying hello, so hello reports torch's
    # real thread settings and an import failure is reported as the worker failing to start. A backend
    # that needs no torch (the sleep mock) starts in a fraction of the time.
    from . import backends, models, probe, scenario

    if args.backend:
        backends.get_class(args.backend)
    else:
        import torch  # noqa: F401

    from .channel import Channel
    from .errors import UserError, is_out_of_memory
    from .protocol import message

    chan = Channel(args.endpoint, args.controller_timeout)
    chan.send(message("hello", **probe.hello_fields(args.rung)))

    def reporter(job: str):
        def progress(**fields):
            chan.send(message("progress", job=job, **{k: v for k, v in fields.items() if v is not None}))

        return progress

    backend = None
    while True:
        msg = chan.recv()
        received = time.perf_counter()
        kind, job = msg["type"], msg.get("job", "")
        if kind == "shutdown":
            chan.send(message("bye"))
            chan.close()
            return 0
        chan.set_busy(f"{kind} {job}")

        progress = reporter(job)

        try:
            if kind == "load":
                t0 = time.perf_counter()
                backend = None  # a failed load leaves no half-loaded backend behind
                loading = backends.get(msg["backend"], msg["options"], msg["cache_dir"])
                if msg["model"] == "none":
                    if loading.needs_model:
                        raise UserError(f"backend {loading.name!r} needs a model: model 'none' is for mock backends")
                    info = dict(NO_MODEL)
                else:
                    info = models.resolve_model(msg["model"], msg["cache_dir"])
                progress(stage="model", message=info["note"], seconds=time.perf_counter() - t0)
                t1 = time.perf_counter()
                loading.load(info, {**scenario.DEFAULTS, **msg["scenario"]})
                effective = loading.effective()
                backend = loading
                result = {
                    "model": info,
                    "effective": effective,
                    "timings": dict(backend.timings),
                    "startup_s": t0 - started,
                    "resolve_s": t1 - t0,
                    "load_s": time.perf_counter() - t1,
                    "threads": probe.threads(),
                    "allocator": probe.allocator(),
                    "peak_rss_bytes": probe.peak_rss_bytes(),
                }
            elif kind == "bench":
                if backend is None:
                    raise UserError("bench before load: no pipeline loaded")
                result = scenario.run(backend, msg["scenario"], progress)
                result["peak_rss_bytes"] = probe.peak_rss_bytes()
            elif kind == "roofline":
                pipe = backend.roofline_pipe() if backend is not None else None
                if pipe is None or not hasattr(pipe, "unet"):
                    raise UserError("roofline needs a PyTorch pipeline loaded first")
                from . import roofline

                result = roofline.job(pipe, {**scenario.DEFAULTS, **msg["scenario"]}, msg["peaks"], msg.get("repeats"))
            elif kind == "explain":
                if backend is None:
                    raise UserError("explain before load: no pipeline loaded")
                result = backend.explain({**scenario.DEFAULTS, **msg["scenario"]})
            elif kind == "probe":
                # No model needed: the class of the backend the worker was started with answers.
                cls = backends.get_class(args.backend or "torch")
                result = cls.probe(msg["dtypes"], msg["seconds"], msg["repeats"], msg["label"], msg.get("options"))
            else:
                raise UserError(f"unexpected job type {kind!r}")
            # The worker's own time for the job: the controller compares it with its own to show its overhead.
            result["job_s"] = time.perf_counter() - received
            chan.send(message("done", job=job, result=result))
        except Exception as exc:  # report, don't die: the controller decides what to do
            user = isinstance(exc, (UserError, models.ModelError))
            # An allocation failing under memory_limit_bytes says "out of memory", whatever library raised it.
            oom = is_out_of_memory(exc)
            chan.send(
                message(
                    "failed",
                    job=job,
                    error=str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
                    error_type="MemoryError" if oom else type(exc).__name__,
                    user_error=user,
                    traceback=traceback.format_exc(),
                    peak_rss_bytes=probe.peak_rss_bytes(),  # how far it got, for an out-of-memory error
                )
            )
        finally:
            chan.set_busy(None)


if __name__ == "__main__":
    sys.exit(main())
