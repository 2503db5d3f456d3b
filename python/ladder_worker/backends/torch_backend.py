"""Plain diffusers on PyTorch: the article's baseline, allocator and scheduler rungs."""
import collections

import torch

from .. import models
from ..errors import UserError

SCHEDULERS = {
    "default": None,  # whatever the model folder says (PNDM for SD 1.5)
    "dpm": "DPMSolverMultistepScheduler",
}


def module_summary(module: torch.nn.Module) -> dict:
    dtypes = collections.Counter(str(p.dtype).replace("torch.", "") for p in module.parameters())
    convs = [m.weight for m in module.modules() if isinstance(m, torch.nn.Conv2d)]
    return {
        "params": sum(p.numel() for p in module.parameters()),
        "param_dtypes": dict(dtypes),
        "convs": len(convs),
        "channels_last_convs": sum(w.is_contiguous(memory_format=torch.channels_last) and not w.is_contiguous() for w in convs),
    }


class TorchBackend:
    name = "torch"

    def load(self, info: dict, options: dict) -> dict:
        import diffusers
        scheduler = options.get("scheduler", "default")
        if scheduler not in SCHEDULERS:
            raise UserError(f"unknown scheduler {scheduler!r} (known: {', '.join(SCHEDULERS)})")
        kwargs = {}
        if SCHEDULERS[scheduler]:
            cls = getattr(diffusers, SCHEDULERS[scheduler])
            kwargs["scheduler"] = cls.from_pretrained(info["path"], subfolder="scheduler")
        self.pipe = models.load_pipeline(info, **kwargs)
        self.pipe.set_progress_bar_config(disable=True)
        return self.effective()

    def effective(self) -> dict:
        components = {name: module_summary(getattr(self.pipe, name))
                      for name in ("unet", "vae", "text_encoder", "safety_checker")
                      if isinstance(getattr(self.pipe, name, None), torch.nn.Module)}
        return {
            "backend": self.name,
            "scheduler": type(self.pipe.scheduler).__name__,
            "components": components,
            "torch_threads": torch.get_num_threads(),
        }

    def generate(self, seed: int, **call):
        generator = torch.Generator("cpu").manual_seed(seed)
        with torch.inference_mode():
            return self.pipe(generator=generator, **call).images
