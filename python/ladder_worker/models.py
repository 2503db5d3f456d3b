"""Which Stable Diffusion pipeline a worker benchmarks, and how to get it without a model hub.

This machine never reaches Hugging Face, so besides real weights found in the local HF cache we
can build "synthetic" pipelines: SD 1.5's exact architecture with random weights. Latency depends
on shapes, not on weight values, so they time like the real model (their images are noise).
Synthetic pipelines are written to disk in the normal diffusers layout and loaded back through the
ordinary `from_pretrained` path, so every backend sees exactly what it would see with real weights.
"""

from __future__ import annotations

import contextlib
import fcntl
import gzip
import importlib.util
import json
import os
import re
import shutil
import site
import sys
from pathlib import Path

# Bump whenever the synthetic configs or the builder change: it is part of the cache folder name,
# so stale builds are never reused.
BUILDER_VERSION = 1

SYNTHETIC_NAMES = ("sd15", "tiny")
SD15_HUB_IDS = ("stable-diffusion-v1-5/stable-diffusion-v1-5", "runwayml/stable-diffusion-v1-5")
# Written into synthetic builds so a copied folder is still recognised as random weights.
SYNTHETIC_MARKER = "ladder_synthetic.json"
BUILD_SEED = 1234

ACCEPTED_FORMS = (
    "'auto', 'synthetic:sd15', 'synthetic:tiny', a local diffusers folder (with model_index.json) "
    "or a Hugging Face id such as 'runwayml/stable-diffusion-v1-5' (local HF cache only)"
)

# Only the files a diffusers fp32 safetensors load needs: the SD 1.5 repo also holds multi-GB
# root checkpoints and fp16/non_ema variants that a cache usually lacks (and we do not want).
HUB_ALLOW_PATTERNS = [
    "model_index.json",
    "*/*.json",
    "*/*.txt",
    "*/diffusion_pytorch_model.safetensors",
    "*/model.safetensors",
]
_HUB_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$")


class ModelError(Exception):
    """A model spec that cannot be honoured; the message is one human line."""


class UnsafeModelError(ModelError):
    """A model folder refused for safety: pickled weights only, or code of its own."""


# Weight files read with pickle (torch.load): never loaded, whatever the backend.
PICKLE_WEIGHT_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")
# The libraries a model_index.json component may come from (besides diffusers' own pipeline modules,
# such as SD 1.5's ["stable_diffusion", "StableDiffusionSafetyChecker"]).
TRUSTED_LIBRARIES = ("diffusers", "transformers")
_MODULE_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


# ---------------------------------------------------------------------------------------------
# Resolution


def resolve_model(spec: str, cache_dir: str | os.PathLike) -> dict:
    """Turn a model spec into a folder that `load_pipeline` can open (see module docstring)."""
    spec = str(spec).strip()
    if not spec:  # Path("") would mean the current directory
        raise ModelError(f"empty model spec; accepted forms: {ACCEPTED_FORMS}")
    if spec == "auto":
        choice = decide_auto()
        if choice["kind"] == "hub":
            return _info(spec, "hub", choice["name"], choice["path"], True, False, choice["note"])
        path, built = ensure_synthetic("sd15", cache_dir)
        return _info(spec, "synthetic", "synthetic:sd15", path, False, built, choice["note"])

    if spec.startswith("synthetic:"):
        name = spec.split(":", 1)[1]
        if name not in SYNTHETIC_NAMES:
            raise ModelError(f"unknown synthetic model {spec!r}; accepted forms: {ACCEPTED_FORMS}")
        path, built = ensure_synthetic(name, cache_dir)
        how = "built now" if built else "taken from the cache"
        note = f"{spec}: SD 1.5 pipeline structure with random weights ({how}, {path})"
        return _info(spec, "synthetic", spec, path, False, built, note)

    local = Path(spec).expanduser()
    if local.exists():
        if not local.is_dir() or not (local / "model_index.json").is_file():
            raise ModelError(f"{spec} is not a diffusers pipeline folder (no model_index.json in it)")
        refuse_unsafe_folder(local)
        real = not (local / SYNTHETIC_MARKER).is_file()
        path = str(local.resolve())
        kind_words = "real weights" if real else "a synthetic build (random weights)"
        return _info(spec, "local", path, path, real, False, f"local folder {path}: {kind_words}")

    if _HUB_ID_RE.match(spec):
        path = find_cached_hub_model(spec)
        return _info(spec, "hub", spec, path, True, False, f"{spec} from the local Hugging Face cache ({path})")

    raise ModelError(f"unknown model spec {spec!r}; accepted forms: {ACCEPTED_FORMS}")


def _info(spec, kind, name, path, real_weights, built, note) -> dict:
    return {
        "spec": spec,
        "kind": kind,
        "name": name,
        "path": str(path),
        "real_weights": real_weights,
        "built": built,
        "note": note,
    }


def decide_auto() -> dict:
    """What 'auto' means on this machine, without building anything (kept apart so it is testable).

    Returns {"kind": "hub", "name": id, "path": folder, "note"} for real SD 1.5 weights in the local
    HF cache, else {"kind": "synthetic", "name": "synthetic:sd15", "path": None, "note"}.
    """
    refused = []
    for repo_id in SD15_HUB_IDS:
        try:
            path = find_cached_hub_model(repo_id)
        except UnsafeModelError as exc:
            refused.append(f"{repo_id} refused: {exc}")
            continue
        except ModelError:
            continue
        return {
            "kind": "hub",
            "name": repo_id,
            "path": path,
            "note": f"auto: real SD 1.5 weights found in the local Hugging Face cache ({repo_id})",
        }
    return {
        "kind": "synthetic",
        "name": "synthetic:sd15",
        "path": None,
        "note": (
            f"auto: no SD 1.5 weights in the local Hugging Face cache ({hf_cache_dir()}), "
            "using synthetic:sd15 (random weights)" + "".join(f"; {r}" for r in refused)
        ),
    }


def hf_cache_dir() -> str:
    """The HF hub cache folder, read from the environment now: huggingface_hub freezes it at import."""
    env = os.environ.get("HF_HUB_CACHE") or os.environ.get("HUGGINGFACE_HUB_CACHE")
    if env:
        return os.path.expanduser(os.path.expandvars(env))
    if os.environ.get("HF_HOME"):
        return os.path.join(os.path.expanduser(os.path.expandvars(os.environ["HF_HOME"])), "hub")
    from huggingface_hub import constants

    return constants.HF_HUB_CACHE


def find_cached_hub_model(repo_id: str) -> str:
    """Snapshot folder of repo_id in the local HF cache, with weights usable by load_pipeline."""
    from huggingface_hub import snapshot_download

    not_cached = f"model {repo_id} is not in the local Hugging Face cache and this machine cannot download it"
    try:
        path = snapshot_download(
            repo_id,
            cache_dir=hf_cache_dir(),
            local_files_only=True,
            allow_patterns=HUB_ALLOW_PATTERNS,
        )
    except Exception as exc:  # LocalEntryNotFoundError, IncompleteSnapshotError, HFValidationError...
        raise ModelError(not_cached) from exc
    folder = Path(path)
    # A snapshot folder can exist with only some files (e.g. someone fetched model_index.json):
    # require the big three in fp32 safetensors, as load_pipeline asks for.
    needed = [
        "model_index.json",
        "unet/diffusion_pytorch_model.safetensors",
        "vae/diffusion_pytorch_model.safetensors",
        "text_encoder/model.safetensors",
    ]
    missing = [n for n in needed if not (folder / n).is_file()]
    if missing:
        raise ModelError(f"{not_cached} (cached snapshot lacks {', '.join(missing)})")
    refuse_unsafe_folder(folder)
    return str(folder)


# ---------------------------------------------------------------------------------------------
# Safety: safetensors only, local only, no remote code (on every backend)


def _head(path: Path, n: int) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(n)
    except OSError:
        return b""


def _is_ir_weights(path: Path) -> bool:
    """An OpenVINO IR's weights: `<name>.bin` of raw tensors beside a `<name>.xml` that is an IR (its
    `<net` element). A pickle (protocol 2+ starts with 0x80) or a torch.save zip (PK) is not, whatever
    sits beside it: an empty .xml must not turn pickled weights into "IR"."""
    xml = path.with_suffix(".xml")
    if path.suffix != ".bin" or not xml.is_file() or b"<net" not in _head(xml, 4096):
        return False
    return not _head(path, 4).startswith((b"\x80", b"PK\x03\x04"))


def _is_pickle_weight(path: Path) -> bool:
    return path.suffix in PICKLE_WEIGHT_SUFFIXES and not _is_ir_weights(path)


def _diffusers_pipeline_module(name: str) -> bool:
    """Whether `name` is one of diffusers' own pipeline modules (found on disk, diffusers is not imported)."""
    if not _MODULE_NAME_RE.match(name):
        return False
    spec = importlib.util.find_spec("diffusers")
    roots = list(spec.submodule_search_locations or []) if spec is not None else []
    return any((Path(root) / "pipelines" / name / "__init__.py").is_file() for root in roots)


def refuse_unsafe_folder(folder: str | os.PathLike) -> None:
    """Raise ModelError (one line) unless a pipeline folder is safe to load: no Python file anywhere in it
    (a custom component or pipeline), every model_index.json component from diffusers or transformers,
    and every component folder with weights holding .safetensors (not only pickled .bin/.pt/.ckpt)."""
    folder = Path(folder)
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        code = sorted(f for f in files if f.endswith(".py"))
        if code:
            rel = (Path(root) / code[0]).relative_to(folder)
            raise UnsafeModelError(f"{folder}: ships Python code ({rel}): ladder never runs a model's own code")
    try:
        index = json.loads((folder / "model_index.json").read_text())
    except (OSError, ValueError) as exc:
        raise ModelError(f"{folder}: unreadable model_index.json ({type(exc).__name__})") from None
    if not isinstance(index, dict):
        raise ModelError(f"{folder}: model_index.json is not a JSON object")
    for name, value in sorted(index.items()):
        if name.startswith("_") or not isinstance(value, list) or len(value) != 2 or value[0] is None:
            continue
        library = value[0]
        if not (library in TRUSTED_LIBRARIES or (isinstance(library, str) and _diffusers_pipeline_module(library))):
            raise UnsafeModelError(
                f"{folder}: component {name!r} is {library}.{value[1]}, not a diffusers or transformers class: "
                "ladder never runs a model's own code"
            )
    for component in sorted(p for p in folder.iterdir() if p.is_dir()):
        weights = [p for p in component.rglob("*") if p.is_file()]
        pickled = sorted(p.name for p in weights if _is_pickle_weight(p))
        if pickled and not any(p.suffix == ".safetensors" for p in weights):
            raise UnsafeModelError(
                f"{folder}: {component.name}/ has only pickled weights ({', '.join(pickled)}), no .safetensors: "
                "ladder loads safetensors only"
            )


def safetensors_view(folder: str | os.PathLike, view: str | os.PathLike) -> Path:
    """A copy of a pipeline folder made of symlinks to its files, without its pickled weights: whatever
    loads from the view (an exporter that takes no use_safetensors) can only read safetensors."""
    src, dst = Path(folder).resolve(), Path(view)
    for root, _dirs, files in os.walk(src):
        out = dst / Path(root).relative_to(src)
        out.mkdir(parents=True, exist_ok=True)
        for f in files:
            path = Path(root) / f
            if not _is_pickle_weight(path):
                (out / f).symlink_to(path.resolve())
    return dst


# ---------------------------------------------------------------------------------------------
# Synthetic cache


def synthetic_dir(name: str, cache_dir: str | os.PathLike) -> Path:
    return Path(cache_dir).expanduser().resolve() / f"synthetic-{name}-b{BUILDER_VERSION}"


def ensure_synthetic(name: str, cache_dir: str | os.PathLike) -> tuple[str, bool]:
    """Return (folder, built_now); builds once per cache_dir, safe against concurrent workers."""
    final = synthetic_dir(name, cache_dir)
    if (final / "model_index.json").is_file():
        return str(final), False
    final.parent.mkdir(parents=True, exist_ok=True)
    with _file_lock(final.parent / f".{final.name}.lock"):
        # Another process may have finished the build while we waited for the lock.
        if (final / "model_index.json").is_file():
            return str(final), False
        # Leftovers of killed builds: safe to remove, we hold the lock.
        for stale in final.parent.glob(f".{final.name}.tmp-*"):
            shutil.rmtree(stale, ignore_errors=True)
        tmp = final.parent / f".{final.name}.tmp-{os.getpid()}"
        try:
            build_synthetic(name, tmp)
            os.rename(tmp, final)  # atomic: the final folder is either complete or absent
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return str(final), True


@contextlib.contextmanager
def _file_lock(path: Path):
    with open(path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


# ---------------------------------------------------------------------------------------------
# Synthetic builder


def _sd15_configs() -> dict:
    """SD 1.5's component configs, as the config files of the runwayml/stable-diffusion-v1-5 repository give them."""
    return {
        "unet": dict(
            sample_size=64,
            in_channels=4,
            out_channels=4,
            layers_per_block=2,
            block_out_channels=(320, 640, 1280, 1280),
            attention_head_dim=8,
            cross_attention_dim=768,
            down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
            up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
            norm_num_groups=32,
            norm_eps=1e-5,
            act_fn="silu",
            center_input_sample=False,
            downsample_padding=1,
            flip_sin_to_cos=True,
            freq_shift=0,
            mid_block_scale_factor=1,
        ),
        "vae": dict(
            in_channels=3,
            out_channels=3,
            latent_channels=4,
            layers_per_block=2,
            sample_size=512,
            block_out_channels=(128, 256, 512, 512),
            norm_num_groups=32,
            act_fn="silu",
            down_block_types=("DownEncoderBlock2D",) * 4,
            up_block_types=("UpDecoderBlock2D",) * 4,
            scaling_factor=0.18215,
        ),
        "text": dict(
            vocab_size=49408,
            hidden_size=768,
            intermediate_size=3072,
            num_hidden_layers=12,
            num_attention_heads=12,
            max_position_embeddings=77,
            hidden_act="quick_gelu",
            projection_dim=768,
            layer_norm_eps=1e-5,
        ),
        "vision": dict(
            hidden_size=1024,
            intermediate_size=4096,
            num_hidden_layers=24,
            num_attention_heads=16,
            patch_size=14,
            image_size=224,
            hidden_act="quick_gelu",
            projection_dim=768,
            layer_norm_eps=1e-5,
        ),
        "projection_dim": 768,
        "image_size": 224,
    }


def _tiny_configs() -> dict:
    """Same classes and block pattern as SD 1.5 with tiny widths, for fast end-to-end tests.

    The VAE keeps 4 blocks so the latent is image/8 as in SD; the text encoder keeps the real
    vocabulary so the real tokenizer works with it.
    """
    return {
        "unet": dict(
            sample_size=8,
            in_channels=4,
            out_channels=4,
            layers_per_block=1,
            block_out_channels=(32, 64),
            attention_head_dim=4,
            cross_attention_dim=32,
            down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
            up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
            norm_num_groups=32,
        ),
        "vae": dict(
            in_channels=3,
            out_channels=3,
            latent_channels=4,
            layers_per_block=1,
            sample_size=64,
            block_out_channels=(32, 32, 64, 64),
            norm_num_groups=32,
            down_block_types=("DownEncoderBlock2D",) * 4,
            up_block_types=("UpDecoderBlock2D",) * 4,
            scaling_factor=0.18215,
        ),
        "text": dict(
            vocab_size=49408,
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            max_position_embeddings=77,
            hidden_act="quick_gelu",
            projection_dim=32,
        ),
        "vision": dict(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            patch_size=14,
            image_size=224,
            hidden_act="quick_gelu",
            projection_dim=32,
        ),
        "projection_dim": 32,
        "image_size": 224,
    }


def _scheduler_config() -> dict:
    # SD 1.5's scheduler/scheduler_config.json
    return dict(
        num_train_timesteps=1000,
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        skip_prk_steps=True,
        set_alpha_to_one=False,
        steps_offset=1,
        trained_betas=None,
        prediction_type="epsilon",
        timestep_spacing="leading",
    )


def build_synthetic(name: str, out_dir) -> None:
    """Write a StableDiffusionPipeline with random weights ('sd15' or 'tiny') to out_dir."""
    if name not in SYNTHETIC_NAMES:
        raise ModelError(
            f"unknown synthetic model 'synthetic:{name}'; accepted: "
            + ", ".join(f"synthetic:{n}" for n in SYNTHETIC_NAMES)
        )
    import torch
    from diffusers import AutoencoderKL, PNDMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from diffusers.pipelines.stable_diffusion.safety_checker import StableDiffusionSafetyChecker
    from transformers import CLIPConfig, CLIPTextConfig, CLIPTextModel

    cfg = _sd15_configs() if name == "sd15" else _tiny_configs()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = make_clip_tokenizer(out / "tokenizer")
    ids = dict(
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id
    )

    # fork_rng: deterministic weights without disturbing the caller's RNG stream.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(BUILD_SEED)
        unet = UNet2DConditionModel(**cfg["unet"])
        torch.manual_seed(BUILD_SEED + 1)
        vae = AutoencoderKL(**cfg["vae"])
        torch.manual_seed(BUILD_SEED + 2)
        text_encoder = CLIPTextModel(CLIPTextConfig(**cfg["text"], **ids))
        torch.manual_seed(BUILD_SEED + 3)
        clip_cfg = CLIPConfig(
            text_config=dict(cfg["text"], **ids), vision_config=cfg["vision"], projection_dim=cfg["projection_dim"]
        )
        # Threshold parameters stay at the class defaults (ones): random embeddings then never
        # score above them, so the checker does its full work but never blanks the image.
        safety_checker = StableDiffusionSafetyChecker(clip_cfg)

    feature_extractor = _clip_image_processor(cfg["image_size"])
    pipe = StableDiffusionPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=PNDMScheduler(**_scheduler_config()),
        safety_checker=safety_checker,
        feature_extractor=feature_extractor,
        image_encoder=None,
        requires_safety_checker=True,
    )
    pipe.save_pretrained(out, safe_serialization=True)
    _normalise_layout(out)
    (out / SYNTHETIC_MARKER).write_text(
        json.dumps(
            {"name": name, "builder_version": BUILDER_VERSION, "seed": BUILD_SEED, "real_weights": False}, indent=2
        )
        + "\n"
    )


def _clip_image_processor(size: int):
    # transformers 5 resolves CLIPImageProcessor to a torchvision backend, falling back (with a
    # warning) to CLIPImageProcessorPil when torchvision is absent, as here: pick Pil directly.
    try:
        from transformers import CLIPImageProcessorPil as cls
    except ImportError:  # transformers 4.x
        from transformers import CLIPImageProcessor as cls
    from transformers.image_utils import OPENAI_CLIP_MEAN, OPENAI_CLIP_STD

    return cls(
        size={"shortest_edge": size},
        crop_size={"height": size, "width": size},
        do_resize=True,
        do_center_crop=True,
        do_normalize=True,
        do_convert_rgb=True,
        image_mean=OPENAI_CLIP_MEAN,
        image_std=OPENAI_CLIP_STD,
        resample=3,
    )


def _normalise_layout(out: Path) -> None:
    """Make the saved folder look like the real SD 1.5 repo, so other library versions load it too.

    - tokenizer/: transformers 5 saves only tokenizer.json; 4.x's slow CLIPTokenizer needs
      vocab.json + merges.txt, so rewrite the folder exactly as the real repo has it.
    - feature_extractor: record the generic CLIPImageProcessor (as the real repo does) rather than
      the torchvision-less fallback class name only transformers 5 knows.
    """
    shutil.rmtree(out / "tokenizer")
    make_clip_tokenizer(out / "tokenizer")
    index_path = out / "model_index.json"
    index = json.loads(index_path.read_text())
    index["feature_extractor"] = ["transformers", "CLIPImageProcessor"]
    index_path.write_text(json.dumps(index, indent=2, sort_keys=True) + "\n")
    pre_path = out / "feature_extractor" / "preprocessor_config.json"
    pre = json.loads(pre_path.read_text())
    pre["image_processor_type"] = "CLIPImageProcessor"
    pre_path.write_text(json.dumps(pre, indent=2, sort_keys=True) + "\n")


# ---------------------------------------------------------------------------------------------
# Tokenizer


def _find_bpe_file() -> Path:
    """open_clip's bpe_simple_vocab_16e6.txt.gz, found without importing open_clip (its deps
    such as torchvision are not importable next to this torch build)."""
    fname = "bpe_simple_vocab_16e6.txt.gz"
    dirs: list[str] = []
    try:
        spec = importlib.util.find_spec("open_clip")  # top-level: locates, does not import
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.submodule_search_locations:
        dirs += list(spec.submodule_search_locations)
    roots = list(sys.path)
    with contextlib.suppress(Exception):
        roots += site.getsitepackages() + [site.getusersitepackages()]
    dirs += [os.path.join(r, "open_clip") for r in roots if r]
    for d in dirs:
        p = Path(d) / fname
        if p.is_file():
            return p
    raise ModelError(
        f"CLIP BPE vocabulary {fname} not found: install the 'open-clip-torch' package "
        "(pip install --no-deps open-clip-torch is enough)"
    )


def _bytes_to_unicode() -> dict[int, str]:
    # CLIP's (and GPT-2's) reversible byte -> printable unicode map.
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs), strict=True))


def make_clip_tokenizer(out_dir):
    """Write SD 1.5's tokenizer folder (vocab.json, merges.txt, configs) to out_dir and load it."""
    from transformers import CLIPTokenizer

    lines = gzip.open(_find_bpe_file()).read().decode("utf-8").split("\n")
    # Line 0 is a header; CLIP uses the next 49152 - 256 - 2 merges, as open_clip does.
    merges = lines[1 : 49152 - 256 - 2 + 1]
    chars = list(_bytes_to_unicode().values())
    tokens = chars + [c + "</w>" for c in chars] + ["".join(m.split()) for m in merges]
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    vocab = {t: i for i, t in enumerate(tokens)}
    if len(vocab) != 49408:
        raise ModelError(f"unexpected CLIP vocabulary size {len(vocab)} built from open_clip's BPE file")

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    # HF's merges.txt skips its first line, like the gz header.
    (out / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n", encoding="utf-8")
    special = {
        "bos_token": "<|startoftext|>",
        "eos_token": "<|endoftext|>",
        "unk_token": "<|endoftext|>",
        "pad_token": "<|endoftext|>",
    }
    (out / "special_tokens_map.json").write_text(json.dumps(special, indent=2) + "\n")
    config = dict(
        special,
        model_max_length=77,
        do_lower_case=True,
        errors="replace",
        add_prefix_space=False,
        tokenizer_class="CLIPTokenizer",
    )
    (out / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n")
    return CLIPTokenizer.from_pretrained(str(out), local_files_only=True)


# ---------------------------------------------------------------------------------------------
# Loading


def load_pipeline(info: dict, **kwargs):
    """Open a resolved model through the ordinary diffusers path (also for synthetic builds)."""
    if kwargs.pop("trust_remote_code", False):
        raise ModelError("trust_remote_code is never allowed for benchmarked pipelines")
    refuse_unsafe_folder(info["path"])
    from diffusers import StableDiffusionPipeline

    return StableDiffusionPipeline.from_pretrained(info["path"], use_safetensors=True, local_files_only=True, **kwargs)


def component_params(pipe) -> dict[str, int]:
    """Parameter count of each torch module of the pipeline (unet, vae, text_encoder, safety_checker)."""
    import torch

    return {
        name: sum(p.numel() for p in comp.parameters())
        for name, comp in pipe.components.items()
        if isinstance(comp, torch.nn.Module)
    }
