"""stable-diffusion.cpp (ggml, quantized weights) through its Python bindings, stable-diffusion-cpp-python:
the runtime a user picks for SD on a CPU without PyTorch.

The model folder (diffusers) is converted once by sd.cpp's own `convert` (the bindings' sd_cpp.convert) into
one gguf file per weight type (q8_0, f16), cached in the model cache (keyed by the model folder and the
bindings' version), then loaded by `StableDiffusion`. The whole image is sd.cpp's: its CLIP tokenizer and
text encoder, its sampler and sigma schedule, its own noise from the seed (it takes no initial latents), its
UNet and VAE decoder; no safety checker. So the image is not the PyTorch one even at full precision: PSNR
against it measures a different noise, not an error.

What is proven comes from inside the library: its log lines (the file it loaded, the weight types it counted,
the sampler and schedule it ran, the seed and size), ggml's system info (the ISA it was compiled for), the gguf
file's own tensor types, and the threads that really ran during a generation (/proc/self/task CPU times).
"""

import contextlib
import ctypes
import hashlib
import json
import os
import re
import shutil
import struct
import sys
import time
from collections import deque
from pathlib import Path

import numpy as np

from ..errors import UserError
from ..timing import COMPONENTS
from .base import Backend, versions

PACKAGE = "stable-diffusion-cpp-python"
# The scenario's schedulers (protocol/scenario.json) as sd.cpp's (sample method, sigma schedule). sd.cpp has
# neither diffusers' PNDM nor its DPMSolverMultistep: the nearest of each, same family, not the same numbers.
SAMPLERS = {
    "default": ("ipndm", "discrete"),  # PNDM (PLMS) -> iPNDM: the same linear multistep family
    "dpm": ("dpm++2m", "discrete"),  # DPMSolverMultistep (dpmsolver++, order 2) -> DPM++ (2M)
}
# What sd.cpp logs for each sample method ("sampling using %s method").
SAMPLE_METHOD_LOGGED = {"ipndm": "iPNDM", "dpm++2m": "DPM++ (2M)", "euler": "Euler"}
MARKER = "ladder_sdcpp.json"
# How much of a model file is hashed to name it.
HASHED_BYTES = 1 << 20
# ggml_type ids (ggml.h) a converted SD checkpoint may hold.
GGML_TYPES = {0: "f32", 1: "f16", 2: "q4_0", 3: "q4_1", 6: "q5_0", 7: "q5_1", 8: "q8_0", 9: "q8_1", 30: "bf16"}
# The name prefix of each network in an sd.cpp checkpoint (original, ldm names).
NETWORKS = {
    "model.diffusion_model.": "diffusion_model",
    "cond_stage_model.": "text_encoder",
    "first_stage_model.": "vae",
}
# The x86 features ggml's system info names, and the /proc/cpuinfo flag of each: a feature the CPU has and
# the build lacks means it was not built for this CPU.
ISA_FLAGS = {
    "AVX": "avx",
    "AVX2": "avx2",
    "F16C": "f16c",
    "FMA": "fma",
    "AVX_VNNI": "avx_vnni",
    "AVX512": "avx512f",
    "AVX512_VBMI": "avx512_vbmi",
    "AVX512_VNNI": "avx512_vnni",
    "AVX512_BF16": "avx512_bf16",
    "AMX_INT8": "amx_int8",
}
# The log lines read as proofs and timings.
LOGGED = {
    "loaded": re.compile(r"loading model from '(.*)'"),
    "version": re.compile(r"Version: (.*?)\s*$"),
    "threads": re.compile(r"using (\d+) threads for model loading"),
    "weight_stat": re.compile(
        r"- (Weight|Conditioner weight|Diffusion model weight|VAE weight) type stat:\s*(.*?)\s*$"
    ),
    "sample_method": re.compile(r"sampling using (.*) method"),
    "schedule": re.compile(r"get_sigmas with (.*?) scheduler"),
    "seed": re.compile(r"generating image: \d+/\d+ - seed (-?\d+)"),
    "size": re.compile(r"generate_image (\d+)x(\d+)"),
    "text_encoding_s": re.compile(r"get_learned_condition completed, taking ([\d.]+)s"),
    "sampling_s": re.compile(r"sampling completed, taking ([\d.]+)s"),
    "vae_decode_s": re.compile(r"decode_first_stage completed, taking ([\d.]+)s"),
}
# What sd.cpp logs loading a context with each of its knobs on, per network; absent, the knob is off.
KNOBS_LOGGED = {
    "flash_attn": {
        "text_encoder_vae": "Using flash attention",
        "diffusion_model": "Using flash attention in the diffusion model",
    },
    "conv_direct": {
        "diffusion_model": "Using Conv2d direct in the diffusion model",
        "vae": "Using Conv2d direct in the vae model",
    },
}
STAT_NAMES = {
    "Weight": "all",
    "Conditioner weight": "text_encoder",
    "Diffusion model weight": "diffusion_model",
    "VAE weight": "vae",
}


def file_proof(path: Path) -> dict:
    with open(path, "rb") as f:
        head = hashlib.sha256(f.read(HASHED_BYTES)).hexdigest()
    return {"path": str(path), "bytes": path.stat().st_size, "sha256_first_mb": head}


def _read_string(f) -> str:
    (n,) = struct.unpack("<Q", f.read(8))
    return f.read(n).decode("utf-8", errors="replace")


# gguf metadata value types: their struct formats (8: string, 9: array are read apart).
_GGUF_SCALARS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}


def _skip_value(f, kind: int) -> None:
    if kind == 8:
        _read_string(f)
    elif kind == 9:
        item, n = struct.unpack("<IQ", f.read(12))
        for _ in range(n):
            _skip_value(f, item)
    else:
        f.read(struct.calcsize("<" + _GGUF_SCALARS[kind]))


def gguf_tensor_types(path: Path) -> dict:
    """{network: {type: parameters}} of a gguf file, read from its header (the tensor infos; no weights)."""
    with open(path, "rb") as f:
        if f.read(4) != b"GGUF":
            raise UserError(f"{path} is not a gguf file")
        (version,) = struct.unpack("<I", f.read(4))
        if version < 2:
            raise UserError(f"{path}: gguf version {version} is too old to read")
        n_tensors, n_kv = struct.unpack("<QQ", f.read(16))
        for _ in range(n_kv):
            _read_string(f)
            (kind,) = struct.unpack("<I", f.read(4))
            _skip_value(f, kind)
        out: dict[str, dict[str, int]] = {}
        for _ in range(n_tensors):
            name = _read_string(f)
            (dims,) = struct.unpack("<I", f.read(4))
            elements = 1
            for d in struct.unpack(f"<{dims}Q", f.read(8 * dims)):
                elements *= d
            kind, _offset = struct.unpack("<IQ", f.read(12))
            net = next((v for k, v in NETWORKS.items() if name.startswith(k)), "other")
            typ = GGML_TYPES.get(kind, f"type{kind}")
            out.setdefault(net, {})
            out[net][typ] = out[net].get(typ, 0) + elements
    return out


def parse_weight_stat(text: str) -> dict[str, int]:
    """'q8_0: 230 | f32: 456' (sd.cpp's weight type stat) -> {'q8_0': 230, 'f32': 456}."""
    out = {}
    for part in text.split("|"):
        name, _, count = part.strip().partition(":")
        if name.strip() and count.strip().isdigit():
            out[name.strip()] = int(count)
    return out


def parse_system_info(text: str) -> dict[str, bool]:
    """ggml's system info ('SSE3 = 1 | AVX = 1 | ...') -> {'SSE3': True, 'AVX': True, ...}."""
    return {k.strip(): v.strip() == "1" for k, v in re.findall(r"([A-Z0-9_]+)\s*=\s*(\d+)", text)}


def cpu_flags() -> set[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def isa_missing(system_info: dict[str, bool], flags: set[str]) -> list[str]:
    """Features this CPU has that ggml was compiled without, among those its system info names (an empty
    list: built for this CPU)."""
    return [name for name, flag in ISA_FLAGS.items() if name in system_info and flag in flags and not system_info[name]]


def thread_cpu_ticks() -> dict[int, int]:
    """CPU time (clock ticks, user + system) of each thread of this process."""
    out = {}
    for task in Path("/proc/self/task").iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the thread ended meanwhile
        out[int(task.name)] = int(fields[11]) + int(fields[12])
    return out


def busy_threads(before: dict[int, int], after: dict[int, int], share: float = 0.25) -> int:
    """Threads that ran at least `share` of the busiest one's CPU time between two readings: the compute
    threads, not the socket's or an idle pool's."""
    used = [after[t] - before.get(t, 0) for t in after]
    top = max(used, default=0)
    return sum(1 for u in used if top > 0 and u >= share * top)


def knobs_logged(lines) -> dict[str, dict[str, bool]]:
    """Which of sd.cpp's knobs it logged turning on, per network ({'flash_attn': {'diffusion_model': True...}})."""
    said = {line.split(" - ", 1)[-1].strip() for line in lines}
    return {knob: {net: text in said for net, text in where.items()} for knob, where in KNOBS_LOGGED.items()}


def find_logged(lines, key: str):
    """The last match of LOGGED[key] among log lines, or None."""
    found = None
    for line in lines:
        m = LOGGED[key].search(line)
        if m:
            found = m
    return found


# The files sd.cpp reads from a diffusers folder (ModelLoader::init_from_diffusers_file).
DIFFUSERS_FILES = (
    "unet/diffusion_pytorch_model.safetensors",
    "vae/diffusion_pytorch_model.safetensors",
    "text_encoder/model.safetensors",
)
TEXT_PREFIX = "text_model."


def stage_diffusers(source: Path, staged: Path) -> int:
    """The folder sd.cpp converts: the model's UNet and VAE files linked, and its text encoder with every
    key under 'text_model.' (transformers 5 saves CLIPTextModel without that prefix, which sd.cpp needs to
    see an SD 1.x text encoder). Only the header is rewritten: the tensors are copied as they are. Returns
    how many keys were renamed."""
    for rel in DIFFUSERS_FILES:
        if not (source / rel).is_file():
            raise UserError(f"{source} has no {rel}: stable-diffusion.cpp converts a diffusers folder's safetensors")
    for rel in DIFFUSERS_FILES[:2]:
        (staged / rel).parent.mkdir(parents=True, exist_ok=True)
        (staged / rel).symlink_to((source / rel).resolve())
    text = DIFFUSERS_FILES[2]
    (staged / text).parent.mkdir(parents=True, exist_ok=True)
    with open(source / text, "rb") as f, open(staged / text, "wb") as out:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        renamed = {
            (k if k == "__metadata__" or k.startswith(TEXT_PREFIX) else TEXT_PREFIX + k): v for k, v in header.items()
        }
        blob = json.dumps(renamed, separators=(",", ":")).encode()
        blob += b" " * (-len(blob) % 8)  # the data stays 8-byte aligned
        out.write(struct.pack("<Q", len(blob)) + blob)
        shutil.copyfileobj(f, out)
    return sum(1 for k in header if k != "__metadata__" and not k.startswith(TEXT_PREFIX))


class _Log:
    """sd.cpp's log lines, kept from a callback installed in place of the bindings' (which prints them)."""

    def __init__(self):
        import stable_diffusion_cpp as sd

        # (number, line): the last few thousand, numbered so a phase's lines are found after the deque turns.
        self.lines: deque[tuple[int, str]] = deque(maxlen=5000)
        self.count = 0

        # The time of each progress report: during a generation, the end of each sampling step (step 0:
        # its start). Set once and kept alive here: the bindings' own, set per call, would dangle after it.
        self.progress: list[float] = []

        @sd.sd_log_callback
        def on_log(_level, text, _data):
            self.lines.append((self.count, text.decode("utf-8", errors="replace").rstrip("\n")))
            self.count += 1

        @sd.sd_progress_callback
        def on_progress(_step, _steps, _time, _data):
            self.progress.append(time.perf_counter())

        self._callbacks = (on_log, on_progress)  # keep the C function pointers alive
        sd.sd_set_log_callback(on_log, ctypes.c_void_p(0))
        sd.sd_set_progress_callback(on_progress, ctypes.c_void_p(0))

    def mark(self) -> int:
        """Where the next phase's lines start."""
        return self.count

    def since(self, mark: int) -> list[str]:
        return [line for n, line in self.lines if n >= mark]

    def tail(self, n: int) -> list[str]:
        return [line for _, line in list(self.lines)[-n:] if line]


class SdcppTimers:
    """A pass's components from sd.cpp itself: text encoding and VAE decode from its log lines (10 ms
    resolution), each sampling step from its progress callback (our clock). It runs no safety checker."""

    def __init__(self, backend):
        self.backend = backend
        self.missing = ["safety_checker"]

    def start(self) -> None:
        self.mark = self.backend.log.mark()

    def result(self, pass_s: float) -> dict:
        lines = self.backend.log.since(self.mark)
        seconds = {k: find_logged(lines, k) for k in ("text_encoding_s", "vae_decode_s")}
        steps = self.backend.step_times()
        out = {f"{k}_s": 0.0 for k in COMPONENTS}
        out.update({k: float(m.group(1)) if m else 0.0 for k, m in seconds.items()})
        out["unet_s"] = sum(steps)
        out["unet_steps_s"] = steps
        out["rest_s"] = pass_s - sum(v for k, v in out.items() if k != "unet_steps_s")
        return out


class SdcppBackend(Backend):
    name = "sdcpp"
    libraries = (PACKAGE,)
    # Each weight type is its own gguf file, converted once from the model folder and cached.
    export_options = ()

    def __init__(self, options: dict, cache_dir):
        super().__init__(options, cache_dir)
        threads = self.options.get("threads")
        if threads is None and os.environ.get("OMP_NUM_THREADS"):
            threads = int(os.environ["OMP_NUM_THREADS"])  # unset: the launcher's thread count
        self.threads = threads
        self.sd = None
        self.log = None
        self.converted: dict = {}

    def load(self, info: dict, scenario: dict) -> None:
        import stable_diffusion_cpp as sd

        self.log = _Log()
        self.gguf = self._convert(info)
        mark = self.log.mark()
        t = time.perf_counter()
        self.sd = sd.StableDiffusion(
            model_path=str(self.gguf),
            vae_decode_only=True,
            # Unset and no launcher count: sd.cpp's own default (the number of physical cores).
            n_threads=self.threads if self.threads is not None else sd.sd_get_num_physical_cores(),
            flash_attn=self.options["flash_attn"],
            diffusion_conv_direct=self.options["conv_direct"],
            vae_conv_direct=self.options["conv_direct"],
            verbose=False,
        )
        self.timings["sd_load_s"] = time.perf_counter() - t
        self.load_lines = self.log.since(mark)
        if self.sd._model.model is None:  # the bindings keep a context that failed to load, and crash later
            raise UserError(f"stable-diffusion.cpp could not load {self.gguf}: {' / '.join(self.log.tail(3))}")

    def _convert(self, info: dict) -> Path:
        """The model folder as one gguf of the asked weight type, made once by sd.cpp's convert and renamed
        into place."""
        import stable_diffusion_cpp as sd
        from stable_diffusion_cpp.stable_diffusion import GGML_TYPE_MAP

        wtype = self.options["weight_type"]
        folder = self.cache_dir / "sdcpp" / f"{Path(info['path']).name}-{self.cache_key(info['path'])}"
        target = folder / f"model-{wtype}.gguf"
        marker = folder / f"model-{wtype}.{MARKER}"
        if marker.is_file() and target.is_file():
            self.timings["convert_s"] = 0.0
            self.converted = {**json.loads(marker.read_text()), "cached": True}
            return target
        folder.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f"{target.name}.tmp-{os.getpid()}")
        staged = folder / f"diffusers.tmp-{os.getpid()}"
        t = time.perf_counter()
        try:
            renamed = stage_diffusers(Path(info["path"]), staged)
            ok = sd.convert(str(staged).encode(), b"", str(tmp).encode(), GGML_TYPE_MAP[wtype], b"", True)
        finally:
            shutil.rmtree(staged, ignore_errors=True)
        if not ok or not tmp.is_file():
            tmp.unlink(missing_ok=True)
            raise UserError(
                f"stable-diffusion.cpp could not convert {info['path']} to {wtype}: {' / '.join(self.log.tail(3))}"
            )
        made = {
            "source": info["path"],
            "weight_type": wtype,
            "convert_s": time.perf_counter() - t,
            "text_encoder_keys_renamed": renamed,
        }
        self.timings["convert_s"] = made["convert_s"]
        os.replace(tmp, target)
        marker.write_text(json.dumps(made, indent=1))
        self.converted = {**made, "cached": False}
        return target

    def initial_latents(self, seed: int, height: int, width: int):
        # sd.cpp draws its own noise from the seed (its 'cuda' RNG): it takes no initial latents.
        return None

    def timers(self):
        return SdcppTimers(self)

    def step_times(self) -> list[float]:
        """Seconds of each sampling step of the last generation (step 0 marks its start)."""
        marks = self.log.progress
        return [b - a for a, b in zip(marks, marks[1:], strict=False)]

    @contextlib.contextmanager
    def observe(self):
        """What sd.cpp ran during the block: its steps, sampler, schedule, seed and size as it logged them,
        and the threads of this process that did the work."""
        mark = self.log.mark()
        before = thread_cpu_ticks()
        seen = {"unet_calls": 0, "autocast_dtype": None, "unet_output_dtype": None}
        try:
            yield seen
        finally:
            after = thread_cpu_ticks()
            lines = self.log.since(mark)
            logged = {k: find_logged(lines, k) for k in ("sample_method", "schedule", "seed", "size")}
            size = logged["size"]
            seen.update(
                unet_calls=len(self.step_times()),
                busy_threads=busy_threads(before, after),
                sample_method=logged["sample_method"] and logged["sample_method"].group(1),
                schedule=logged["schedule"] and logged["schedule"].group(1),
                seed=logged["seed"] and int(logged["seed"].group(1)),
                size=size and [int(size.group(1)), int(size.group(2))],
            )

    def explain(self, scenario: dict) -> dict:
        """Refused, saying why (docs/peers.md): sd.cpp computes its UNet with ggml_backend_graph_compute on the
        CPU backend, which times no node (ggml dropped its per-node perf counters, and no environment variable
        of this build turns timing on); per-node timing in ggml is a scheduler's eval callback, and sd.cpp
        creates no scheduler, nor do the bindings expose one. Read in the vendored build's symbols, calls and
        strings (nm, objdump, strings)."""
        version = self.versions().get(PACKAGE, "?")
        raise UserError(
            f"{self.name} cannot profile a UNet call: stable-diffusion.cpp (stable-diffusion-cpp-python {version}) "
            "runs it as one ggml graph on the CPU backend, which times no op, and builds no ggml scheduler whose "
            "eval callback could time each op; only whole sampling steps are timed (the run's unet_steps_s)"
        )

    def generate(self, *, seed, prompt, height, width, latents, guidance_scale, num_inference_steps, output_type):
        method, schedule = SAMPLERS[self.options["scheduler"]]
        self.log.progress = []
        images = self.sd.generate_image(
            prompt=prompt,
            negative_prompt="",  # diffusers' unconditional prompt under classifier-free guidance
            width=width,
            height=height,
            cfg_scale=guidance_scale,
            sample_method=method,
            scheduler=schedule,
            sample_steps=num_inference_steps,
            seed=seed,
        )
        return np.stack([np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0 for im in images])

    def effective(self) -> dict:
        import stable_diffusion_cpp as sd

        lines = self.load_lines
        loaded = find_logged(lines, "loaded")
        stats = {}
        for line in lines:
            m = LOGGED["weight_stat"].search(line)
            if m:
                stats[STAT_NAMES[m.group(1)]] = parse_weight_stat(m.group(2))
        version = find_logged(lines, "version")
        threads = find_logged(lines, "threads")
        system_info = sd.sd_get_system_info().decode().strip()
        isa = parse_system_info(system_info)
        build_file = Path(sys.prefix) / "ladder-sdcpp-build.json"
        method, schedule = SAMPLERS[self.options["scheduler"]]
        return {
            "backend": self.name,
            "scheduler": f"sd.cpp {method}/{schedule}",
            "components": {},
            "sdcpp": {
                "version": sd.__version__,
                "sd_version": sd.sd_version().decode(),
                "sd_commit": sd.sd_commit().decode(),
                "build": json.loads(build_file.read_text()) if build_file.is_file() else None,
                "system_info": system_info,
                "isa": isa,
                "isa_missing": isa_missing(isa, cpu_flags()),
                "weight_type": self.options["weight_type"],
                "file": file_proof(self.gguf),
                "file_types": gguf_tensor_types(self.gguf),
                "converted": self.converted,
                "loaded_path": loaded.group(1) if loaded else None,
                "model_version": version.group(1) if version else None,
                "weight_stats": stats,
                "knobs": {k: self.options[k] for k in KNOBS_LOGGED},
                "knobs_logged": knobs_logged(lines),
                "n_threads": self.sd.n_threads,
                # The context's own count, as sd.cpp logged it loading the weights with it.
                "logged_threads": int(threads.group(1)) if threads else None,
                "sampler": {"sample_method": method, "schedule": schedule, "logged_as": SAMPLE_METHOD_LOGGED[method]},
                "initial_latents": "sd.cpp's own noise from the seed (cuda RNG): the shared latents are not taken",
                "versions": versions(self.libraries),
                "timings": self.timings,
            },
        }


BACKEND = SdcppBackend
