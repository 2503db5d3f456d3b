"""OpenVINO through optimum-intel: exported once per model (IR cached), dynamic or static shapes.

The article's rungs: `OVStableDiffusionPipeline.from_pretrained(model, export=True)` (dynamic), then
`reshape(batch_size=1, height, width, num_images_per_prompt=1)` (static). Precision is OpenVINO's own
choice unless the rung sets it, and is always read back from the compiled models.
"""
import hashlib
import importlib.metadata as md
import json
import os
import shutil
import time
from pathlib import Path

from ..errors import UserError

SUBMODELS = ("text_encoder", "unet", "vae_decoder", "vae_encoder")
IR_MARKER = "ladder_ir.json"
SCHEDULERS = {"default": None, "dpm": "DPMSolverMultistepScheduler"}


def _plain(v):
    """OpenVINO property values as plain values ('bf16', 'LATENCY', ints)."""
    import openvino as ov
    if isinstance(v, ov.Type):
        return v.get_type_name()
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    return str(v).split(".")[-1]


def _versions() -> dict:
    out = {}
    for dist in ("openvino", "optimum-intel", "optimum", "diffusers", "transformers", "torch"):
        try:
            out[dist] = md.version(dist)
        except md.PackageNotFoundError:
            pass
    return out


class OpenVINOBackend:
    name = "openvino"

    def load(self, info: dict, options: dict) -> dict:
        from optimum.intel import OVStableDiffusionPipeline

        scenario = options.get("scenario", {})
        self.static = bool(options.get("static_shape"))
        if self.static and not scenario.get("guidance_scale", 7.5) > 1:
            # reshape() sizes the UNet batch for classifier-free guidance (batch * images * 2).
            raise UserError("a static OpenVINO pipeline needs guidance_scale > 1")
        ov_config = {}
        precision = options.get("precision", "auto")
        if precision != "auto":
            ov_config["INFERENCE_PRECISION_HINT"] = precision
        if os.environ.get("OMP_NUM_THREADS"):
            # OpenVINO's CPU plugin has its own thread pool: the rung's thread count goes here.
            ov_config["INFERENCE_NUM_THREADS"] = int(os.environ["OMP_NUM_THREADS"])

        self.timings = {}
        ir_dir = self._export(info, OVStableDiffusionPipeline)
        t = time.perf_counter()
        self.pipe = OVStableDiffusionPipeline.from_pretrained(str(ir_dir), compile=False, device="CPU", ov_config=ov_config)
        self.timings["read_ir_s"] = time.perf_counter() - t
        scheduler = options.get("scheduler", "default")
        if SCHEDULERS.get(scheduler, "?") == "?":
            raise UserError(f"unknown scheduler {scheduler!r}")
        if SCHEDULERS[scheduler]:
            import diffusers
            self.pipe.scheduler = getattr(diffusers, SCHEDULERS[scheduler]).from_config(self.pipe.scheduler.config)
        if self.static:
            t = time.perf_counter()
            self.pipe.reshape(batch_size=1, height=scenario["height"], width=scenario["width"], num_images_per_prompt=1)
            self.timings["reshape_s"] = time.perf_counter() - t
        t = time.perf_counter()
        self.pipe.compile()
        self.timings["compile_s"] = time.perf_counter() - t
        self.pipe.set_progress_bar_config(disable=True)
        return self.effective(ir_dir)

    def _export(self, info: dict, cls) -> Path:
        """IR cached per model and per library versions; built in a temp folder and renamed into place."""
        versions = _versions()
        key = hashlib.sha256(json.dumps([info["path"], versions], sort_keys=True).encode()).hexdigest()[:12]
        ir_dir = Path(self.cache_dir) / "openvino-ir" / f"{Path(info['path']).name}-{key}"
        if (ir_dir / IR_MARKER).is_file():
            self.timings["export_s"] = 0.0
            return ir_dir
        t = time.perf_counter()
        exported = cls.from_pretrained(info["path"], export=True, compile=False)
        self.timings["export_s"] = time.perf_counter() - t
        tmp = ir_dir.with_name(f"{ir_dir.name}.tmp-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        exported.save_pretrained(str(tmp))
        (tmp / IR_MARKER).write_text(json.dumps({"source": info["path"], **versions}, indent=1))
        del exported
        shutil.rmtree(ir_dir, ignore_errors=True)
        ir_dir.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, ir_dir)
        return ir_dir

    def effective(self, ir_dir: Path) -> dict:
        import torch

        from .torch_backend import module_summary
        subs = {}
        for name in SUBMODELS:
            part = getattr(self.pipe, name, None)
            if part is None or part.request is None:
                continue
            compiled = part.request
            inputs = []
            # Names from the model (compiled names may be internal after reshape), shapes from the compiled model.
            for m_in, c_in in zip(part.model.inputs, compiled.inputs):
                ps = c_in.get_partial_shape()
                inputs.append({"name": m_in.get_any_name(), "shape": str(ps), "static": ps.is_static})
            subs[name] = {
                "inputs": inputs,
                "precision": _plain(compiled.get_property("INFERENCE_PRECISION_HINT")),
                "threads": int(compiled.get_property("INFERENCE_NUM_THREADS")),
                "streams": _plain(compiled.get_property("NUM_STREAMS")),
            }
        components = {}
        sc = getattr(self.pipe, "safety_checker", None)
        if isinstance(sc, torch.nn.Module):  # not converted by optimum-intel: still PyTorch, fp32
            components["safety_checker"] = module_summary(sc)
        return {
            "backend": self.name,
            "scheduler": type(self.pipe.scheduler).__name__,
            "components": components,
            "torch_threads": torch.get_num_threads(),
            "openvino": {"submodels": subs, "versions": _versions(), "ir_dir": str(ir_dir), "timings": self.timings},
        }

    def generate(self, seed: int, height: int, width: int, guidance_scale: float, **call):
        import torch
        if self.static and (height, width) != (self.pipe.height, self.pipe.width):
            # optimum-intel would silently render at the reshaped size: refuse instead.
            raise UserError(f"pipeline is static at {self.pipe.height}x{self.pipe.width}, asked {height}x{width}")
        generator = torch.Generator("cpu").manual_seed(seed)
        return self.pipe(generator=generator, height=height, width=width, guidance_scale=guidance_scale, **call).images
