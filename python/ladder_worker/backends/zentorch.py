"""AMD's zentorch: torch-compile's rung with torch.compile(backend="zentorch") (AMD EPYC CPUs only;
the controller skips it elsewhere). zentorch must match torch's minor version (2.14 with 2.14)."""

import importlib.metadata as md

import torch

from ..errors import UserError
from .base import minor
from .torch_compile import TorchCompileBackend


class ZentorchBackend(TorchCompileBackend):
    name = "zentorch"
    libraries = (*TorchCompileBackend.libraries, "zentorch")
    compile_backend = "zentorch"

    def load(self, info: dict, scenario: dict) -> None:
        try:
            version = md.version("zentorch")
        except md.PackageNotFoundError:
            raise UserError("zentorch is not installed in this environment") from None
        want, have = minor(version), minor(torch.__version__)
        if want != have:
            raise UserError(f"zentorch {version} needs torch {want}.*, found torch {torch.__version__}")
        import zentorch  # noqa: F401  (registers the "zentorch" torch.compile backend)

        super().load(info, scenario)


BACKEND = ZentorchBackend
