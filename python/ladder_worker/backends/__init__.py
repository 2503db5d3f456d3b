"""Backends: how a pipeline is loaded and called. Each is a class with load() and generate()."""
from .torch_backend import TorchBackend

BACKENDS = {"torch": TorchBackend}


def get(name: str):
    from ..errors import UserError
    try:
        return BACKENDS[name]()
    except KeyError:
        raise UserError(f"unknown backend {name!r} (known: {', '.join(sorted(BACKENDS))})") from None
