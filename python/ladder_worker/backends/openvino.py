"""OpenVINO through optimum-intel: exported once per model (IR cached), dynamic or static shapes.

The article's rungs: `OVStableDiffusionPipeline.from_pretrained(model, export=True)` (dynamic), then
`reshape(batch_size=1, height, width, num_images_per_prompt=1)` (static). Precision is OpenVINO's own
choice unless the rung sets it, and is always read back from the compiled models.
"""

import json
import os
import shutil
import time
from pathlib import Path

from .. import models
from ..errors import UserError
from ..scenario import DEFAULTS
from .base import Backend, versions

SUBMODELS = ("text_encoder", "unet", "vae_decoder", "vae_encoder")
# Every from_pretrained: files of this machine only, never a model's own code.
LOCAL_ONLY = {"local_files_only": True, "trust_remote_code": False}
IR_MARKER = "ladder_ir.json"


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


class OpenVINOBackend(Backend):
    name = "openvino"
    libraries = ("openvino", "optimum-intel", "optimum", "diffusers", "transformers", "torch")
    # static_shape, precision and scheduler are applied after the IR is read: none changes the export.
    export_options = ()

    def load(self, info: dict, scenario: dict) -> None:
        # Safetensors only, no code of the model's own: refused before optimum is even imported.
        models.refuse_unsafe_folder(info["path"])
        from optimum.intel import OVStableDiffusionPipeline

        scenario = {**DEFAULTS, **scenario}
        self.static = bool(self.options.get("static_shape"))
        if self.static and not scenario["guidance_scale"] > 1:
            # reshape() sizes the UNet batch for classifier-free guidance (batch * images * 2).
            raise UserError("a static OpenVINO pipeline needs guidance_scale > 1")
        scheduler = self.scheduler_class()
        ov_config = {}
        precision = self.options.get("precision", "auto")
        if precision != "auto":
            ov_config["INFERENCE_PRECISION_HINT"] = precision
        if os.environ.get("OMP_NUM_THREADS"):
            # OpenVINO's CPU plugin has its own thread pool: the rung's thread count goes here.
            ov_config["INFERENCE_NUM_THREADS"] = int(os.environ["OMP_NUM_THREADS"])

        self.ir_dir = self._export(info, OVStableDiffusionPipeline)
        t = time.perf_counter()
        self.pipe = OVStableDiffusionPipeline.from_pretrained(
            str(self.ir_dir), compile=False, device="CPU", ov_config=ov_config, **LOCAL_ONLY
        )
        self.timings["read_ir_s"] = time.perf_counter() - t
        if scheduler:
            import diffusers

            self.pipe.scheduler = getattr(diffusers, scheduler).from_config(self.pipe.scheduler.config)
        if self.static:
            t = time.perf_counter()
            self.pipe.reshape(batch_size=1, height=scenario["height"], width=scenario["width"], num_images_per_prompt=1)
            self.timings["reshape_s"] = time.perf_counter() - t
        t = time.perf_counter()
        self.pipe.compile()
        self.timings["compile_s"] = time.perf_counter() - t
        self.pipe.set_progress_bar_config(disable=True)

    def _export(self, info: dict, cls) -> Path:
        """IR cached per model, export options and library versions (cache_key); built in a temp folder and
        renamed into place."""
        key = self.cache_key(info["path"])
        ir_dir = self.cache_dir / "openvino-ir" / f"{Path(info['path']).name}-{key}"
        if (ir_dir / IR_MARKER).is_file():
            self.timings["export_s"] = 0.0
            return ir_dir
        tmp = ir_dir.with_name(f"{ir_dir.name}.tmp-{os.getpid()}")
        view = ir_dir.with_name(f"{ir_dir.name}.view-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(view, ignore_errors=True)
        t = time.perf_counter()
        try:
            # optimum's export takes no use_safetensors: it reads a view of the folder without pickled weights.
            source = models.safetensors_view(info["path"], view)
            exported = cls.from_pretrained(str(source), export=True, compile=False, **LOCAL_ONLY)
        finally:
            shutil.rmtree(view, ignore_errors=True)
        self.timings["export_s"] = time.perf_counter() - t
        exported.save_pretrained(str(tmp))
        export = {k: self.options.get(k) for k in self.export_options}
        marker = {"source": info["path"], "key": key, "export_options": export, **self.versions()}
        (tmp / IR_MARKER).write_text(json.dumps(marker, indent=1))
        del exported
        shutil.rmtree(ir_dir, ignore_errors=True)
        ir_dir.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, ir_dir)
        return ir_dir

    def effective(self) -> dict:
        import torch

        from .torch import module_summary

        subs = {}
        for name in SUBMODELS:
            part = getattr(self.pipe, name, None)
            if part is None or part.request is None:
                continue
            compiled = part.request
            inputs = []
            # Names from the model (compiled names may be internal after reshape), shapes from the compiled model.
            for m_in, c_in in zip(part.model.inputs, compiled.inputs, strict=False):
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
            "openvino": {
                "submodels": subs,
                "versions": versions(self.libraries),
                "ir_dir": str(self.ir_dir),
                "timings": self.timings,
            },
        }

    def generate(self, *, seed, prompt, height, width, latents, guidance_scale, num_inference_steps, output_type):
        import torch

        if self.static and (height, width) != (self.pipe.height, self.pipe.width):
            # optimum-intel would silently render at the reshaped size: refuse instead.
            raise UserError(f"pipeline is static at {self.pipe.height}x{self.pipe.width}, asked {height}x{width}")
        generator = torch.Generator("cpu").manual_seed(seed)
        return self.pipe(
            prompt=prompt,
            height=height,
            width=width,
            latents=latents,
            guidance_scale=guidance_scale,
            num_inference_steps=num_inference_steps,
            output_type=output_type,
            generator=generator,
        ).images


BACKEND = OpenVINOBackend
