"""A mock backend for fast, deterministic tests of everything around a backend: the worker, the socket,
the controller's proofs, statistics and verdicts. No pipeline and no model: each pass sleeps a scripted
time and reports it through a virtual clock, so the measured sample is exactly the scripted value.

Options (all optional; types, limits and defaults are protocol/options.json's, generated from
src/backends/sleep.ts, which the controller applies too):
  pass_s [0.05]          seconds each timed pass takes
  series [[]]            when not empty, timed pass i (0-based, counted over the process) takes series[i % len]
  process_noise [0.0]    relative sd of a lognormal level factor drawn once per process, applied to every pass
  pass_noise [0.0]       relative sd of a lognormal factor drawn for each timed pass
  noise_seed [0]         seed of the numpy generator both noises are drawn from (process factor first)
  load_s [0.0]           seconds the load takes
  dtype ['fp32']         'fp32' | 'bf16': the dtype it claims to compute in (observe(): autocast/UNet output dtype)
  broken_toggle [False]  report the other dtype than asked (a toggle that did not take effect)
  image ['seeded']       'seeded' | 'nan' | 'inf': a (1, H, W, 3) array in [0, 1] drawn from the seed;
                         'nan'/'inf' put NaN/Inf in its first pixel
  image_noise [0.0]      sd of seeded Gaussian noise added (unclipped) to the image: PSNR against the clean
                         image is about -20*log10(image_noise) dB
  fault ['none']         'none' | 'raise' | 'exit' | 'kill' | 'hang' | 'deadlock' | 'oom', at timed pass
  fault_at_pass [1]      (1-based, counted over the process): raise RuntimeError, os._exit(7), SIGKILL itself,
                         sleep forever, block the main thread on a lock it holds (both while the I/O thread
                         keeps beating), or allocate memory until killed (bounded to 64 GiB, then MemoryError)
  scheduler ['default']  reported as the scheduler class of protocol/scenario.json (PNDMScheduler for default)
  probe_gflops [1000.0]  the probe job's answer (GFLOP/s, > 0) for every dtype and every repeat at label 'start'
  machine_drift [0.0]    relative slow-down of the machine over the run (< 1; negative: faster): the probe job
                         answers probe_gflops * (1 - machine_drift) at label 'end'. The probe sleeps 0 seconds.
  drift [[]]             a scripted machine: [[t, factor], ...] (t ascending, in virtual seconds since the run
                         began; two points at one t make a step), piecewise linear, flat beyond its ends. Every
                         warm-up and pass takes its time times the factor at the moment it starts, and the probe
                         at label 'round' answers probe_gflops / factor.
  drift_clock ['']       the file holding those virtual seconds, shared by every worker of the run (needed with
                         drift): each call adds its time to it. Workers of a run never overlap, so the clock, and
                         every time drawn from it, is the same on every run of the same script.
  explain [True]         the explain job answers a scripted profile; False: it fails as a backend without a
                         profiler does

Process noise is drawn from noise_seed in the first round of an interleaved run and from
(noise_seed, round) in later ones: every round's worker lands at its own level.

The warm-up is the call not preceded by timers().start(): it takes pass_s times the process factor and
consumes neither the series nor a pass-noise draw.
"""

import contextlib
import itertools
import math
import os
import signal
import sys
import threading
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..errors import UserError
from ..options import resolve
from .base import Backend, check_probe, seeded_latents

# Every option's type, limits and default: protocol/options.json (from src/backends/sleep.ts).
DEFAULTS = resolve("sleep", {})
DTYPES = {"fp32": "float32", "bf16": "bfloat16"}
DEFAULT_SCHEDULER = "PNDMScheduler"  # what SD 1.5's model folder has
OOM_LIMIT_BYTES = 64 << 30
OOM_CHUNK_BYTES = 64 << 20
# Shares of a pass reported per component (the UNet's share split evenly over the steps).
SHARES = {"text_encoding_s": 0.05, "unet_s": 0.80, "vae_decode_s": 0.10, "safety_checker_s": 0.05}


def check_options(options: dict) -> dict:
    """The options checked against the schema, defaults applied, and what a JSON Schema cannot say: a
    drift's times ascending, and the clock file every worker of the run shares. UserError names the first."""
    o = resolve("sleep", options)
    o["series"] = list(o["series"])
    drift = [list(p) for p in o["drift"]]
    if any(a[0] > b[0] for a, b in itertools.pairwise(drift)):
        raise UserError(f"sleep backend: drift must be a list of [t, factor > 0] with t ascending, got {drift!r}")
    o["drift"] = drift
    if drift and not o["drift_clock"]:
        raise UserError("sleep backend: drift needs drift_clock, the file every worker of the run shares")
    return o


def drift_factor(drift: list, t: float) -> float:
    """The scripted machine's slow-down at virtual time t: piecewise linear through the points, flat beyond."""
    if not drift:
        return 1.0
    if t < drift[0][0]:
        return float(drift[0][1])
    for (t0, f0), (t1, f1) in itertools.pairwise(drift):
        if t0 <= t < t1:
            return float(f0 + (f1 - f0) * (t - t0) / (t1 - t0))
    return float(drift[-1][1])


def read_clock(path: str) -> float:
    try:
        return float(Path(path).read_text() or 0)
    except FileNotFoundError:
        return 0.0


def lognormal_factor(rng: np.random.Generator, relative_sd: float) -> float:
    """A factor of mean 1 and the given relative sd (exactly 1.0 when it is 0)."""
    sigma = math.sqrt(math.log1p(relative_sd**2))
    return float(rng.lognormal(-(sigma**2) / 2, sigma))


class VirtualTime(float):
    """A reading of the virtual clock: a float whose difference with another reading is exact
    (kept as a Fraction), so a pass measured with it is exactly its scripted time."""

    def __new__(cls, exact: Fraction):
        reading = super().__new__(cls, float(exact))
        reading.exact = exact
        return reading

    def __sub__(self, other):
        if isinstance(other, VirtualTime):
            return float(self.exact - other.exact)
        return float(self) - other


class ScriptedTimers:
    """Components of a pass in timing.Breakdown's format, as fixed shares of the scripted pass."""

    def __init__(self, backend: "SleepBackend"):
        self.backend = backend
        self.missing: list[str] = []

    def start(self) -> None:
        self.backend._timed_next = True

    def result(self, pass_s: float) -> dict:
        steps = max(1, self.backend._last_steps)
        out = {key: pass_s * share for key, share in SHARES.items()}
        out["unet_steps_s"] = [out["unet_s"] / steps] * steps
        out["rest_s"] = 0.0
        return out


class SleepBackend(Backend):
    name = "sleep"
    libraries = ("numpy",)
    needs_model = False

    def __init__(self, options: dict, cache_dir):
        super().__init__(options, cache_dir)
        self.opts = check_options(self.options)
        self.scheduler = self.scheduler_class() or DEFAULT_SCHEDULER
        self.rng = np.random.default_rng(self.opts["noise_seed"])
        self.process_factor = lognormal_factor(self.rng, self.opts["process_noise"])
        self.drift = self.opts["drift"]
        self.passes = 0  # timed passes so far, over the life of the process
        self._now = Fraction(0)
        self._timed_next = False
        self._last_steps = 1
        self._seen = None

    def load(self, info: dict, scenario: dict) -> None:
        self.model = info
        round_ = scenario.get("round", 0)
        if round_:  # later rounds of an interleaved run: a process level of their own
            self.rng = np.random.default_rng([self.opts["noise_seed"], round_])
            self.process_factor = lognormal_factor(self.rng, self.opts["process_noise"])
        time.sleep(self.opts["load_s"])
        self.timings["scripted_load_s"] = float(self.opts["load_s"])

    @classmethod
    def probe(cls, dtypes, seconds: float, repeats: int, label: str, options: dict | None) -> dict:
        """Scripted by the options: probe_gflops at 'start', probe_gflops * (1 - machine_drift) at 'end',
        for every dtype and repeat; takes no time."""
        dtypes = check_probe(dtypes, seconds, repeats, label)
        o = check_options(options or {})
        gflops = float(o["probe_gflops"] * (1 - o["machine_drift"]) if label == "end" else o["probe_gflops"])
        if label == "round" and o["drift"]:
            gflops = float(o["probe_gflops"] / drift_factor(o["drift"], read_clock(o["drift_clock"])))
        return {
            "gflops": dict.fromkeys(dtypes, gflops),
            "probes": {d: [gflops] * repeats for d in dtypes},
            "seconds": 0.0,
        }

    def effective(self) -> dict:
        out = {
            "backend": self.name,
            "scheduler": self.scheduler,
            "components": {},
            "sleep": {**self.opts, "process_factor": self.process_factor},
        }
        if "torch" in sys.modules:  # never imported for this backend alone: it would cost seconds a start
            out["torch_threads"] = sys.modules["torch"].get_num_threads()
        return out

    def clock(self) -> float:
        return VirtualTime(self._now)

    def timers(self) -> ScriptedTimers:
        return ScriptedTimers(self)

    def initial_latents(self, seed: int, height: int, width: int):
        return seeded_latents(seed, (1, 4, height // 8, width // 8))

    def reported_dtype(self) -> str:
        asked = self.opts["dtype"]
        if self.opts["broken_toggle"]:
            return "fp32" if asked == "bf16" else "bf16"
        return asked

    @contextlib.contextmanager
    def observe(self):
        dtype = self.reported_dtype()
        seen = {
            "unet_calls": 0,
            "autocast_dtype": DTYPES[dtype] if dtype == "bf16" else None,
            "unet_output_dtype": DTYPES[dtype],
        }
        self._seen = seen
        try:
            yield seen
        finally:
            self._seen = None

    def pass_time(self, index: int) -> float:
        """Seconds of timed pass `index` (0-based); draws this pass's noise."""
        series = self.opts["series"]
        base = series[index % len(series)] if series else self.opts["pass_s"]
        return base * self.process_factor * lognormal_factor(self.rng, self.opts["pass_noise"])

    def generate(self, *, seed, prompt, height, width, latents, guidance_scale, num_inference_steps, output_type):
        timed, self._timed_next = self._timed_next, False
        if timed:
            self.passes += 1
            if self.opts["fault"] != "none" and self.passes == self.opts["fault_at_pass"]:
                self.fault(self.opts["fault"])
            seconds = self.pass_time(self.passes - 1)
        else:
            seconds = self.opts["pass_s"] * self.process_factor
        if self.drift:
            # The scripted machine: slower or faster by the factor of the moment this call starts.
            t = read_clock(self.opts["drift_clock"])
            seconds *= drift_factor(self.drift, t)
            Path(self.opts["drift_clock"]).write_text(repr(t + seconds))
        time.sleep(seconds)
        self._now += Fraction(seconds)
        self._last_steps = num_inference_steps
        if self._seen is not None:
            self._seen["unet_calls"] += num_inference_steps
        return self.image(seed, height, width)

    def explain(self, scenario: dict) -> dict:
        """A scripted profile of one UNet call (pass_s x the UNet's share / steps): one node of each kind with
        a kernel of each ISA class, shapes for FLOPs, 97% of the call in nodes. Takes no time. With option
        explain false it fails as a backend without a profiler does."""
        if not self.opts["explain"]:
            return super().explain(scenario)
        from .. import explain

        call_s = self.opts["pass_s"] * SHARES["unet_s"] / max(1, scenario["steps"])
        bf16 = self.reported_dtype() == "bf16"
        mm = "brgemm_avx512_amx_bf16" if bf16 else "brgemm_avx512_FP32"
        nodes = [
            (
                "Convolution",
                "brgconv_avx512_amx_bf16" if bf16 else "brgconv_avx512_FP32",
                0.45,
                [[2, 320, 32, 32], [320, 320, 3, 3]],
                [2, 320, 32, 32],
            ),
            ("FullyConnected", mm, 0.25, [[2, 4096, 320], [320, 320]], [2, 4096, 320]),
            (
                "ScaledDotProductAttention",
                "jit_avx512_FP32",
                0.10,
                [[2, 8, 4096, 40], [2, 8, 77, 40]],
                [2, 8, 4096, 40],
            ),
            ("MVN", "jit_avx2_FP32", 0.06, None, None),
            ("Eltwise", "jit_avx512_FP32", 0.05, None, None),
            ("Reorder", "ref_any_FP32", 0.04, None, None),
            ("Range", "unknown_FP32", 0.02, None, None),
        ]
        records = explain.node_records(
            {"name": n, "kernel": k, "time_s": share * call_s, "inputs": i, "output": o} for n, k, share, i, o in nodes
        )
        return explain.profile_result(
            profiler="scripted (sleep backend)",
            dtype=self.reported_dtype(),
            records=records,
            call_s=call_s,
            unprofiled=[call_s],
            inputs={"sample": [2, 4, scenario["height"] // 8, scenario["width"] // 8]},
            notes=["A scripted profile: 97% of the call in nodes, 3% left over."],
        )

    def image(self, seed: int, height: int, width: int) -> np.ndarray:
        shape = (1, height, width, 3)
        img = np.random.default_rng(seed).random(shape, dtype=np.float32)
        if self.opts["image_noise"] > 0:
            noise = np.random.default_rng([seed, 1]).standard_normal(shape, dtype=np.float32)
            img += np.float32(self.opts["image_noise"]) * noise
        if self.opts["image"] != "seeded":
            img[0, 0, 0, :] = np.nan if self.opts["image"] == "nan" else np.inf
        return img

    def fault(self, kind: str) -> None:
        where = f"sleep backend: scripted fault {kind!r} at pass {self.passes}"
        os.write(2, f"{where}\n".encode())
        if kind == "raise":
            raise RuntimeError(where)
        if kind == "exit":
            os._exit(7)
        if kind == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        if kind == "hang":
            while True:
                time.sleep(3600)
        if kind == "deadlock":
            lock = threading.Lock()
            lock.acquire()
            lock.acquire()  # never returns: the main thread waits on itself (the GIL is released)
        if kind == "oom":
            hoard, total = [], 0
            while total < OOM_LIMIT_BYTES:
                hoard.append(np.ones(OOM_CHUNK_BYTES, dtype=np.uint8))  # ones: every page is touched
                total += OOM_CHUNK_BYTES
            raise MemoryError(f"{where}: still alive after {total >> 30} GiB")


BACKEND = SleepBackend
