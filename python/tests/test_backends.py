"""The backend registry (one module per backend, found by file name) and the Backend contract."""

import ast
from pathlib import Path

import pytest

from ladder_worker import backends
from ladder_worker.backends.base import Backend
from ladder_worker.errors import UserError

BACKENDS_DIR = Path(backends.__file__).parent


def test_registry_lists_backend_files():
    # Adding a backend is adding a file: the registry lists every module but the shared ones, '_' as '-'.
    files = sorted(p.stem.replace("_", "-") for p in BACKENDS_DIR.glob("*.py") if p.stem not in ("__init__", "base"))
    assert backends.known() == files
    assert {"ipex", "openvino", "sleep", "torch", "torch-compile"} <= set(files)


def test_registry_finds_a_backend_by_its_file_name(tmp_path):
    b = backends.get("sleep", {"pass_s": 0.01}, tmp_path)
    assert type(b).__name__ == "SleepBackend" and isinstance(b, Backend)
    assert b.name == "sleep" and b.cache_dir == tmp_path
    # The options as given, every other one at the default of protocol/options.json.
    from ladder_worker.backends import sleep

    assert b.options == {**sleep.DEFAULTS, "pass_s": 0.01}


@pytest.mark.parametrize("name", ["nope", "base", "__init__", "../sleep", "sleep.py", "", "torch_backend"])
def test_unknown_backend_is_a_user_error_naming_the_known_ones(name, tmp_path):
    with pytest.raises(UserError, match=rf"unknown backend .*\(known: {', '.join(backends.known())}\)"):
        backends.get(name, {}, tmp_path)


def test_backend_modules_keep_the_real_torch():
    # backends/torch.py must not shadow the torch package for its siblings.
    import torch

    from ladder_worker.backends import torch as torch_backend

    assert torch_backend.torch is torch and hasattr(torch, "nn")
    assert torch_backend.BACKEND.name == "torch"


@pytest.mark.parametrize("path", sorted(BACKENDS_DIR.glob("*.py")), ids=lambda p: p.name)
def test_each_backend_module_sets_backend_and_its_name(path):
    """Checked from the source: a module may need libraries of another environment (openvino, ipex)."""
    if path.stem in ("__init__", "base"):
        return
    tree = ast.parse(path.read_text())
    assigned = {t.id: node.value for node in tree.body if isinstance(node, ast.Assign) for t in node.targets}
    assert isinstance(assigned.get("BACKEND"), ast.Name), f"{path.name}: no BACKEND = <class>"
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == assigned["BACKEND"].id)
    names = [n.value.value for n in cls.body if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "name"]
    assert names == [path.stem.replace("_", "-")]


class Complete(Backend):
    name = "complete"
    libraries = ("numpy", "no-such-distribution")
    export_options = ("int8", "group_size")

    def resolve_options(self, options):  # a backend of this test alone: no schema in protocol/options.json
        return dict(options or {})

    def load(self, info, scenario):
        pass

    def generate(self, *, seed, prompt, height, width, latents, guidance_scale, num_inference_steps, output_type):
        return None

    def effective(self):
        return {"backend": self.name}


@pytest.mark.parametrize("missing", ["load", "generate", "effective"])
def test_a_backend_missing_a_method_cannot_be_instantiated(missing):
    body = {
        "name": "incomplete",
        **{m: getattr(Complete, m) for m in ("load", "generate", "effective") if m != missing},
    }
    cls = type("Incomplete", (Backend,), body)
    with pytest.raises(TypeError, match=missing):
        cls({}, "/tmp")


def test_defaults_of_the_contract(tmp_path):
    b = Complete({"precision": "bf16"}, str(tmp_path))
    assert b.cache_dir == tmp_path and b.timings == {} and b.pipe is None
    assert b.roofline_pipe() is None
    with b.observe() as seen:
        assert seen is None
    t0 = b.clock()
    assert b.clock() >= t0
    assert list(b.versions()) == ["numpy"]  # absent distributions are left out


def test_cache_key_covers_export_options_only(tmp_path):
    def key(**options):
        return Complete(options, tmp_path).cache_key("/models/sd15")

    base = key(int8=False, precision="auto")
    assert len(base) == 12 and int(base, 16) >= 0
    assert key(int8=False, precision="auto") == base  # stable
    assert key(precision="auto", int8=False) == base  # option order does not matter
    assert key(int8=True, precision="auto") != base  # an export option changes the export
    assert key(int8=False, group_size=64, precision="auto") != base
    assert key(int8=False, precision="bf16", static_shape=True) == base  # applied after export: same IR
    assert Complete({"int8": False}, tmp_path).cache_key("/models/other") != base  # extra parts count


def test_cache_key_covers_name_and_library_versions(tmp_path, monkeypatch):
    b = Complete({}, tmp_path)
    key = b.cache_key("x")
    other_name = type("Other", (Complete,), {"name": "other"})({}, tmp_path)
    assert other_name.cache_key("x") != key
    monkeypatch.setattr(Complete, "versions", lambda self: {"numpy": "0.0.1"})
    assert b.cache_key("x") != key


def test_scheduler_names_come_from_the_shared_file(tmp_path):
    from ladder_worker.backends.torch import TorchBackend

    assert TorchBackend({}, tmp_path).scheduler_class() is None  # the schema's default: the model's own
    assert TorchBackend({"scheduler": "dpm"}, tmp_path).scheduler_class() == "DPMSolverMultistepScheduler"
    with pytest.raises(UserError, match=r"scheduler must be one of default, dpm, got 'euler'"):
        TorchBackend({"scheduler": "euler"}, tmp_path)


def test_openvino_ir_key_ignores_options_applied_after_export():
    """The OpenVINO module imports without openvino (its libraries are imported in load)."""
    from ladder_worker.backends.openvino import OpenVINOBackend

    assert OpenVINOBackend.export_options == ("quantization", "calibration_samples")
    keys = {OpenVINOBackend(o, "/c").cache_key("/m") for o in ({}, {"static_shape": True, "precision": "bf16"})}
    assert len(keys) == 1


def test_options_come_from_the_one_schema_with_its_defaults_and_limits(tmp_path):
    from ladder_worker import options

    # torch-compile defaults to bf16 and channels_last (its zod schema), not torch's fp32: one definition.
    compiled = options.resolve("torch-compile", {})
    assert compiled["dtype"] == "bf16" and compiled["channels_last"] is True
    assert options.resolve("torch", {})["dtype"] == "fp32"
    # The worker refuses what the controller's schema refuses, with the same limits.
    with pytest.raises(UserError, match=r"sleep backend: pass_s must be <= 3600, got 4000"):
        options.resolve("sleep", {"pass_s": 4000})
    with pytest.raises(UserError, match=r"openvino backend: unknown option 'precison'"):
        options.resolve("openvino", {"precison": "bf16"})
    with pytest.raises(UserError, match=r"openvino backend: precision must be one of auto, f32, bf16"):
        options.resolve("openvino", {"precision": "fp16"})
    # An option without a default is unset (None), as an absent one.
    assert options.resolve("openvino", {})["num_streams"] is None
    assert set(options.SCHEMAS) == set(backends.known())
