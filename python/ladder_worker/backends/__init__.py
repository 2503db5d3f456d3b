"""Backends: how a pipeline is loaded and called. Each is a class with load() and generate().
Imported lazily: each backend lives in its own environment with its own libraries."""
import importlib

from ..errors import UserError

BACKENDS = {
    "torch": ("torch_backend", "TorchBackend"),
    "openvino": ("openvino_backend", "OpenVINOBackend"),
    "ipex": ("ipex_backend", "IPEXBackend"),
}


def get(name: str, cache_dir: str):
    if name not in BACKENDS:
        raise UserError(f"unknown backend {name!r} (known: {', '.join(sorted(BACKENDS))})")
    module, cls = BACKENDS[name]
    backend = getattr(importlib.import_module(f".{module}", __package__), cls)()
    backend.cache_dir = cache_dir  # where a backend may cache what it derives from a model (OpenVINO IR)
    return backend
