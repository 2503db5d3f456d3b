"""Tests for ladder_worker.models: no network, only the tiny synthetic pipeline is built."""

import hashlib
import json
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ladder_worker import models  # noqa: E402
from ladder_worker.models import ModelError  # noqa: E402

pytestmark = pytest.mark.real  # the tiny pipeline, built and run


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """One tiny build shared by the tests of this module (a build takes a few seconds)."""
    cache = tmp_path_factory.mktemp("model-cache")
    # Leftover of a build that was killed: must be cleaned, never mistaken for a model.
    stale = cache / f".synthetic-tiny-b{models.BUILDER_VERSION}.tmp-999999"
    stale.mkdir()
    info = models.resolve_model("synthetic:tiny", cache)
    assert not stale.exists()
    return cache, info


@pytest.fixture
def empty_hf_cache(tmp_path, monkeypatch):
    hub = tmp_path / "hf-hub"
    hub.mkdir()
    monkeypatch.setenv("HF_HUB_CACHE", str(hub))
    return hub


def fake_hub_snapshot(hub: Path, repo_id: str, files) -> Path:
    """Lay out a repo in HF's cache format (refs/main -> snapshots/<hash>) with empty files."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = hub / ("models--" + repo_id.replace("/", "--"))
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    snap = repo / "snapshots" / commit
    for f in files:
        (snap / f).parent.mkdir(parents=True, exist_ok=True)
        (snap / f).write_text("{}")
    return snap


FULL_SNAPSHOT = [
    "model_index.json",
    "unet/config.json",
    "unet/diffusion_pytorch_model.safetensors",
    "vae/diffusion_pytorch_model.safetensors",
    "text_encoder/model.safetensors",
]


def test_tokenizer_gives_real_clip_ids(tmp_path):
    tok = models.make_clip_tokenizer(tmp_path / "tok")
    assert tok("a photo of a cat").input_ids == [49406, 320, 1125, 539, 320, 2368, 49407]
    assert tok.model_max_length == 77
    assert tok.pad_token == "<|endoftext|>"
    assert len(tok) == 49408
    # The folder has the files of the real SD 1.5 tokenizer (older transformers need them).
    for name in ("vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json"):
        assert (tmp_path / "tok" / name).is_file()


def test_tiny_build_resolve_load_and_generate(tiny):
    cache, info = tiny
    assert info["kind"] == "synthetic"
    assert info["built"] is True
    assert info["real_weights"] is False
    assert info["spec"] == "synthetic:tiny"
    assert Path(info["path"]) == cache / f"synthetic-tiny-b{models.BUILDER_VERSION}"
    assert (Path(info["path"]) / "model_index.json").is_file()
    assert list(Path(info["path"]).rglob("*.bin")) == []  # safetensors only

    pipe = models.load_pipeline(info)
    params = models.component_params(pipe)
    assert set(params) == {"unet", "vae", "text_encoder", "safety_checker"}
    assert all(n > 0 for n in params.values())
    assert pipe.text_encoder.config.vocab_size == 49408
    assert pipe.tokenizer("a photo of a cat").input_ids == [49406, 320, 1125, 539, 320, 2368, 49407]

    out = pipe("sailing ship in storm by Rembrandt", height=64, width=64, num_inference_steps=2, output_type="np")
    assert out.images.shape == (1, 64, 64, 3)
    assert out.images.dtype.kind == "f"


def test_cache_is_reused(tiny):
    cache, first = tiny
    again = models.resolve_model("synthetic:tiny", cache)
    assert again["built"] is False
    assert again["path"] == first["path"]


def test_build_is_deterministic(tiny, tmp_path):
    _, info = tiny
    models.build_synthetic("tiny", tmp_path / "again")

    def digest(p):
        return hashlib.sha256(Path(p).read_bytes()).hexdigest()

    for rel in ("unet/diffusion_pytorch_model.safetensors", "text_encoder/model.safetensors"):
        assert digest(Path(info["path"]) / rel) == digest(tmp_path / "again" / rel)


def test_copied_synthetic_folder_is_local_without_real_weights(tiny, tmp_path):
    _, info = tiny
    copy = tmp_path / "copy"
    shutil.copytree(info["path"], copy)
    got = models.resolve_model(str(copy), tmp_path / "cache")
    assert got["kind"] == "local"
    assert got["real_weights"] is False
    assert got["path"] == str(copy.resolve())


def test_auto_picks_synthetic_when_hf_cache_empty(empty_hf_cache):
    choice = models.decide_auto()
    assert choice["kind"] == "synthetic"
    assert choice["name"] == "synthetic:sd15"
    assert "synthetic:sd15" in choice["note"]


def test_auto_picks_cached_real_weights(empty_hf_cache):
    snap = fake_hub_snapshot(empty_hf_cache, "runwayml/stable-diffusion-v1-5", FULL_SNAPSHOT)
    choice = models.decide_auto()
    assert choice["kind"] == "hub"
    assert choice["name"] == "runwayml/stable-diffusion-v1-5"
    assert Path(choice["path"]) == snap

    info = models.resolve_model("auto", empty_hf_cache / "unused")
    assert info["kind"] == "hub" and info["real_weights"] is True and info["built"] is False
    assert not (empty_hf_cache / "unused").exists()  # nothing was built


def test_auto_ignores_partial_snapshot(empty_hf_cache):
    fake_hub_snapshot(empty_hf_cache, "stable-diffusion-v1-5/stable-diffusion-v1-5", ["model_index.json"])
    assert models.decide_auto()["kind"] == "synthetic"


def test_hub_id_not_cached(empty_hf_cache, tmp_path):
    with pytest.raises(ModelError, match="not in the local Hugging Face cache"):
        models.resolve_model("runwayml/stable-diffusion-v1-5", tmp_path / "cache")


def test_local_folder_without_model_index(tmp_path):
    folder = tmp_path / "not-a-pipeline"
    folder.mkdir()
    (folder / "unet").mkdir()
    with pytest.raises(ModelError, match="model_index.json"):
        models.resolve_model(str(folder), tmp_path / "cache")


@pytest.mark.parametrize("spec", ["synthetic:foo", "no such model", "/definitely/not/here", "./missing/dir/x", ""])
def test_unknown_spec(spec, tmp_path):
    with pytest.raises(ModelError) as err:
        models.resolve_model(spec, tmp_path / "cache")
    assert "\n" not in str(err.value)
    assert not (tmp_path / "cache").exists()


def test_trust_remote_code_refused(tiny):
    _, info = tiny
    with pytest.raises(ModelError):
        models.load_pipeline(info, trust_remote_code=True)


# ---------------------------------------------------------------------------------------------
# Safety: safetensors only, local only, no remote code


def pickled_copy(tiny_path: str, dest: Path) -> Path:
    """The tiny pipeline with its UNet weights as a pickled .bin only (a real torch.save file)."""
    import torch
    from safetensors.torch import load_file

    shutil.copytree(tiny_path, dest)
    st = dest / "unet" / "diffusion_pytorch_model.safetensors"
    torch.save(load_file(st), dest / "unet" / "diffusion_pytorch_model.bin")
    st.unlink()
    return dest


def custom_code_copy(tiny_path: str, dest: Path) -> Path:
    """The tiny pipeline with a custom component module shipped in its unet folder."""
    shutil.copytree(tiny_path, dest)
    (dest / "unet" / "my_unet.py").write_text("raise SystemExit('custom code ran')\n")
    return dest


def test_pickled_only_weights_are_refused(tiny, tmp_path):
    _, info = tiny
    folder = pickled_copy(info["path"], tmp_path / "pickled")
    with pytest.raises(models.UnsafeModelError) as err:
        models.resolve_model(str(folder), tmp_path / "cache")
    msg = str(err.value)
    assert "\n" not in msg and "unet/ has only pickled weights (diffusion_pytorch_model.bin)" in msg
    assert "safetensors only" in msg and isinstance(err.value, ModelError)
    for suffix in (".pt", ".ckpt", ".pth"):
        (folder / "unet" / "diffusion_pytorch_model.bin").rename(folder / "unet" / f"weights{suffix}")
        with pytest.raises(ModelError, match=rf"unet/ has only pickled weights \(weights\{suffix}\)"):
            models.resolve_model(str(folder), tmp_path / "cache")
        (folder / "unet" / f"weights{suffix}").rename(folder / "unet" / "diffusion_pytorch_model.bin")


@pytest.mark.parametrize("xml", ["", "<?xml version='1.0'?>\n<net name='x' version='11'/>"])
def test_a_pickle_beside_an_xml_is_not_openvino_ir(tiny, tmp_path, xml):
    # Hardening II: an .xml beside a torch.save .bin used to pass it off as IR weights, and it was loaded.
    _, info = tiny
    folder = pickled_copy(info["path"], tmp_path / "disguised")
    (folder / "unet" / "diffusion_pytorch_model.xml").write_text(xml)
    with pytest.raises(
        models.UnsafeModelError, match=r"unet/ has only pickled weights \(diffusion_pytorch_model.bin\)"
    ):
        models.resolve_model(str(folder), tmp_path / "cache")


def test_pickled_weights_beside_safetensors_and_openvino_ir_bins_are_accepted(tiny, tmp_path):
    _, info = tiny
    folder = tmp_path / "both"
    shutil.copytree(info["path"], folder)
    (folder / "unet" / "diffusion_pytorch_model.bin").write_bytes(b"never read")
    (folder / "v1-5-pruned.ckpt").write_bytes(b"a root single-file checkpoint: not a component")
    (folder / "ir").mkdir()
    (folder / "ir" / "openvino_model.xml").write_text("<net/>")
    (folder / "ir" / "openvino_model.bin").write_bytes(b"raw tensors")
    assert models.resolve_model(str(folder), tmp_path / "cache")["kind"] == "local"


@pytest.mark.parametrize("where", ["unet/my_unet.py", "pipeline.py", "scheduler/sub/helper.py"])
def test_a_folder_shipping_python_code_is_refused(tiny, tmp_path, where):
    _, info = tiny
    folder = tmp_path / "custom"
    shutil.copytree(info["path"], folder)
    (folder / where).parent.mkdir(parents=True, exist_ok=True)
    (folder / where).write_text("raise SystemExit('custom code ran')\n")
    with pytest.raises(models.UnsafeModelError, match=rf"ships Python code \({where}\)") as err:
        models.resolve_model(str(folder), tmp_path / "cache")
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("library", ["unet", "my_package", "os", "diffusers.pipelines", None])
def test_a_component_class_from_another_module_is_refused(tiny, tmp_path, library):
    _, info = tiny
    folder = tmp_path / "index"
    shutil.copytree(info["path"], folder)
    index = json.loads((folder / "model_index.json").read_text())
    assert index["safety_checker"] == ["stable_diffusion", "StableDiffusionSafetyChecker"]  # diffusers' own: fine
    index["unet"] = [library, "MyUNet"]
    (folder / "model_index.json").write_text(json.dumps(index))
    if library is None:  # [null, null]-style: no component
        models.resolve_model(str(folder), tmp_path / "cache")
        return
    with pytest.raises(models.UnsafeModelError, match=rf"component 'unet' is {library}\.MyUNet, not a diffusers"):
        models.resolve_model(str(folder), tmp_path / "cache")


def test_hub_snapshots_are_checked_too(empty_hf_cache, tmp_path):
    snap = fake_hub_snapshot(empty_hf_cache, "runwayml/stable-diffusion-v1-5", [*FULL_SNAPSHOT, "unet/unet.py"])
    with pytest.raises(models.UnsafeModelError, match=r"ships Python code \(unet/unet.py\)"):
        models.resolve_model("runwayml/stable-diffusion-v1-5", tmp_path / "cache")
    choice = models.decide_auto()  # auto falls back to the synthetic model, and says why
    assert choice["kind"] == "synthetic" and "runwayml/stable-diffusion-v1-5 refused" in choice["note"]
    (snap / "unet" / "unet.py").unlink()
    (snap / "safety_checker").mkdir()
    (snap / "safety_checker" / "pytorch_model.bin").write_text("{}")
    with pytest.raises(models.UnsafeModelError, match=r"safety_checker/ has only pickled weights"):
        models.resolve_model("runwayml/stable-diffusion-v1-5", tmp_path / "cache")


def test_torch_backend_refuses_unsafe_folders_at_load(tiny, tmp_path):
    """Even a folder that skipped resolve_model never reaches from_pretrained (and torch.load)."""
    from ladder_worker.backends import get
    from ladder_worker.scenario import DEFAULTS

    _, info = tiny
    for folder in (pickled_copy(info["path"], tmp_path / "pickled"), custom_code_copy(info["path"], tmp_path / "code")):
        with pytest.raises(models.UnsafeModelError):
            get("torch", {}, tmp_path).load({**info, "path": str(folder)}, DEFAULTS)


def test_openvino_backend_refuses_unsafe_folders_before_importing_optimum(tiny, tmp_path):
    from ladder_worker.backends import get
    from ladder_worker.scenario import DEFAULTS

    _, info = tiny
    options = {"static_shape": False, "precision": "auto", "scheduler": "default"}
    for folder in (pickled_copy(info["path"], tmp_path / "pickled"), custom_code_copy(info["path"], tmp_path / "code")):
        with pytest.raises(models.UnsafeModelError):
            get("openvino", options, tmp_path).load({**info, "path": str(folder)}, DEFAULTS)
    assert "optimum.intel" not in sys.modules


def test_safetensors_view_leaves_pickled_weights_out(tiny, tmp_path):
    _, info = tiny
    folder = tmp_path / "both"
    shutil.copytree(info["path"], folder)
    (folder / "unet" / "diffusion_pytorch_model.bin").write_bytes(b"never read")
    (folder / "text_encoder" / "pytorch_model.bin").write_bytes(b"never read")
    view = models.safetensors_view(folder, tmp_path / "view")
    files = sorted(str(p.relative_to(view)) for p in view.rglob("*") if p.is_file())
    originals = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    assert files == [f for f in originals if not f.endswith(".bin")]
    assert "unet/diffusion_pytorch_model.safetensors" in files
    assert (view / "unet" / "diffusion_pytorch_model.safetensors").resolve() == (
        folder / "unet" / "diffusion_pytorch_model.safetensors"
    )


def test_every_from_pretrained_is_local_only_and_never_trusts_remote_code():
    """Checked from the source: the openvino and ipex modules need libraries of other environments."""
    import ast

    root = Path(models.__file__).parent
    calls = []
    for path in [root / "models.py", *sorted((root / "backends").glob("*.py"))]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "from_pretrained":
                kw = {k.arg: k.value for k in node.keywords}
                spread = [k.value for k in node.keywords if k.arg is None]
                local = isinstance(kw.get("local_files_only"), ast.Constant) and kw["local_files_only"].value is True
                local = local or any(getattr(s, "id", "") == "LOCAL_ONLY" for s in spread)
                trust = kw.get("trust_remote_code")
                trusted = trust is not None and not (isinstance(trust, ast.Constant) and trust.value is False)
                calls.append((path.name, node.lineno, local, trusted))
    assert len(calls) >= 5
    assert [c for c in calls if not c[2] or c[3]] == []
    from ladder_worker.backends.openvino import LOCAL_ONLY

    assert LOCAL_ONLY == {"local_files_only": True, "trust_remote_code": False}
