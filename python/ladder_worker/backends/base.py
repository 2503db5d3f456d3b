"""The contract every backend fulfils. A backend is one module of this package,
`backends/<name>.py` (with '-' in the name written '_'), that sets `BACKEND = <its Backend subclass>`."""

import abc
import contextlib
import hashlib
import importlib.metadata as md
import json
import time
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ..errors import UserError
from ..options import resolve
from ..scenario import SCHEDULERS
from ..timing import Breakdown


def seeded_latents(seed: int, shape) -> np.ndarray:
    """The initial latents of every backend: drawn with numpy from the seed, identical everywhere."""
    return np.random.default_rng(seed).standard_normal(shape, dtype=np.float32)


def call_pipeline(pipe, *, seed, prompt, height, width, latents, guidance_scale, num_inference_steps, output_type):
    """The one diffusers call every pipeline backend makes: the same arguments, a generator from the seed
    (the latents are given, so it only feeds the scheduler's noise, where one draws any)."""
    import torch

    generator = torch.Generator("cpu").manual_seed(seed)
    return pipe(
        prompt=prompt,
        height=height,
        width=width,
        latents=latents,
        guidance_scale=guidance_scale,
        num_inference_steps=num_inference_steps,
        output_type=output_type,
        generator=generator,
    ).images


def minor(version: str) -> str:
    """'2.8' of '2.8.0+cpu': extensions that must match torch (IPEX, zentorch) pin its minor version."""
    return ".".join(version.split("+")[0].split(".")[:2])


def versions(dists) -> dict:
    """Installed versions of the given distributions (absent ones left out)."""
    out = {}
    for dist in dists:
        try:
            out[dist] = md.version(dist)
        except md.PackageNotFoundError:
            pass
    return out


# The dtypes a matrix-product probe (roofline peak, probe job) can run in, and the probe job's labels.
# int8 is torch._int_mm (int8 x int8 -> int32 through oneDNN, AMX int8 where present): the peak an
# OpenVINO int8 UNet is placed against.
PROBE_DTYPES = ("fp32", "bf16", "int8")
PROBE_LABELS = ("start", "end", "round")


def _is_int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def check_probe_dtypes(dtypes) -> list[str]:
    """The dtypes as a list; a UserError names the first unknown one."""
    for d in dtypes:
        if d not in PROBE_DTYPES:
            raise UserError(f"unknown probe dtype {d!r} (known: {', '.join(PROBE_DTYPES)})")
    return list(dtypes)


def check_repeats(repeats) -> int:
    if not (_is_int(repeats) and repeats >= 1):
        raise UserError(f"probe repeats must be an integer >= 1, got {repeats!r}")
    return repeats


def check_probe(dtypes, seconds, repeats, label) -> list[str]:
    """Checks a probe job's arguments (UserError on the first bad one); returns the dtypes."""
    if not (isinstance(seconds, (int, float)) and not isinstance(seconds, bool) and 0 < seconds < float("inf")):
        raise UserError(f"probe seconds must be a number > 0, got {seconds!r}")
    check_repeats(repeats)
    if label not in PROBE_LABELS:
        raise UserError(f"probe label must be one of {', '.join(PROBE_LABELS)}, got {label!r}")
    return check_probe_dtypes(dtypes)


class Backend(abc.ABC):
    """How a pipeline is loaded and called, and what the process really has once it is loaded."""

    name: ClassVar[str]
    # Options that change what load() derives and caches (an export); the others enter no cache key.
    export_options: ClassVar[tuple[str, ...]] = ()
    # Distributions whose versions change what this backend derives (part of cache_key()).
    libraries: ClassVar[tuple[str, ...]] = ()
    # False: load() needs no model folder (the controller may send model "none").
    needs_model: ClassVar[bool] = True

    def __init__(self, options: dict, cache_dir: str | Path):
        self.options = self.resolve_options(options)
        self.cache_dir = Path(cache_dir)  # where the backend may cache what it derives (OpenVINO IR)
        self.timings: dict[str, float] = {}  # load-side times reported apart from latency (export_s...)
        self.pipe: Any = None

    def resolve_options(self, options: dict | None) -> dict:
        """Checked against protocol/options.json, every default from there: no limit or default of our own."""
        return resolve(self.name, options)

    @abc.abstractmethod
    def load(self, info: dict, scenario: dict) -> None:
        """Load the model (`info`: what models.resolve_model returned) for the run's `scenario`."""

    @abc.abstractmethod
    def generate(self, *, seed, prompt, height, width, latents, guidance_scale, num_inference_steps, output_type):
        """One image; returns the images as a numpy-like (N, H, W, 3) float array."""

    @abc.abstractmethod
    def effective(self) -> dict:
        """What the process really has: backend, scheduler, components, torch_threads (and backend-specific keys)."""

    @contextlib.contextmanager
    def observe(self):
        """Runtime observations (a dict filled while the block runs: unet_calls, autocast_dtype...), or None."""
        yield None

    def warmed_up(self) -> None:
        """Called once the warm-up call is done, before the timed passes (torch-compile forbids recompiles
        from here on)."""
        return None

    def timers(self):
        """Per-component timers of a pass: start(), result(pass_s), .missing (see timing.Breakdown)."""
        return Breakdown(self.pipe)

    def initial_latents(self, seed: int, height: int, width: int):
        import torch

        scale = getattr(self.pipe, "vae_scale_factor", 8)
        shape = (1, self.pipe.unet.config.in_channels, height // scale, width // scale)
        return torch.from_numpy(seeded_latents(seed, shape))

    def clock(self) -> float:
        """The clock passes and the warm-up are timed with."""
        return time.perf_counter()

    @classmethod
    def probe(cls, dtypes, seconds: float, repeats: int, label: str, options: dict | None) -> dict:
        """How fast this machine multiplies matrices now (the probe job, no model needed): `repeats` probes of
        about `seconds` each per dtype. Returns {"gflops": {dtype: best}, "probes": {dtype: [each probe]},
        "seconds": total seconds spent}. `label` ('start' | 'end') says when in the run it is asked; `options`
        are the rung's backend options. This one: torch matrix products (roofline.matmul_peak)."""
        dtypes = check_probe(dtypes, seconds, repeats, label)
        from .. import roofline

        t0 = time.perf_counter()
        probes = {d: roofline.peak_probes(d, repeats, seconds)["gflops"] for d in dtypes}
        return {
            "gflops": {d: max(each) for d, each in probes.items()},
            "probes": probes,
            "seconds": time.perf_counter() - t0,
        }

    def explain(self, scenario: dict) -> dict:
        """One UNet call of the run's shapes profiled with the runtime's own profiler (the explain job), as
        explain.profile_result() returns it. A backend without one says so in one line."""
        raise UserError(f"{self.name} cannot profile a UNet call: no profiler is wired into this backend")

    def roofline_pipe(self):
        """The PyTorch pipeline the roofline job may count FLOPs on, or None."""
        return None

    def versions(self) -> dict:
        return versions(self.libraries)

    def cache_key(self, *extra) -> str:
        """12 hex digits naming what this backend derives: its name, export options, library versions, extra."""
        options = {k: self.options.get(k) for k in sorted(self.export_options)}
        blob = json.dumps([self.name, options, self.versions(), *extra], sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:12]

    def diffusers_pipeline(self, info: dict):
        """The model folder's diffusers pipeline with the rung's scheduler swapped in, its progress bar off."""
        import diffusers

        from .. import models  # here: models imports the diffusers stack, which the sleep backend never needs

        kwargs = {}
        scheduler = self.scheduler_class()
        if scheduler:
            kwargs["scheduler"] = getattr(diffusers, scheduler).from_pretrained(
                info["path"], subfolder="scheduler", local_files_only=True
            )
        pipe = models.load_pipeline(info, **kwargs)
        pipe.set_progress_bar_config(disable=True)
        return pipe

    def scheduler_class(self) -> str | None:
        """The diffusers class the `scheduler` option asks for (protocol/scenario.json), None for the model's own."""
        scheduler = self.options["scheduler"]
        if scheduler not in SCHEDULERS:
            raise UserError(f"unknown scheduler {scheduler!r} (known: {', '.join(SCHEDULERS)})")
        return SCHEDULERS[scheduler]
