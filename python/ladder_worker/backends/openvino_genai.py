"""OpenVINO GenAI's C++ Text2ImagePipeline on the IR the `openvino` backend exports (optimum-intel).

The IR is the `openvino` backend's own (same cache folder and key, float or NNCF int8 by `quantization`);
GenAI also needs the tokenizer as an OpenVINO model, which optimum-intel's from_pretrained export does not
write: it is converted once with openvino_tokenizers into a view folder beside the IR (symlinks to the
IR's networks, GenAI reading the tokenizer from the text encoder's sibling folder).

The pipeline is assembled from its components (Text2ImagePipeline.stable_diffusion): each is reshaped to
static shapes (batch 2 for classifier-free guidance, the run's height and width) and compiled here with
the rung's properties, so the handles kept here share their compiled models with the pipeline (GenAI's
components share their compiled model when copied) and their compiled models can be exported.

What is proven, GenAI exposing no compiled model's properties:
- the files: each network's IR as the view resolves it (inside the `openvino` IR folder), sha256 of its
  first MB; the IR's quantization mode (from its marker);
- static shapes: each component's compiled model exported (export_model) and read back; its inputs;
- precision and threads: the UNet IR compiled here with the same shapes and properties, its properties
  and runtime graph read back, and GenAI's UNet run on one fixed input must give the same output bit for
  bit; the same input through the exported GenAI UNet at the other precision must differ (the check
  tells the precisions apart); GenAI's UNet run for half a second, the threads of this process that did
  the work counted from their CPU times (/proc/self/task);
- int8: FakeQuantize ops and int8 weights in the UNet IR, int8 kernels in that compiled runtime graph;
- shared latents: GenAI draws its initial latents from our Generator, whose draws are recorded.
"""

import contextlib
import json
import os
import shutil
import time
from pathlib import Path

import numpy as np

from .. import models
from ..errors import UserError
from ..scenario import DEFAULTS
from .base import Backend, seeded_latents, versions
from .onnxruntime import file_proof
from .openvino import IR_MARKER, OpenVINOBackend, _plain, ir_summary, perf_count_profile, runtime_summary

# The networks Text2ImagePipeline runs for SD 1.x, each a folder of the IR.
NETWORKS = ("text_encoder", "unet", "vae_decoder")
VIEW_MARKER = "ladder_genai.json"
TOKENIZER_FILE = "tokenizer/openvino_tokenizer.xml"
# The diffusers scheduler class -> GenAI's Scheduler.Type. GenAI 2026.4 has no DPM-Solver.
SCHEDULER_TYPES = {
    "PNDMScheduler": "PNDM",
    "DDIMScheduler": "DDIM",
    "EulerDiscreteScheduler": "EULER_DISCRETE",
    "EulerAncestralDiscreteScheduler": "EULER_ANCESTRAL_DISCRETE",
    "LMSDiscreteScheduler": "LMS_DISCRETE",
    "LCMScheduler": "LCM",
}
# The fixed input of the UNet check: a timestep in the middle of the schedule, inputs from this seed.
CHECK_SEED = 1
DEVICE = "CPU"
CHECK_TIMESTEP = 500
# GenAI's metrics: UNet calls in microseconds, the text encoder and the VAE in milliseconds.
US = 1e-6
MS = 1e-3
# The thread count GenAI's UNet really uses: its calls repeated for half-second windows, then the threads of
# this process whose CPU time over those windows reached this share of the busiest one's. On a busy machine
# a small UNet's nodes mostly finish on the calling thread before a starved pool thread wakes (tiny beside
# other tests on an AMX Xeon: ticks [19] over one window, [27, 4] over another), so windows are added, up to
# BUSY_TRIES, until the asked count shows, and the share is low: a thread GenAI was not given does no UNet
# work at all (the worker's own threads take under a tick a second).
BUSY_S = 0.5
BUSY_SHARE = 0.05
BUSY_TRIES = 4
# Calls made before the windows: longer than an OpenMP pool spins after its last parallel region (Intel's
# 200 ms), so that threads still spinning from earlier work (torch's, numpy's at import) count nothing.
BUSY_SETTLE_S = 0.3


def genai_scheduler_type(diffusers_class: str) -> str:
    """GenAI's Scheduler.Type name for a diffusers scheduler class; a UserError where GenAI has none."""
    kind = SCHEDULER_TYPES.get(diffusers_class)
    if kind is None:
        known = ", ".join(SCHEDULER_TYPES)
        raise UserError(f"openvino-genai: GenAI has no {diffusers_class} (it has {known})")
    return kind


def thread_cpu_ticks() -> dict[str, int]:
    """CPU time (user + system, in clock ticks) of each thread of this process, from /proc."""
    out = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            fields = Path(f"/proc/self/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # a thread that ended meanwhile
            continue
        out[tid] = int(fields[11]) + int(fields[12])
    return out


def busy_threads(call, want: int, seconds: float = BUSY_S, tries: int = BUSY_TRIES) -> dict:
    """How many threads `call` keeps busy: it is repeated for windows of `seconds` (each at least one call),
    until `want` threads show or `tries` windows were read, and each thread's CPU time over them all is
    compared with the busiest one's."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < BUSY_SETTLE_S:
        call()
    before, calls, windows = thread_cpu_ticks(), 0, 0
    while windows < tries:
        windows += 1
        t0 = time.perf_counter()
        while calls == 0 or time.perf_counter() - t0 < seconds:
            call()
            calls += 1
        after = thread_cpu_ticks()
        ticks = sorted((after[t] - before.get(t, 0) for t in after), reverse=True)
        busy = sum(1 for t in ticks if ticks[0] > 0 and t >= BUSY_SHARE * ticks[0])
        if busy >= want:
            break
    ticks = [t for t in ticks if t > 0]
    return {"busy_threads": busy, "busy_ticks": ticks, "busy_calls": calls, "busy_windows": windows}


def _generator_class():
    import openvino as ov
    import openvino_genai

    class SharedLatents(openvino_genai.Generator):
        """Hands GenAI the latents every backend starts from; records each draw it asks for."""

        def __init__(self, latents: np.ndarray):
            super().__init__()
            self.latents = latents
            self.draws: list[list[int]] = []

        def randn_tensor(self, shape):
            shape = [int(s) for s in shape]
            self.draws.append(shape)
            if len(self.draws) > 1 or shape != list(self.latents.shape):
                # PNDM and DDIM draw once: another draw would be noise no other backend shares.
                raise RuntimeError(f"GenAI asked for a random tensor {shape} beyond the initial latents")
            return ov.Tensor(self.latents)

    return SharedLatents


class GenAITimers:
    """Per-component times of a pass from GenAI's own performance metrics of the last generate()."""

    missing = ["safety_checker"]  # GenAI runs none

    def __init__(self, pipe):
        self.pipe = pipe

    def start(self) -> None:
        return None

    def result(self, pass_s: float) -> dict:
        m = self.pipe.get_performance_metrics()
        steps = [d * US for d in m.raw_metrics.unet_inference_durations]
        out = {
            "text_encoding_s": sum(m.get_text_encoder_infer_duration().values()) * MS,
            "unet_s": sum(steps),
            "vae_decode_s": m.get_vae_decoder_infer_duration() * MS,
            "safety_checker_s": 0.0,
            "unet_steps_s": steps,
        }
        out["rest_s"] = pass_s - out["text_encoding_s"] - out["unet_s"] - out["vae_decode_s"]
        return out


class OpenVINOGenAIBackend(Backend):
    name = "openvino-genai"
    libraries = ("openvino", "openvino-genai", "openvino-tokenizers", "transformers")
    export_options = ("quantization", "calibration_samples")

    def __init__(self, options: dict, cache_dir):
        super().__init__(options, cache_dir)
        threads = os.environ.get("OMP_NUM_THREADS")
        # OpenVINO's CPU plugin has its own thread pool: the launcher's thread count goes to it.
        self.threads = int(threads) if threads else None
        self.properties: dict = {}
        self.proofs: dict = {}
        self.generators: list = []

    def _properties(self) -> dict:
        props = {}
        if self.options["precision"] != "auto":
            props["INFERENCE_PRECISION_HINT"] = self.options["precision"]
        if self.threads is not None:
            props["INFERENCE_NUM_THREADS"] = self.threads
        return props

    def _ir(self, info: dict) -> tuple[Path, dict]:
        """The `openvino` backend's IR for this quantization (exported by it when not cached), and its marker."""
        from optimum.intel import OVStableDiffusionPipeline

        ov_backend = OpenVINOBackend(
            {"quantization": self.options["quantization"], "calibration_samples": self.options["calibration_samples"]},
            self.cache_dir,
        )
        ir_dir = ov_backend._export(info, OVStableDiffusionPipeline)
        for k in ("export_s", "calibration_s", "quantize_s"):
            if k in ov_backend.timings:
                self.timings[k] = ov_backend.timings[k]
        return ir_dir, json.loads((ir_dir / IR_MARKER).read_text())

    def _view(self, ir_dir: Path) -> Path:
        """The IR's networks and scheduler (symlinks) with the tokenizer converted to OpenVINO, once per IR."""
        view = self.cache_dir / "openvino-genai" / f"{ir_dir.name}-{self.cache_key(ir_dir.name)}"
        if (view / VIEW_MARKER).is_file():
            self.timings["tokenizer_s"] = 0.0
            return view
        import openvino as ov
        from openvino_tokenizers import convert_tokenizer
        from transformers import AutoTokenizer

        tmp = view.with_name(f"{view.name}.tmp-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        for name in (*NETWORKS, "scheduler", "model_index.json"):
            (tmp / name).symlink_to(ir_dir / name)
        t = time.perf_counter()
        hf = AutoTokenizer.from_pretrained(str(ir_dir / "tokenizer"), local_files_only=True)
        (tmp / "tokenizer").mkdir()
        ov.save_model(convert_tokenizer(hf, with_detokenizer=False), str(tmp / TOKENIZER_FILE))
        self.timings["tokenizer_s"] = time.perf_counter() - t
        (tmp / VIEW_MARKER).write_text(json.dumps({"ir": str(ir_dir), **self.versions()}, indent=1))
        shutil.rmtree(view, ignore_errors=True)
        os.replace(tmp, view)
        return view

    def _scheduler(self, view: Path):
        """GenAI's scheduler of the asked class, from the IR's scheduler config; UserError where GenAI has none."""
        import openvino_genai

        config = view / "scheduler" / "scheduler_config.json"
        wanted = self.scheduler_class() or json.loads(config.read_text())["_class_name"]
        kind = genai_scheduler_type(wanted)
        self.scheduler = {"class": wanted, "genai_type": kind}
        return openvino_genai.Scheduler.from_config(str(config), getattr(openvino_genai.Scheduler.Type, kind))

    def load(self, info: dict, scenario: dict) -> None:
        import openvino_genai

        models.refuse_unsafe_folder(info["path"])
        scenario = {**DEFAULTS, **scenario}
        if not scenario["guidance_scale"] > 1:
            # The static UNet batch is 2: classifier-free guidance.
            raise UserError("a static openvino-genai pipeline needs guidance_scale > 1")
        self.height, self.width = scenario["height"], scenario["width"]
        self.ir_dir, marker = self._ir(info)
        # What the IR was made with (the openvino backend's marker): its quantization mode and calibration size.
        made = marker.get("quantization") or {}
        calls = made.get("calibration_unet_calls")
        self.ir_quantization = {"mode": made.get("mode", "none"), "calibration_unet_calls": calls}
        self.view = self._view(self.ir_dir)
        scheduler = self._scheduler(self.view)
        self.properties = self._properties()
        t = time.perf_counter()
        clip = openvino_genai.CLIPTextModel(str(self.view / "text_encoder"))
        unet = openvino_genai.UNet2DConditionModel(str(self.view / "unet"))
        vae = openvino_genai.AutoencoderKL(str(self.view / "vae_decoder"))
        self.timings["read_ir_s"] = time.perf_counter() - t
        # What Text2ImagePipeline.reshape does for SD 1.x, component by component.
        t = time.perf_counter()
        clip.reshape(2)
        unet.reshape(2, self.height, self.width, clip.get_config().max_position_embeddings)
        vae.reshape(1, self.height, self.width)
        self.timings["reshape_s"] = time.perf_counter() - t
        t = time.perf_counter()
        for part in (clip, unet, vae):
            part.compile(DEVICE, **self.properties)
        self.timings["compile_s"] = time.perf_counter() - t
        self.parts = {"text_encoder": clip, "unet": unet, "vae_decoder": vae}
        self.pipe = openvino_genai.Text2ImagePipeline.stable_diffusion(scheduler, clip, unet, vae)
        t = time.perf_counter()
        self.proofs = self._prove()
        self.timings["verify_s"] = time.perf_counter() - t

    def _prove(self) -> dict:
        """What the compiled components are, read back as far as GenAI lets us (see the module docstring)."""
        import tempfile

        import openvino as ov

        core = ov.Core()
        out: dict = {"networks": {}}
        with tempfile.TemporaryDirectory(prefix="ladder-genai-") as tmp:
            blobs = {}
            for name, part in self.parts.items():
                part.export_model(str(Path(tmp) / name))
                found = sorted((Path(tmp) / name).rglob("*.blob"))
                blobs[name] = found[0].read_bytes() if found else None
            for name in NETWORKS:
                xml = (self.view / name / "openvino_model.xml").resolve()
                entry = {"xml": file_proof(xml), "bin": file_proof(xml.with_suffix(".bin")), "inputs": None}
                if blobs[name] is not None:
                    # The exported compiled model's inputs; importing it recompiles, so only its shapes count.
                    compiled = core.import_model(blobs[name], DEVICE)
                    entry["inputs"] = _inputs(compiled)
                    if name == "unet":
                        out["unet_check"] = self._unet_check(core, xml, compiled)
                    del compiled
                out["networks"][name] = entry
        out["networks"]["unet"].update(ir_summary(core.read_model(str(out["networks"]["unet"]["xml"]["path"]))))
        out["tokenizer"] = file_proof((self.view / TOKENIZER_FILE).resolve())
        return out

    def _unet_check(self, core, xml: Path, exported) -> dict:
        """The UNet IR compiled here at GenAI's shapes with the rung's properties: its properties and runtime
        graph, and whether GenAI's UNet gives its output bit for bit on one fixed input."""
        import openvino as ov

        model = core.read_model(str(xml))
        # GenAI's static UNet shapes: explain compiles the same IR at them again.
        shapes = {i.get_any_name(): exported.input(i.get_any_name()).get_partial_shape() for i in model.inputs}
        self.unet_ir = (xml, shapes)
        model.reshape(shapes)
        ours = core.compile_model(model, DEVICE, self.properties)
        rng = np.random.default_rng(CHECK_SEED)
        feeds = {}
        for i in ours.inputs:
            shape, name = list(i.get_shape()), i.get_any_name()
            if name == "timestep":
                feeds[name] = np.full(shape, CHECK_TIMESTEP, dtype=i.get_element_type().to_dtype())
            else:
                feeds[name] = rng.standard_normal(shape, dtype=np.float32)
        want = np.array(next(iter(ours.create_infer_request().infer(feeds).values())))
        unet = self.parts["unet"]
        unet.set_hidden_states("encoder_hidden_states", ov.Tensor(feeds["encoder_hidden_states"]))
        sample, timestep = ov.Tensor(feeds["sample"]), ov.Tensor(feeds["timestep"])
        outputs = []
        # GenAI's own UNet (the compiled model its pipeline runs): its output, and how many threads it keeps busy.
        busy = busy_threads(
            lambda: outputs.append(np.array(unet.infer(sample, timestep).data).copy()),
            want=int(ours.get_property("INFERENCE_NUM_THREADS")),
        )
        got = outputs[0]
        precision = _plain(ours.get_property("INFERENCE_PRECISION_HINT"))
        # The IR compiled at the other precision: the check must tell the two apart. (Not GenAI's exported
        # blob imported with the other hint: on an AMX Xeon an f32 blob imported asking bf16 still ran f32.)
        other = "f32" if precision == "bf16" else "bf16"
        contrast = core.compile_model(model, DEVICE, {**self.properties, "INFERENCE_PRECISION_HINT": other})
        other_out = np.array(next(iter(contrast.create_infer_request().infer(feeds).values())))
        return {
            "precision": precision,
            "threads": int(ours.get_property("INFERENCE_NUM_THREADS")),
            "execution_devices": _plain(ours.get_property("EXECUTION_DEVICES")),
            "performance_hint": _plain(ours.get_property("PERFORMANCE_HINT")),
            **runtime_summary(ours),
            "max_abs_diff": float(np.abs(got - want).max()),
            "other_precision": other,
            "other_precision_max_abs_diff": float(np.abs(other_out - want).max()),
            **busy,
        }

    def _unet_feeds(self, scenario: dict, compiled) -> dict:
        """The inputs of the first UNet call of a one-step generate() of the scenario, built as GenAI builds
        them: GenAI's own text encoder on the prompt (and the empty negative prompt), the run's initial latents
        twice (classifier-free guidance) scaled by the scheduler, its first timestep."""
        import diffusers
        import torch

        scheduler = getattr(diffusers, self.scheduler["class"]).from_pretrained(
            str(self.view / "scheduler"), local_files_only=True
        )
        scheduler.set_timesteps(1)
        t = scheduler.timesteps[0]
        latents = torch.from_numpy(self.initial_latents(scenario["seed"], self.height, self.width))
        sample = scheduler.scale_model_input(torch.cat([latents] * 2) * scheduler.init_noise_sigma, t)
        hidden = self.parts["text_encoder"].infer(scenario["prompt"], "", True)
        ts = compiled.input("timestep")
        return {
            "sample": sample.numpy().astype(np.float32),
            "timestep": np.full(list(ts.get_shape()), float(t), dtype=ts.get_element_type().to_dtype()),
            "encoder_hidden_states": np.array(hidden.data, dtype=np.float32).copy(),
        }

    def explain(self, scenario: dict) -> dict:
        """GenAI's pipeline exposes no compiled model: the worker's own compile of the same UNet IR at GenAI's
        static shapes with its properties (proven at load to give GenAI's UNet output bit for bit) compiled
        again with PERF_COUNT, on the inputs of GenAI's first UNet call. The unprofiled calls are GenAI's own
        UNet on those inputs."""
        check = self.proofs.get("unet_check") or {}
        if check.get("max_abs_diff") != 0:
            raise UserError(
                f"{self.name} cannot profile a UNet call: GenAI's UNet was not proven identical to the worker's "
                f"compile of its IR at load (max_abs_diff {check.get('max_abs_diff')})"
            )
        import openvino as ov

        from .. import explain

        core = ov.Core()
        xml, shapes = self.unet_ir
        model = core.read_model(str(xml))
        model.reshape(shapes)
        compiled = core.compile_model(model, DEVICE, {**self.properties, "PERF_COUNT": True})
        request = compiled.create_infer_request()
        feeds = self._unet_feeds({**DEFAULTS, **scenario}, compiled)
        unet = self.parts["unet"]
        unet.set_hidden_states("encoder_hidden_states", ov.Tensor(feeds["encoder_hidden_states"]))
        sample, timestep = ov.Tensor(feeds["sample"]), ov.Tensor(feeds["timestep"])

        def genai_call():
            unet.infer(sample, timestep)

        explain.timed(genai_call, explain.WARMUP_CALLS)
        unprofiled = explain.timed(genai_call, explain.TIMED_CALLS)
        return perf_count_profile(
            compiled,
            request,
            lambda: request.infer(feeds),
            unprofiled=unprofiled,
            inputs={k: list(v.shape) for k, v in feeds.items()},
            wrapper="the Python infer call (tensors in and out)",
            notes=[
                "The profiled model is the worker's own compile of GenAI's UNet IR at GenAI's static shapes with "
                f"GenAI's properties {json.dumps(self.properties, sort_keys=True)}, plus PERF_COUNT: GenAI's "
                "pipeline exposes no compiled model, and at load GenAI's UNet gave this compile's output bit for "
                "bit (max_abs_diff 0). The unprofiled calls are GenAI's own UNet on the same inputs.",
            ],
        )

    def initial_latents(self, seed: int, height: int, width: int):
        # The VAE's downsampling, as GenAI derives it: 2 ** (its blocks - 1).
        vae = json.loads((self.view / "vae_decoder" / "config.json").read_text())
        scale = 2 ** (len(vae["block_out_channels"]) - 1)
        channels = self.parts["unet"].get_config().in_channels
        return seeded_latents(seed, (1, channels, height // scale, width // scale))

    def timers(self):
        return GenAITimers(self.pipe)

    @contextlib.contextmanager
    def observe(self):
        """UNet calls GenAI made (its own metrics) and the draws it asked our Generator for."""
        seen = {"unet_calls": 0, "autocast_dtype": None, "unet_output_dtype": None, "latent_draws": None}
        before = len(self.generators)
        try:
            yield seen
        finally:
            calls = self.pipe.get_performance_metrics().raw_metrics.unet_inference_durations
            draws = [g.draws for g in self.generators[before:]]
            seen.update(unet_calls=len(calls), unet_output_dtype="float32", latent_draws=draws)

    def generate(self, *, seed, prompt, height, width, latents, guidance_scale, num_inference_steps, output_type):
        if (height, width) != (self.height, self.width):
            raise UserError(f"pipeline is static at {self.height}x{self.width}, asked {height}x{width}")
        generator = _generator_class()(np.asarray(latents, dtype=np.float32))
        self.generators.append(generator)
        image = self.pipe.generate(
            prompt,
            height=height,
            width=width,
            guidance_scale=guidance_scale,
            num_inference_steps=num_inference_steps,
            generator=generator,
        )
        # GenAI returns uint8 pixels: the same [0, 1] floats as diffusers' output_type np, rounded to 1/255.
        return np.array(image.data, dtype=np.float32) / 255.0

    def effective(self) -> dict:
        import openvino as ov
        import openvino_genai

        return {
            "backend": self.name,
            "scheduler": self.scheduler["class"],
            "components": {},
            "openvino_genai": {
                "version": openvino_genai.get_version(),
                "openvino_version": ov.get_version(),
                "ir_dir": str(self.ir_dir.resolve()),
                "ir_quantization": self.ir_quantization,
                "view": str(self.view),
                "device": DEVICE,
                "properties": self.properties,
                "scheduler_type": self.scheduler["genai_type"],
                **self.proofs,
                "versions": versions(self.libraries),
                "timings": self.timings,
            },
        }


def _inputs(compiled) -> list[dict]:
    out = []
    for i in compiled.inputs:
        ps = i.get_partial_shape()
        out.append({"name": i.get_any_name(), "shape": str(ps), "static": ps.is_static})
    return out


BACKEND = OpenVINOGenAIBackend
