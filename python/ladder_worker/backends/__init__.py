"""Backends: how a pipeline is loaded and called. A backend is one module of this package,
`<name>.py` with '-' in its name written '_', that sets `BACKEND = <a base.Backend subclass>`: the
registry finds it by file name, there is no list to edit. Modules are imported only when asked for:
each backend lives in its own environment with its own libraries."""

import importlib
from pathlib import Path

from ..errors import UserError
from .base import Backend

NOT_BACKENDS = {"base"}


def module_name(name: str) -> str:
    return name.replace("-", "_")


def known() -> list[str]:
    """The backend names, from the files of this folder (nothing is imported)."""
    stems = (p.stem for p in Path(__file__).parent.glob("*.py"))
    return sorted(s.replace("_", "-") for s in stems if not s.startswith("_") and s not in NOT_BACKENDS)


def get_class(name: str) -> type[Backend]:
    if not isinstance(name, str) or name not in known():
        raise UserError(f"unknown backend {name!r} (known: {', '.join(known())})")
    module = importlib.import_module(f".{module_name(name)}", __package__)
    cls = getattr(module, "BACKEND", None)
    if not (isinstance(cls, type) and issubclass(cls, Backend)):
        raise TypeError(f"backends/{module_name(name)}.py does not set BACKEND to a Backend subclass")
    if cls.name != name:
        raise TypeError(f"backends/{module_name(name)}.py: BACKEND.name is {cls.name!r}, expected {name!r}")
    return cls


def get(name: str, options: dict, cache_dir) -> Backend:
    """An instance of backend `name` for a rung's options (defaults already applied by the controller)."""
    return get_class(name)(options, cache_dir)
