"""What is measured: the article's protocol. One warm-up call, then timed passes, each timed here
with the backend's clock (a monotonic clock for real backends) so controller and socket latency never
enter a sample. Every pass starts from the same initial latents (made from the seed with numpy, so
every backend gets identical ones), and the last pass's image is saved for the quality guard."""

import contextlib
import os
import time
from pathlib import Path

import numpy as np

from . import probe
from .protocol import shared_file

PROGRESS_INTERVAL_S = 1.0

# protocol/scenario.json: shared with the controller (scheduler names, the article's scenario).
SHARED = shared_file("scenario.json", "LADDER_SCENARIO")
# A rung's `scheduler` option -> the diffusers class swapped in (None: the model folder's own).
SCHEDULERS: dict[str, str | None] = SHARED["schedulers"]
# The article's scenario. min_time_s/max_passes: keep passing until this much time was measured too
# (hyperfine/MLPerf style), up to max_passes.
DEFAULTS = {**SHARED["article_scenario"], "image_path": None}


def wait_at_barrier(barrier: dict) -> float:
    """Marks this process ready in barrier["dir"], then waits until `parties` processes are; returns the
    seconds waited. A peer that dies is the controller's to notice: it kills every instance of the rung."""
    folder = Path(barrier["dir"])
    (folder / f"{os.getpid()}.ready").touch()
    t0 = time.perf_counter()
    while sum(1 for p in folder.iterdir() if p.suffix == ".ready") < barrier["parties"]:
        time.sleep(0.001)
    return time.perf_counter() - t0


def call_args(backend, sc: dict) -> dict:
    """The arguments of every generate() call of a scenario but its steps and seed: the same in the warm-up,
    the passes and the call `ladder explain` profiles."""
    return dict(
        prompt=sc["prompt"],
        height=sc["height"],
        width=sc["width"],
        latents=backend.initial_latents(sc["seed"], sc["height"], sc["width"]),
        guidance_scale=sc["guidance_scale"],
        output_type=sc["output_type"],
    )


def run(backend, scenario: dict, progress) -> dict:
    sc = {**DEFAULTS, **scenario}
    clock = backend.clock
    call = call_args(backend, sc)
    # The first call (warm-up, or the first pass without one) also proves the runtime toggles:
    # the dtype the UNet really computes in.
    timers = backend.timers()
    runtime = None
    t0 = clock()
    if sc["warmup_steps"] > 0:
        with backend.observe() as runtime:
            backend.generate(num_inference_steps=sc["warmup_steps"], seed=sc["seed"], **call)
    warmup_s = clock() - t0
    backend.warmed_up()
    # Instances of one rung start their timed passes together, whatever their warm-ups took: their
    # images/s is counted over the window in which all of them ran. Waiting here, before the warm-up's
    # progress message, keeps the wait out of the deadline the controller derives from that message.
    barrier_wait_s = wait_at_barrier(sc["barrier"]) if sc.get("barrier") else None
    progress(stage="warmup", seconds=warmup_s, message=f"warm-up ({sc['warmup_steps']} steps)")
    samples, components = [], []
    # Each pass's [start, end] on CLOCK_MONOTONIC, which every process of the machine shares: the
    # controller finds the window in which several instances ran at once (throughput).
    windows = []
    # Progress messages are paced in wall time: they are about waking the controller, not measuring.
    unsent, last_sent = [], time.perf_counter()

    service0 = probe.service_cpu_s()

    def more() -> bool:
        return len(samples) < sc["passes"] or (sum(samples) < sc["min_time_s"] and len(samples) < sc["max_passes"])

    while more():
        with backend.observe() if runtime is None else contextlib.nullcontext(runtime) as runtime:
            timers.start()
            w0 = time.clock_gettime(time.CLOCK_MONOTONIC)
            t0 = clock()
            images = backend.generate(num_inference_steps=sc["steps"], seed=sc["seed"], **call)
            samples.append(clock() - t0)
            windows.append([w0, time.clock_gettime(time.CLOCK_MONOTONIC)])
        components.append(timers.result(samples[-1]))
        unsent.append(samples[-1])
        # At most one message a second: every message wakes the controller while we measure.
        if time.perf_counter() - last_sent >= PROGRESS_INTERVAL_S or not more():
            progress(stage="pass", index=len(samples), total=sc["passes"], seconds=samples[-1], samples=unsent)
            unsent, last_sent = [], time.perf_counter()
    service1 = probe.service_cpu_s()
    if sc["image_path"]:
        np.save(sc["image_path"], np.asarray(images[0], dtype=np.float32))
    return {
        "samples_s": samples,
        "windows": windows,
        "components": components,
        "components_missing": timers.missing,
        "runtime": runtime,
        "warmup_s": warmup_s,
        "barrier_wait_s": barrier_wait_s,
        # CPU seconds the worker's socket and libzmq threads ran during the timed passes (None: unknown).
        "service_cpu_s": None if service0 is None or service1 is None else service1 - service0,
        "scenario": {k: v for k, v in sc.items() if k not in ("image_path", "barrier")},
        "image_shape": list(getattr(images, "shape", [])),
    }
