"""OpenVINO through optimum-intel: exported once per model (IR cached), dynamic or static shapes.

The article's rungs: `OVStableDiffusionPipeline.from_pretrained(model, export=True)` (dynamic), then
`reshape(batch_size=1, height, width, num_images_per_prompt=1)` (static). Precision is OpenVINO's own
choice unless the rung sets it, and is always read back from the compiled models.

Beyond the article:
- `quantization`: int8 through optimum-intel and NNCF, applied at export (the IR is cached per mode).
  `hybrid` is `OVWeightQuantizationConfig(bits=8, dataset=prompts, num_samples=N)`: optimum turns it into
  a mixed config for the UNet (weights of MatMul/Embedding int8, activations and the other weights through
  FakeQuantize) and weight-only int8 for the other models. `int8` is `OVQuantizationConfig(dataset=prompts,
  num_samples=N)`: nncf.quantize on the whole UNet (every weight and activation int8), weight-only int8 for
  the other models. Calibration renders the prompts of calibration_prompts.txt with the float pipeline
  (optimum's own loop: 50 steps at the UNet's sample size) and keeps the first N UNet calls: N counts UNet
  calls, not prompts, and every started prompt is rendered to its end.
- OpenVINO knobs (PERFORMANCE_HINT, NUM_STREAMS, ENABLE_HYPER_THREADING, CACHE_DIR), passed in ov_config
  and read back from every compiled model.
The proof of int8 is read from the models themselves: FakeQuantize ops and integer weight constants in
each IR, and the compiled model's runtime graph, whose convolutions and matrix products carry the
precision the CPU plugin runs them in (rt_info runtimePrecision) and their kernel (primitiveType, such as
brgconv_avx512_amx_I8). A weight-only int8 linear layer reports runtimePrecision u8 but runs a bf16 or
f32 kernel (undef_bf16): it counts as weight_only_int8_ops, not as an int8 op.
"""

import collections
import contextlib
import hashlib
import json
import os
import shutil
import time
from pathlib import Path

from .. import models
from ..errors import UserError
from ..scenario import DEFAULTS
from .base import Backend, call_pipeline, versions

SUBMODELS = ("text_encoder", "unet", "vae_decoder", "vae_encoder")
# Every from_pretrained: files of this machine only, never a model's own code.
LOCAL_ONLY = {"local_files_only": True, "trust_remote_code": False}
IR_MARKER = "ladder_ir.json"
QUANTIZATIONS = ("none", "hybrid", "int8")
PERFORMANCE_HINTS = ("LATENCY", "THROUGHPUT")
# The prompts calibration renders, shipped with ladder (nothing is downloaded), one a line.
CALIBRATION_PROMPTS = Path(__file__).resolve().parent.parent / "calibration_prompts.txt"
DEFAULT_CALIBRATION_SAMPLES = 50
# optimum-intel's calibration renders each prompt with the pipeline's default number of steps.
CALIBRATION_STEPS = 50
# The runtime graph's layer types that do the heavy math (convolutions, linear layers, matrix products).
COMPUTE_LAYERS = ("Convolution", "Deconvolution", "FullyConnected", "MatMul")
INT8 = ("u8", "i8")
# IR constants stored as integers narrower than 16 bits: compressed or quantized weights.
INT_WEIGHT_TYPES = ("u8", "i8", "u4", "i4")


def calibration_prompts() -> list[str]:
    lines = CALIBRATION_PROMPTS.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def _rt(op, key: str) -> str | None:
    info = op.get_rt_info()
    return info[key].astype(str) if key in info else None


def ir_summary(model) -> dict:
    """What an IR (openvino.Model) holds: FakeQuantize ops and weights stored as small integers."""
    fq = sum(1 for op in model.get_ops() if op.get_type_name() == "FakeQuantize")
    ints = sum(
        1
        for op in model.get_ops()
        if op.get_type_name() == "Constant" and op.get_element_type().to_string() in INT_WEIGHT_TYPES
    )
    return {"fake_quantize": fq, "int_weights": ints}


def _kernel_precision(op) -> str | None:
    """The precision a runtime node's kernel computes in, from its primitive's name (brgconv_avx512_amx_I8,
    undef_bf16): a weight-only int8 linear layer reports runtimePrecision u8 but runs a bf16/f32 kernel."""
    suffix = (_rt(op, "primitiveType") or "").rsplit("_", 1)[-1].lower()
    return suffix if suffix in ("u8", "i8", "bf16", "f16", "f32") else None


def runtime_summary(compiled) -> dict:
    """The precision the CPU plugin really runs each convolution and matrix product in (runtime graph)."""
    precisions: collections.Counter = collections.Counter()
    kernels: collections.Counter = collections.Counter()
    int8: collections.Counter = collections.Counter()
    weight_only = 0
    for op in compiled.get_runtime_model().get_ops():
        layer = _rt(op, "layerType")
        if layer not in COMPUTE_LAYERS:
            continue
        prec = _rt(op, "runtimePrecision") or "?"
        kernel = _kernel_precision(op) or prec
        precisions[prec] += 1
        kernels[kernel] += 1
        if kernel in INT8:
            int8[layer] += 1
        elif prec in INT8:
            weight_only += 1
    return {
        "compute_ops": sum(precisions.values()),
        "int8_ops": sum(int8.values()),
        "int8_by_layer": dict(int8),
        "weight_only_int8_ops": weight_only,
        "runtime_precisions": dict(precisions),
        "kernel_precisions": dict(kernels),
    }


def _blobs(folder: Path) -> int:
    return sum(1 for _ in folder.glob("*.blob")) if folder.is_dir() else 0


@contextlib.contextmanager
def calibration_timer(report: dict):
    """Times optimum-intel's calibration (the float pipeline rendering prompts, UNet inputs collected) and
    the whole quantization (calibration plus NNCF), and counts the prompts rendered and UNet calls kept."""
    from optimum.intel.openvino import quantization as q

    builder, quantizer = q.OVCalibrationDatasetBuilder, q.OVQuantizer
    prepare, quantize = builder._prepare_diffusion_calibration_data, quantizer.quantize

    def counted(items):
        for item in items:
            report["calibration_prompts"] = report.get("calibration_prompts", 0) + 1
            yield item

    def timed_prepare(self, config, dataset):
        t = time.perf_counter()
        try:
            out = prepare(self, config, counted(dataset))
        finally:
            report["calibration_s"] = report.get("calibration_s", 0.0) + time.perf_counter() - t
        for name, data in out.items():
            report["calibration_unet_calls" if name == "unet" else f"calibration_{name}_calls"] = data.get_length()
        return out

    def timed_quantize(self, *args, **kwargs):
        t = time.perf_counter()
        try:
            return quantize(self, *args, **kwargs)
        finally:
            report["quantize_s"] = report.get("quantize_s", 0.0) + time.perf_counter() - t

    builder._prepare_diffusion_calibration_data = timed_prepare
    quantizer.quantize = timed_quantize
    try:
        yield report
    finally:
        builder._prepare_diffusion_calibration_data = prepare
        quantizer.quantize = quantize


def _plain(v):
    """OpenVINO property values as plain values ('bf16', 'LATENCY', ints)."""
    import openvino as ov

    if isinstance(v, ov.Type):
        return v.get_type_name()
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    return str(v).split(".")[-1]


def _node_name(node_type: str, op) -> str:
    """A runtime node's type, and for a snippets Subgraph what it fused (its original layers): a fused
    attention (MatMul, Softmax, MatMul) is attention, not elementwise."""
    if node_type != "Subgraph" or op is None:
        return node_type
    original = (_rt(op, "originalLayersNames") or "").lower()
    fused = "softmax" if "softmax" in original else "matmul" if "matmul" in original else "eltwise"
    return f"Subgraph[{fused}]"


def perf_count_profile(compiled, request, call, *, unprofiled, inputs, wrapper: str, notes=()) -> dict:
    """One UNet call of `compiled` (compiled with PERF_COUNT) profiled from the CPU plugin's per-node counters:
    `call` runs it once through `request` (infer requests of `compiled`); `wrapper` says what runs around the
    request in `call`. Its per-node counters after warm-up calls, shapes from its runtime graph."""
    import openvino as ov

    from .. import explain

    # The CPU plugin's counters are each node's mean over every call since compiling, in whole
    # microseconds: a node's time in the profiled calls is its total after them less its total
    # after the first call (which sets up kernels and weights), over their number.
    def totals(calls: int) -> dict:
        return {
            i.node_name: (i, calls * round(i.real_time.total_seconds() * 1e6))
            for i in request.get_profiling_info()
            if i.status == i.Status.EXECUTED
        }

    explain.timed(call, 1)
    before = totals(1)
    walls = explain.timed(call, explain.TIMED_CALLS)
    after = totals(1 + explain.TIMED_CALLS)
    call_s = sum(walls) / len(walls)
    graph = {op.get_friendly_name(): op for op in compiled.get_runtime_model().get_ops()}

    def shape(ps):
        return [d.get_length() for d in ps] if ps.is_static else None

    nodes = []
    for name, (info, total) in after.items():
        op = graph.get(name)
        nodes.append(
            {
                "name": _node_name(info.node_type, op),
                "kernel": info.exec_type,
                "time_s": max(0, total - before.get(name, (None, 0))[1]) / 1e6 / explain.TIMED_CALLS,
                "inputs": [shape(op.input_value(i).get_partial_shape()) for i in range(op.get_input_size())]
                if op is not None
                else [],
                "output": shape(op.get_output_partial_shape(0)) if op is not None and op.get_output_size() else None,
                "dtype": explain.dtype_of(_rt(op, "runtimePrecision") or "") if op is not None else None,
            }
        )
    precision = _plain(compiled.get_property("INFERENCE_PRECISION_HINT"))
    return explain.profile_result(
        profiler=f"OpenVINO PERF_COUNT (openvino {ov.__version__})",
        dtype=explain.dtype_of(str(precision)) or "fp32",
        records=explain.node_records(nodes),
        call_s=call_s,
        unprofiled=unprofiled,
        inputs=inputs,
        notes=[
            *notes,
            f"Node times are the CPU plugin's per-node counters (real time), the mean over {explain.TIMED_CALLS} "
            f"calls after a first one, against their mean wall time; the leftover is {wrapper}, the plugin "
            "between nodes, and the counters' rounding to whole microseconds.",
            "Nodes are the plugin's fused nodes: an activation or bias fused into a convolution is timed with it.",
            "FLOPs are computed from each node's shapes in the runtime graph.",
        ],
    )


class OpenVINOBackend(Backend):
    name = "openvino"
    libraries = ("openvino", "optimum-intel", "optimum", "diffusers", "transformers", "torch")
    # static_shape, precision, the knobs and scheduler are applied after the IR is read; quantization is
    # applied at export, so its mode and calibration size name the cached IR.
    export_options = ("quantization", "calibration_samples")

    def __init__(self, options: dict, cache_dir):
        super().__init__(options, cache_dir)
        o = self.options
        o.setdefault("quantization", "none")
        if o["quantization"] not in QUANTIZATIONS:
            raise UserError(f"unknown quantization {o['quantization']!r} (known: {', '.join(QUANTIZATIONS)})")
        if o["quantization"] == "none":
            # Calibration is not run: its size must not split the cache of the float IR.
            o["calibration_samples"] = None
        else:
            n = o.setdefault("calibration_samples", DEFAULT_CALIBRATION_SAMPLES)
            if not (isinstance(n, int) and not isinstance(n, bool) and n >= 1):
                raise UserError(f"calibration_samples must be an integer >= 1, got {n!r}")
        hint = o.get("performance_hint")
        if hint is not None and hint not in PERFORMANCE_HINTS:
            raise UserError(f"unknown performance_hint {hint!r} (known: {', '.join(PERFORMANCE_HINTS)})")
        streams = o.get("num_streams")
        if streams is not None and not (isinstance(streams, int) and not isinstance(streams, bool) and streams >= 1):
            raise UserError(f"num_streams must be an integer >= 1, got {streams!r}")
        self.quantization: dict = {"mode": o["quantization"], "calibration_samples": o.get("calibration_samples")}
        self.model_cache: dict | None = None

    def _ov_config(self) -> dict:
        ov_config = {}
        precision = self.options["precision"]
        if precision != "auto":
            ov_config["INFERENCE_PRECISION_HINT"] = precision
        if os.environ.get("OMP_NUM_THREADS"):
            # OpenVINO's CPU plugin has its own thread pool: the rung's thread count goes here.
            ov_config["INFERENCE_NUM_THREADS"] = int(os.environ["OMP_NUM_THREADS"])
        # Unset: optimum-intel's own choice (it sets PERFORMANCE_HINT LATENCY); read back either way.
        if self.options.get("performance_hint") is not None:
            ov_config["PERFORMANCE_HINT"] = self.options["performance_hint"]
        if self.options.get("num_streams") is not None:
            ov_config["NUM_STREAMS"] = int(self.options["num_streams"])
        if self.options.get("hyper_threading") is not None:
            ov_config["ENABLE_HYPER_THREADING"] = bool(self.options["hyper_threading"])
        return ov_config

    def _quantization_config(self):
        mode = self.options["quantization"]
        if mode == "none":
            return None
        from optimum.intel import OVQuantizationConfig, OVWeightQuantizationConfig

        prompts, n = calibration_prompts(), self.options["calibration_samples"]
        if n > len(prompts) * CALIBRATION_STEPS:
            raise UserError(
                f"calibration_samples {n} exceeds {len(prompts)} calibration prompts x {CALIBRATION_STEPS} UNet calls"
            )
        if mode == "hybrid":
            # A dataset makes optimum-intel's diffusion pipeline quantize its UNet in hybrid mode.
            return OVWeightQuantizationConfig(bits=8, dataset=prompts, num_samples=n)
        # Full static quantization of the UNet (nncf.quantize), weight-only int8 for the other models.
        return OVQuantizationConfig(dataset=prompts, num_samples=n)

    def load(self, info: dict, scenario: dict) -> None:
        # Safetensors only, no code of the model's own: refused before optimum is even imported.
        models.refuse_unsafe_folder(info["path"])
        from optimum.intel import OVStableDiffusionPipeline

        scenario = {**DEFAULTS, **scenario}
        self.static = bool(self.options.get("static_shape"))
        if self.static and not scenario["guidance_scale"] > 1:
            # reshape() sizes the UNet batch for classifier-free guidance (batch * images * 2).
            raise UserError("a static OpenVINO pipeline needs guidance_scale > 1")
        scheduler = self.scheduler_class()
        ov_config = self._ov_config()

        self.ir_dir = self._export(info, OVStableDiffusionPipeline)
        if self.options.get("model_cache"):
            # Compiled blobs next to the IR they come from, one folder per shape and config: OpenVINO keys each
            # blob by them too, so a folder's blobs before compiling mean a warm cache for exactly this load.
            shape = f"{scenario['height']}x{scenario['width']}" if self.static else "dynamic"
            config = hashlib.sha256(json.dumps(ov_config, sort_keys=True, default=str).encode()).hexdigest()[:8]
            blob_dir = self.cache_dir / "openvino-blobs" / f"{self.ir_dir.name}-{shape}-{config}"
            blob_dir.mkdir(parents=True, exist_ok=True)
            ov_config["CACHE_DIR"] = str(blob_dir)
            self.model_cache = {"dir": str(blob_dir), "blobs_before": _blobs(blob_dir)}
        t = time.perf_counter()
        self.pipe = OVStableDiffusionPipeline.from_pretrained(
            str(self.ir_dir), compile=False, device="CPU", ov_config=ov_config, **LOCAL_ONLY
        )
        self.timings["read_ir_s"] = time.perf_counter() - t
        if scheduler:
            import diffusers

            self.pipe.scheduler = getattr(diffusers, scheduler).from_config(self.pipe.scheduler.config)
        if self.static:
            t = time.perf_counter()
            self.pipe.reshape(batch_size=1, height=scenario["height"], width=scenario["width"], num_images_per_prompt=1)
            self.timings["reshape_s"] = time.perf_counter() - t
        t = time.perf_counter()
        self.pipe.compile()
        self.timings["compile_s"] = time.perf_counter() - t
        if self.model_cache is not None:
            after = _blobs(Path(self.model_cache["dir"]))
            self.model_cache.update(blobs_after=after, warm=self.model_cache["blobs_before"] > 0)
        self.pipe.set_progress_bar_config(disable=True)

    def _export(self, info: dict, cls) -> Path:
        """IR cached per model, export options and library versions (cache_key); built in a temp folder and
        renamed into place."""
        key = self.cache_key(info["path"])
        ir_dir = self.cache_dir / "openvino-ir" / f"{Path(info['path']).name}-{key}"
        if (ir_dir / IR_MARKER).is_file():
            self.timings["export_s"] = 0.0
            # What calibration did when this IR was made (its times are not this load's).
            made = json.loads((ir_dir / IR_MARKER).read_text()).get("quantization") or {}
            self.quantization.update({**made, "ir_cached": True})
            return ir_dir
        qconfig = self._quantization_config()
        report: dict = {}
        tmp = ir_dir.with_name(f"{ir_dir.name}.tmp-{os.getpid()}")
        view = ir_dir.with_name(f"{ir_dir.name}.view-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(view, ignore_errors=True)
        t = time.perf_counter()
        try:
            # optimum's export takes no use_safetensors: it reads a view of the folder without pickled weights.
            source = models.safetensors_view(info["path"], view)
            quantize = {"quantization_config": qconfig} if qconfig is not None else {}
            with calibration_timer(report) if qconfig is not None else contextlib.nullcontext():
                exported = cls.from_pretrained(str(source), export=True, compile=False, **quantize, **LOCAL_ONLY)
        finally:
            shutil.rmtree(view, ignore_errors=True)
        # export_s includes quantization; calibration_s and quantize_s (calibration + NNCF) are its parts.
        self.timings["export_s"] = time.perf_counter() - t
        for k in ("calibration_s", "quantize_s"):
            if k in report:
                self.timings[k] = report[k]
        if qconfig is not None:
            self.quantization.update({**report, "ir_cached": False})
            if not report.get("calibration_unet_calls"):
                raise RuntimeError("quantization: optimum-intel collected no UNet calibration data")
        exported.save_pretrained(str(tmp))
        export = {k: self.options.get(k) for k in self.export_options}
        marker = {"source": info["path"], "key": key, "export_options": export, **self.versions()}
        if qconfig is not None:
            marker["quantization"] = {**self.quantization, "ir_cached": None}
        (tmp / IR_MARKER).write_text(json.dumps(marker, indent=1))
        del exported
        shutil.rmtree(ir_dir, ignore_errors=True)
        ir_dir.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, ir_dir)
        return ir_dir

    def effective(self) -> dict:

        from .torch import converted_effective

        subs = {}
        for name in SUBMODELS:
            part = getattr(self.pipe, name, None)
            if part is None or part.request is None:
                continue
            compiled = part.request
            inputs = []
            # Names from the model (compiled names may be internal after reshape), shapes from the compiled model.
            for m_in, c_in in zip(part.model.inputs, compiled.inputs, strict=False):
                ps = c_in.get_partial_shape()
                inputs.append({"name": m_in.get_any_name(), "shape": str(ps), "static": ps.is_static})
            subs[name] = {
                "inputs": inputs,
                "precision": _plain(compiled.get_property("INFERENCE_PRECISION_HINT")),
                "threads": int(compiled.get_property("INFERENCE_NUM_THREADS")),
                "streams": _plain(compiled.get_property("NUM_STREAMS")),
                "performance_hint": _plain(compiled.get_property("PERFORMANCE_HINT")),
                "hyper_threading": bool(compiled.get_property("ENABLE_HYPER_THREADING")),
                # The CPU plugin exposes no CACHE_DIR on a compiled model, but says whether it came from one.
                "loaded_from_cache": bool(compiled.get_property("LOADED_FROM_CACHE")),
                **ir_summary(part.model),
                **runtime_summary(compiled),
            }
        return {
            **converted_effective(self),
            "openvino": {
                "submodels": subs,
                "versions": versions(self.libraries),
                "ir_dir": str(self.ir_dir),
                "timings": self.timings,
                "quantization": self.quantization,
                "model_cache": self.model_cache,
            },
        }

    def explain(self, scenario: dict) -> dict:
        """The UNet compiled once more, as the pipeline's (the same config) plus PERF_COUNT, run on the
        pipeline's own inputs through the pipeline's UNet wrapper."""
        import openvino as ov

        from .. import explain

        args, kwargs = explain.unet_inputs(self, scenario)
        unet = self.pipe.unet

        def call():
            unet(*args, **kwargs)

        explain.timed(call, explain.WARMUP_CALLS)
        unprofiled = explain.timed(call, explain.TIMED_CALLS)
        config = {k: v for k, v in unet.ov_config.items() if k != "CACHE_DIR"}
        compiled = ov.Core().compile_model(unet.model, "CPU", {**config, "PERF_COUNT": True})
        request = compiled.create_infer_request()
        original = unet.request
        unet.request = lambda inputs, share_inputs=True: request.infer(inputs, share_inputs=share_inputs)
        try:
            return perf_count_profile(
                compiled,
                request,
                call,
                unprofiled=unprofiled,
                inputs=explain.shapes(args, kwargs),
                wrapper="the pipeline wrapper (tensors in and out)",
            )
        finally:
            unet.request = original

    def generate(self, **call):  # the arguments of Backend.generate, passed on as they are
        height, width = call["height"], call["width"]
        if self.static and (height, width) != (self.pipe.height, self.pipe.width):
            # optimum-intel would silently render at the reshaped size: refuse instead.
            raise UserError(f"pipeline is static at {self.pipe.height}x{self.pipe.width}, asked {height}x{width}")
        return call_pipeline(self.pipe, **call)


BACKEND = OpenVINOBackend
