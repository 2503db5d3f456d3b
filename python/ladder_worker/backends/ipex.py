"""The article's legacy IPEX stack (torch 2.8 + IPEX 2.8, the last CPU release): channels_last and
ipex.optimize(dtype=bfloat16) on unet, vae, text encoder and safety checker, run under bf16 autocast."""

import collections
import importlib.metadata as md

import torch

from .base import minor
from .torch import TorchBackend, is_channels_last

# IPEX adds these empty parameters to every prepacked module; they are not model weights.
IPEX_EMPTY_PREFIX = "_ipex_module_empty_"


class IPEXUnavailable(RuntimeError):
    """IPEX cannot run here; the message is IPEX's own reason in one line."""


def import_ipex():
    # IPEX's own failure modes are unreadable (a torch mismatch prints to stdout then dies on its own
    # `os.exit` bug), so the known ones are checked first and reported plainly.
    try:
        version = md.version("intel-extension-for-pytorch")
    except md.PackageNotFoundError:
        raise IPEXUnavailable("intel-extension-for-pytorch is not installed in this environment") from None
    want, have = minor(version), minor(torch.__version__)
    if want != have:
        raise IPEXUnavailable(
            f"intel-extension-for-pytorch {version} needs torch {want}.*, found torch {torch.__version__}"
        )
    try:
        import intel_extension_for_pytorch as ipex
    except Exception as exc:
        raise IPEXUnavailable(f"import intel_extension_for_pytorch failed: {type(exc).__name__}: {exc}") from exc
    return ipex


def is_ipex_module(m) -> bool:
    return type(m).__module__.startswith("intel_extension_for_pytorch")


def conv_kernel_and_layout(m):
    """(kernel elements, channels_last?) of a conv, plain or IPEX-prepacked (whose weight is a
    blocked oneDNN tensor: IPEX records the logical size and the layout it packed for)."""
    if is_ipex_module(m):
        size = getattr(m, "weight_size", None)
        kernel = int(size[2] * size[3]) if size is not None and len(size) == 4 else 0
        return kernel, bool(getattr(m, "weight_channels_last", False))
    w = m.weight
    return (int(w.shape[2] * w.shape[3]) if w.dim() == 4 else 0), is_channels_last(w)


class IPEXBackend(TorchBackend):
    name = "ipex"
    libraries = (*TorchBackend.libraries, "intel-extension-for-pytorch")

    def prepare(self) -> None:
        if not self.options.get("ipex"):
            return
        ipex = import_ipex()
        dtype = torch.bfloat16 if self.options.get("dtype") == "bf16" else None
        if dtype is torch.bfloat16 and not ipex._C.onednn_has_bf16_support():
            raise IPEXUnavailable("IPEX: this CPU has no bf16 support usable by oneDNN")
        for name in self.components():
            module = getattr(self.pipe, name).to(memory_format=torch.channels_last)
            # The return value is used, as in the article: ipex.optimize may return a new module.
            setattr(self.pipe, name, ipex.optimize(module.eval(), dtype=dtype, inplace=True))

    def summarize(self, module) -> dict:
        dtypes = collections.Counter()
        params = 0
        for mod in module.modules():
            for pname, p in mod.named_parameters(recurse=False):
                if pname.startswith(IPEX_EMPTY_PREFIX):
                    continue
                dtypes[str(p.dtype).replace("torch.", "")] += 1
                size = getattr(mod, "weight_size", None) if pname == "weight" and is_ipex_module(mod) else None
                params += int(torch.Size(size).numel()) if size is not None else p.numel()
        convs = [
            conv_kernel_and_layout(m)
            for m in module.modules()
            if isinstance(m, torch.nn.Conv2d) or type(m).__name__ == "_IPEXConv2d"
        ]
        spatial = [cl for kernel, cl in convs if kernel > 1]
        return {
            "params": params,
            "param_dtypes": dict(dtypes),
            "spatial_convs": len(spatial),
            "channels_last_convs": sum(spatial),
            "ipex_modules": sum(1 for m in module.modules() if is_ipex_module(m)),
        }

    def effective(self) -> dict:
        out = super().effective()
        try:
            from intel_extension_for_pytorch import _C as core

            out["ipex"] = {
                "version": md.version("intel-extension-for-pytorch"),
                "isa": core._get_current_isa_level(),
                "amx": bool(core.isa_has_amx_support()),
                "avx512_bf16": bool(core.isa_has_avx512_bf16_support()),
            }
        except Exception:  # IPEX not imported (ipex: false): nothing to report
            pass
        return out


BACKEND = IPEXBackend
