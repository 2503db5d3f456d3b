"""Plain diffusers on PyTorch: the article's baseline, allocator and scheduler rungs.
The ipex backend builds on this class."""

import collections
import contextlib

import torch  # absolute: the real torch, not this module

from .base import Backend, call_pipeline

COMPONENTS = ("unet", "vae", "text_encoder", "safety_checker")


def is_channels_last(weight: torch.Tensor) -> bool:
    return weight.is_contiguous(memory_format=torch.channels_last) and not weight.is_contiguous()


def module_summary(module: torch.nn.Module) -> dict:
    dtypes = collections.Counter(str(p.dtype).replace("torch.", "") for p in module.parameters())
    # Only convolutions with a spatial kernel tell the formats apart (a 1x1 weight is both).
    convs = [
        m.weight
        for m in module.modules()
        if isinstance(m, torch.nn.Conv2d) and m.weight.dim() == 4 and m.weight.shape[2] * m.weight.shape[3] > 1
    ]
    return {
        "params": sum(p.numel() for p in module.parameters()),
        "param_dtypes": dict(dtypes),
        "spatial_convs": len(convs),
        "channels_last_convs": sum(is_channels_last(w) for w in convs),
    }


def converted_effective(backend) -> dict:
    """What every converted pipeline (OpenVINO, ONNX Runtime) reports beside its runtime's own proofs: its
    scheduler, and what it still runs in PyTorch, fp32 (the safety checker, which neither conversion
    touches) with how many threads."""
    sc = getattr(backend.pipe, "safety_checker", None)
    return {
        "backend": backend.name,
        "scheduler": type(backend.pipe.scheduler).__name__,
        "components": {"safety_checker": module_summary(sc)} if isinstance(sc, torch.nn.Module) else {},
        "torch_threads": torch.get_num_threads(),
    }


class TorchBackend(Backend):
    name = "torch"
    libraries = ("torch", "diffusers", "transformers")

    def load(self, info: dict, scenario: dict) -> None:
        self.pipe = self.diffusers_pipeline(info)
        if self.options.get("channels_last"):
            for name in self.components():
                setattr(self.pipe, name, getattr(self.pipe, name).to(memory_format=torch.channels_last))
        self.prepare()

    def prepare(self) -> None:
        """Hook for subclasses (IPEX) to transform the loaded components."""

    def components(self) -> list[str]:
        return [n for n in COMPONENTS if isinstance(getattr(self.pipe, n, None), torch.nn.Module)]

    def effective(self) -> dict:
        return {
            "backend": self.name,
            "scheduler": type(self.pipe.scheduler).__name__,
            "components": {n: self.summarize(getattr(self.pipe, n)) for n in self.components()},
            "torch_threads": torch.get_num_threads(),
        }

    def summarize(self, module) -> dict:
        return module_summary(module)

    def roofline_pipe(self):
        return self.pipe

    def explain(self, scenario: dict) -> dict:
        from .. import explain

        return explain.torch_profile(self, scenario, "bf16" if self.options.get("dtype") == "bf16" else "fp32")

    def autocast(self):
        if self.options.get("dtype") == "bf16":
            return torch.autocast("cpu", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    @contextlib.contextmanager
    def observe(self):
        """Records, inside the UNet's forward, the dtype it really computes in."""
        seen = {"unet_calls": 0, "autocast_dtype": None, "unet_output_dtype": None}

        def hook(_module, _args, output):
            seen["unet_calls"] += 1
            if torch.is_autocast_enabled("cpu"):
                seen["autocast_dtype"] = str(torch.get_autocast_dtype("cpu")).replace("torch.", "")
            sample = output[0] if isinstance(output, tuple) else getattr(output, "sample", output)
            seen["unet_output_dtype"] = str(sample.dtype).replace("torch.", "")

        handle = self.pipe.unet.register_forward_hook(hook)
        try:
            yield seen
        finally:
            handle.remove()

    def generate(self, **call):  # the arguments of Backend.generate, passed on as they are
        with torch.inference_mode(), self.autocast():
            return call_pipeline(self.pipe, **call)


BACKEND = TorchBackend
