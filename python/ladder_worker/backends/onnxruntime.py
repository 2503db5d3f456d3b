"""ONNX Runtime (CPU execution provider): the runtime a user picks to leave PyTorch without leaving the CPU.

The pipeline's three networks (text encoder, UNet, VAE decoder) are exported once per model with torch.onnx
into the model cache (keyed like the OpenVINO IR: model folder, library versions), and the int8 UNet is made
from the fp32 one by onnxruntime.quantization.quantize_dynamic (weights u8, activations quantized at run time:
ConvInteger, MatMulInteger, DynamicQuantizeLinear), cached beside it. Each is then run by an
InferenceSession on the CPU execution provider, wrapped as the module it replaces in the same diffusers
StableDiffusionPipeline the torch backend runs: tokenizer, scheduler, latents, guidance and the safety
checker (PyTorch, fp32) are diffusers' own, so only the networks' runtime differs.

What is proven comes from the sessions themselves: their providers, the file each loaded, the threads and
graph optimization level of their options, and the op types of the UNet file.
"""

import collections
import contextlib
import hashlib
import json
import os
import shutil
import time
from pathlib import Path

from ..errors import UserError
from .base import Backend, call_pipeline, versions

GRAPH_OPTIMIZATIONS = {
    "disabled": "ORT_DISABLE_ALL",
    "basic": "ORT_ENABLE_BASIC",
    "extended": "ORT_ENABLE_EXTENDED",
    "all": "ORT_ENABLE_ALL",
}
PROVIDER = "CPUExecutionProvider"
EXPORT_MARKER = "ladder_onnx.json"
INT8_MARKER = "ladder_int8.json"
# The three networks, in the order they run; the file of each under the export folder.
SESSIONS = ("text_encoder", "unet", "vae_decoder")
FP32_FILE = "model.onnx"
INT8_FILE = "model-int8.onnx"
# Nodes only a dynamically quantized graph has.
INTEGER_OPS = ("ConvInteger", "MatMulInteger", "DynamicQuantizeLinear")
# How much of a model file is hashed to name it (enough to tell the fp32 graph from the int8 one).
HASHED_BYTES = 1 << 20
OPSET = 17


def file_proof(path: Path) -> dict:
    """A model file as loaded: its path, its size, the size of its folder (each model has its own, with its
    external data: the TorchScript exporter writes one file per tensor past 2 GB) and the sha256 of its first MB."""
    with open(path, "rb") as f:
        head = hashlib.sha256(f.read(HASHED_BYTES)).hexdigest()
    folder = sum(p.stat().st_size for p in path.parent.iterdir() if p.is_file() and p.suffix != ".json")
    return {"path": str(path), "bytes": path.stat().st_size, "folder_bytes": folder, "sha256_first_mb": head}


def op_counts(path: Path) -> dict:
    """The op types of an ONNX file's graph (its weights are not read)."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    return dict(collections.Counter(node.op_type for node in model.graph.node))


def integer_ops(ops: dict) -> int:
    return sum(ops.get(op, 0) for op in INTEGER_OPS)


class _Session:
    """An InferenceSession with what it was made from."""

    def __init__(self, path: Path, options):
        import onnxruntime as ort

        self.path = path
        self.session = ort.InferenceSession(str(path), sess_options=options, providers=[PROVIDER])
        self.inputs = [i.name for i in self.session.get_inputs()]

    def run(self, **feeds):
        return self.session.run(None, {k: v for k, v in feeds.items() if k in self.inputs})

    def proof(self) -> dict:
        o = self.session.get_session_options()
        return {
            "providers": self.session.get_providers(),
            "file": file_proof(self.path),
            "intra_op_threads": o.intra_op_num_threads,
            "graph_optimization": o.graph_optimization_level.name,
        }


def _torch_module():
    import torch

    class OrtModule(torch.nn.Module):
        """Stands in for a diffusers/transformers module: its config, a CPU device, fp32, an ORT session."""

        def __init__(self, session: _Session, config):
            super().__init__()
            self.ort = session
            self.config = config
            self.calls = 0
            self.output_dtype = None

        @property
        def device(self):
            return torch.device("cpu")

        @property
        def dtype(self):
            return torch.float32

        def _run(self, **feeds):
            self.calls += 1
            arrays = {k: v.detach().cpu().numpy() for k, v in feeds.items()}
            outputs = [torch.from_numpy(o) for o in self.ort.run(**arrays)]
            self.output_dtype = str(outputs[0].dtype).replace("torch.", "")
            return outputs

    class TextEncoder(OrtModule):
        def forward(self, input_ids, attention_mask=None, output_hidden_states=None, **_):
            if output_hidden_states:
                raise UserError("the onnxruntime text encoder returns its last hidden state only (no clip_skip)")
            return (self._run(input_ids=input_ids.to(torch.int64))[0],)

    class UNet(OrtModule):
        def forward(self, sample, timestep, encoder_hidden_states, return_dict=False, **unused):
            extra = [k for k, v in unused.items() if v is not None]
            if extra:
                raise UserError(f"the onnxruntime UNet takes no {', '.join(sorted(extra))}")
            t = torch.as_tensor(timestep, dtype=torch.float32).reshape(())
            return (self._run(sample=sample, timestep=t, encoder_hidden_states=encoder_hidden_states)[0],)

    class VaeDecoder(OrtModule):
        def decode(self, z, return_dict=False, generator=None):
            return (self._run(latent_sample=z)[0],)

        def forward(self, z):
            return self.decode(z)[0]

    return TextEncoder, UNet, VaeDecoder


class OnnxRuntimeBackend(Backend):
    name = "onnxruntime"
    libraries = ("onnxruntime", "onnx", "torch", "diffusers", "transformers")
    # The fp32 export serves every option (the int8 UNet is derived from it, cached beside it).
    export_options = ()

    def __init__(self, options: dict, cache_dir):
        super().__init__(options, cache_dir)
        # precision and graph_optimization are checked against protocol/options.json by resolve_options.
        threads = self.options.get("intra_op_threads")
        if threads is None and os.environ.get("OMP_NUM_THREADS"):
            # Unset: the launcher's thread count, as OpenVINO's pool gets it.
            threads = int(os.environ["OMP_NUM_THREADS"])
        self.threads = threads
        self.sessions: dict[str, _Session] = {}
        self.int8: dict | None = None

    def _session_options(self):
        import onnxruntime as ort

        so = ort.SessionOptions()
        level = GRAPH_OPTIMIZATIONS[self.options["graph_optimization"]]
        so.graph_optimization_level = getattr(ort.GraphOptimizationLevel, level)
        if self.threads is not None:
            so.intra_op_num_threads = int(self.threads)
        return so

    def load(self, info: dict, scenario: dict) -> None:
        # The torch pipeline: its tokenizer, scheduler and safety checker stay; its networks are exported.
        self.pipe = self.diffusers_pipeline(info)
        self.onnx_dir = self._export(info)
        unet_file = self.onnx_dir / "unet" / FP32_FILE
        if self.options["precision"] == "int8":
            unet_file = self._quantize(self.onnx_dir)
        files = {
            "text_encoder": self.onnx_dir / "text_encoder" / FP32_FILE,
            "unet": unet_file,
            "vae_decoder": self.onnx_dir / "vae_decoder" / FP32_FILE,
        }
        t = time.perf_counter()
        options = self._session_options()
        self.sessions = {name: _Session(path, options) for name, path in files.items()}
        self.timings["session_s"] = time.perf_counter() - t
        TextEncoder, UNet, VaeDecoder = _torch_module()
        pipe = self.pipe
        pipe.text_encoder = TextEncoder(self.sessions["text_encoder"], pipe.text_encoder.config)
        pipe.unet = UNet(self.sessions["unet"], pipe.unet.config)
        pipe.vae = VaeDecoder(self.sessions["vae_decoder"], pipe.vae.config)

    def _export(self, info: dict) -> Path:
        """The three networks in ONNX, once per model and library versions; built in a temp folder and renamed
        into place."""
        key = self.cache_key(info["path"])
        out = self.cache_dir / "onnx" / f"{Path(info['path']).name}-{key}"
        if (out / EXPORT_MARKER).is_file():
            self.timings["export_s"] = 0.0
            return out
        tmp = out.with_name(f"{out.name}.tmp-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        t = time.perf_counter()
        export_pipeline(self.pipe, tmp)
        self.timings["export_s"] = time.perf_counter() - t
        marker = {"source": info["path"], "key": key, "opset": OPSET, **self.versions()}
        (tmp / EXPORT_MARKER).write_text(json.dumps(marker, indent=1))
        shutil.rmtree(out, ignore_errors=True)
        out.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, out)
        return out

    def _quantize(self, onnx_dir: Path) -> Path:
        """The int8 UNet (quantize_dynamic of the fp32 one), made once beside it."""
        folder = onnx_dir / "unet-int8"
        target = folder / INT8_FILE
        if (folder / INT8_MARKER).is_file():
            self.timings["quantize_s"] = 0.0
            self.int8 = {**json.loads((folder / INT8_MARKER).read_text()), "cached": True}
            return target
        from onnxruntime.quantization import QuantType, quantize_dynamic

        tmp = folder.with_name(f"{folder.name}.tmp-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        t = time.perf_counter()
        # u8 weights: ConvInteger runs with u8 and s8 weights in 1.31; on tiny, here, u8 ran the UNet faster.
        quantize_dynamic(
            str(onnx_dir / "unet" / FP32_FILE),
            str(tmp / INT8_FILE),
            weight_type=QuantType.QUInt8,
            use_external_data_format=True,
        )
        made = {"method": "quantize_dynamic", "weight_type": "QUInt8", "quantize_s": time.perf_counter() - t}
        self.timings["quantize_s"] = made["quantize_s"]
        (tmp / INT8_MARKER).write_text(json.dumps(made, indent=1))
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(tmp, folder)
        self.int8 = {**made, "cached": False}
        return target

    def effective(self) -> dict:
        import onnxruntime as ort

        from .torch import converted_effective

        sessions = {name: s.proof() for name, s in self.sessions.items()}
        ops = op_counts(self.sessions["unet"].path)
        sessions["unet"].update(op_types=ops, integer_ops=integer_ops(ops))
        return {
            **converted_effective(self),
            "onnxruntime": {
                "version": ort.__version__,
                "available_providers": ort.get_available_providers(),
                "sessions": sessions,
                "precision": self.options["precision"],
                "int8": self.int8,
                "onnx_dir": str(self.onnx_dir),
                "versions": versions(self.libraries),
                "timings": self.timings,
            },
        }

    @contextlib.contextmanager
    def observe(self):
        """UNet calls the session ran during the block, and the dtype of what it returned."""
        unet = self.pipe.unet
        before = unet.calls
        seen = {"unet_calls": 0, "autocast_dtype": None, "unet_output_dtype": None}
        try:
            yield seen
        finally:
            seen.update(unet_calls=unet.calls - before, unet_output_dtype=unet.output_dtype)

    def explain(self, scenario: dict) -> dict:
        """The UNet file in a second session, its options plus enable_profiling, run on the pipeline's own
        inputs: the node events of its last run (after warm-up runs) from the JSON trace."""
        import tempfile

        import onnxruntime as ort
        import torch

        from .. import explain

        args, kwargs = explain.unet_inputs(self, scenario)
        unet = self.pipe.unet

        def call():
            with torch.inference_mode():
                unet(*args, **kwargs)

        explain.timed(call, explain.WARMUP_CALLS)
        unprofiled = explain.timed(call, explain.TIMED_CALLS)
        original = unet.ort
        with tempfile.TemporaryDirectory(prefix="ladder-ort-profile-") as tmp:
            options = self._session_options()
            options.enable_profiling = True
            options.profile_file_prefix = str(Path(tmp) / "unet")
            unet.ort = _Session(original.path, options)
            try:
                explain.timed(call, explain.WARMUP_CALLS)
                wall_s = min(explain.timed(call, explain.PROFILED_CALLS))
                trace = json.loads(Path(unet.ort.session.end_profiling()).read_text())
            finally:
                unet.ort = original
        events = trace["traceEvents"] if isinstance(trace, dict) else trace
        nodes, call_s = explain.ort_nodes(events)
        return explain.profile_result(
            profiler=f"ONNX Runtime profiler (onnxruntime {ort.__version__})",
            dtype="int8" if self.options["precision"] == "int8" else "fp32",
            records=explain.node_records(nodes),
            call_s=call_s,
            unprofiled=unprofiled,
            inputs=explain.shapes(args, kwargs),
            notes=[
                f"Node times are ONNX Runtime's profiler (kernel time of each node) of the fastest of "
                f"{explain.PROFILED_CALLS} profiled runs, against that run's own duration (model_run); the leftover "
                "is the session between nodes. The wrapper around the session (tensors to numpy and back) is "
                f"outside: the fastest whole call took {wall_s * 1e3:.1f} ms.",
                "ONNX Runtime names each node's op and provider, not the MLAS kernel or the ISA it dispatched to.",
                "FLOPs are computed from each node's input and output shapes in the trace.",
            ],
        )

    def generate(self, **call):  # the arguments of Backend.generate, passed on as they are
        import torch

        with torch.inference_mode():
            return call_pipeline(self.pipe, **call)


def export_pipeline(pipe, out: Path) -> None:
    """torch.onnx (TorchScript exporter, opset 17) of the text encoder, the UNet and the VAE decoder, with
    batch and spatial axes dynamic; files of 2 GB and more keep their weights as external data."""
    import torch

    class Decoder(torch.nn.Module):
        def __init__(self, vae):
            super().__init__()
            self.vae = vae

        def forward(self, latent_sample):
            return self.vae.decode(latent_sample, return_dict=False)[0]

    class UNetCall(torch.nn.Module):
        def __init__(self, unet):
            super().__init__()
            self.unet = unet

        def forward(self, sample, timestep, encoder_hidden_states):
            return self.unet(sample, timestep, encoder_hidden_states=encoder_hidden_states, return_dict=False)[0]

    class TextCall(torch.nn.Module):
        def __init__(self, encoder):
            super().__init__()
            self.encoder = encoder

        def forward(self, input_ids):
            return self.encoder(input_ids, return_dict=False)[0]

    length = pipe.tokenizer.model_max_length
    hidden = pipe.text_encoder.config.hidden_size
    channels = pipe.unet.config.in_channels
    size = 8  # a small example latent: the axes are dynamic
    jobs = (
        (
            "text_encoder",
            TextCall(pipe.text_encoder),
            (torch.zeros(1, length, dtype=torch.int64),),
            ["input_ids"],
            ["last_hidden_state"],
            {"input_ids": {0: "batch"}, "last_hidden_state": {0: "batch"}},
        ),
        (
            "unet",
            UNetCall(pipe.unet),
            (
                torch.randn(2, channels, size, size),
                torch.tensor(1.0),
                torch.randn(2, length, hidden),
            ),
            ["sample", "timestep", "encoder_hidden_states"],
            ["out_sample"],
            {
                "sample": {0: "batch", 2: "height", 3: "width"},
                "encoder_hidden_states": {0: "batch"},
                "out_sample": {0: "batch", 2: "height", 3: "width"},
            },
        ),
        (
            "vae_decoder",
            Decoder(pipe.vae),
            (torch.randn(1, pipe.vae.config.latent_channels, size, size),),
            ["latent_sample"],
            ["sample"],
            {"latent_sample": {0: "batch", 2: "height", 3: "width"}, "sample": {0: "batch", 2: "height", 3: "width"}},
        ),
    )
    for name, module, args, inputs, outputs, axes in jobs:
        folder = out / name
        folder.mkdir(parents=True, exist_ok=True)
        with torch.inference_mode(False), torch.no_grad():
            torch.onnx.export(
                module.eval(),
                args,
                str(folder / FP32_FILE),
                input_names=inputs,
                output_names=outputs,
                dynamic_axes=axes,
                opset_version=OPSET,
                dynamo=False,
            )


BACKEND = OnnxRuntimeBackend
