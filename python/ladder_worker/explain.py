"""The explain job: one UNet call profiled from inside the worker with the runtime's own profiler.

Every backend's profile ends up as the same records: `ops` (what the profiler timed, each op of the call
with its kind, time, calls and FLOPs where known) and `kernels` (what ran them, with the ISA class read
from the kernel's own name). The op kinds and ISA classes are decided here and nowhere else; the
controller only groups and renders (src/results/explain.ts).
"""

import collections
import contextlib
import os
import re
import statistics
import sys
import tempfile
import time

from .protocol import shared_file
from .scenario import call_args

# The op kinds (in the order they are shown) and a kernel's ISA classes: defined once, in
# src/results/explain.ts, and generated into protocol/explain.json.
_SHARED = shared_file("explain.json", "LADDER_EXPLAIN")
KINDS: tuple[str, ...] = tuple(_SHARED["kinds"])
ISAS: tuple[str, ...] = tuple(_SHARED["isas"])

# First match wins: attention before matmul (an SDPA is not a linear layer), normalization before
# elementwise (inductor names a fused kernel after every op in it: cpp_fused_native_group_norm_silu).
_KIND_RULES = (
    ("attention", r"attention|sdpa|softmax"),
    ("convolution", r"conv(?!ert)"),
    # fullyconnected with any tail: OpenVINO's weight-only int8 layers are FullyConnectedCompressed nodes.
    ("matmul", r"matmul|fullyconnected|(^|[^a-z])(b?mm|addmm|baddbmm|_int_mm|linear|gemm|inner_product|fc)([^a-z]|$)"),
    ("normalization", r"norm|mvn"),
    (
        "layout",
        r"reorder|transpose|permute|reshape|(^|[^a-z])(view|copy_?|to|_to_copy|contiguous|clone|cat|concat|concatenation|"
        r"split|slice|stridedslice|chunk|gather|expand|squeeze|unsqueeze|flatten|convert|cast|as_strided|select|"
        r"broadcast|pad|upsample\w*|interpolate|resize|t|shapeof|empty\w*|zeros|ones|fill_?|narrow)([^a-z]|$)",
    ),
    (
        "elementwise",
        r"eltwise|binary|subgraph|gelu|silu|swish|sigmoid|(^|[^a-z])(add_?|sub|mul_?|div_?|tanh|exp|erf|pow|sqrt|rsqrt|"
        r"neg|sin|cos|relu|clamp|where|multiply|divide|subtract|power|cpp_fused\w*|pointwise|dropout)([^a-z]|$)",
    ),
)
_KIND_PATTERNS = [(kind, re.compile(pattern)) for kind, pattern in _KIND_RULES]


def op_kind(name: str) -> str:
    """The kind of an op, from its name in any runtime (aten::conv2d, Convolution, MatMulInteger,
    cpp_fused_native_group_norm_silu_3, a oneDNN primitive kind such as reorder)."""
    base = name.lower().rsplit("::", 1)[-1]
    rules = _KIND_PATTERNS
    if "cpp_fused" in base:
        # An inductor kernel is named after every op it fused: its views and splits cost nothing there.
        rules = sorted(rules, key=lambda r: r[0] == "layout")
    for kind, pattern in rules:
        if pattern.search(base):
            return kind
    return "other"


def kernel_isa(name: str) -> str:
    """The ISA class of a kernel, read from its name (brgconv_avx512_amx_bf16, jit:avx512_core,
    jit_avx2_FP32, ref_any_f32, gemm:ref): 'other' when the name does not say."""
    n = name.lower().replace("-", "_")
    if "amx" in n:
        return "amx"
    if "avx512" in n or "avx_512" in n:
        return "avx512"
    if "avx2" in n:
        return "avx2"
    if re.search(r"(^|[^a-z])ref([^a-z]|$)|reference", n):
        return "reference"
    return "other"


def conv_flops(output, weight) -> int | None:
    """2 x output elements x (input channels per group x kernel taps): the weight's dims after the output
    channels (after groups and output channels for a 5-D grouped weight)."""
    if not output or not weight or len(weight) < 3:
        return None
    per_output = _prod(weight[2:] if len(weight) == len(output) + 1 else weight[1:])
    return 2 * _prod(output) * per_output


def matmul_flops(a, output) -> int | None:
    """2 x output elements x K, K being the dim of `a` that the output lost ([.., M, K] or [.., K, M])."""
    if not a or not output:
        return None
    k = a[-1] if len(a) < 2 or len(output) < 2 or a[-2] == output[-2] else a[-2]
    return 2 * _prod(output) * k


def attention_flops(q, k) -> int | None:
    """4 x B x H x L x S x D, the two matrix products of attention, as 4 x L x (elements of k): k holds
    B x H x S x D in any layout ([B, H, S, D], [B, S, H, D], OpenVINO's transposed [B, H, D, S]). L is q's
    sequence dim: the longer of its middle dims ([B, H, L, D] or [B, L, H, D]), or [B*H, L, D]'s."""
    if not q or not k or len(q) not in (3, 4):
        return None
    seq = q[1] if len(q) == 3 else max(q[1], q[2])
    return 4 * seq * _prod(k)


def _prod(xs) -> int:
    out = 1
    for x in xs:
        out *= int(x)
    return out


def dtype_of(name: str) -> str | None:
    """The dtype a kernel computes in, from its name or precision (bf16, f32, u8/i8): None if unsaid."""
    n = name.lower()
    if "bf16" in n:
        return "bf16"
    if re.search(r"(^|[^a-z])(u8|i8|int8)([^a-z0-9]|$)", n):
        return "int8"
    if re.search(r"(^|[^a-z])(f32|fp32|float32|float)([^a-z0-9]|$)", n):
        return "fp32"
    return None


class Records:
    """Ops and kernels of one call, summed by (name, kind, dtype)."""

    def __init__(self):
        self.ops: dict = {}
        self.kernels: dict = {}

    def op(self, name: str, time_s: float, flops: int | None = None, dtype: str | None = None, kind: str | None = None):
        kind = kind or op_kind(name)
        rec = self.ops.setdefault((name, kind, dtype), {"name": name, "kind": kind, "calls": 0, "time_s": 0.0})
        if dtype:
            rec["dtype"] = dtype
        rec["calls"] += 1
        rec["time_s"] += time_s
        if flops:
            rec["flops"] = rec.get("flops", 0) + int(flops)

    def kernel(self, name: str, kind: str, time_s: float | None = None, isa: str | None = None):
        rec = self.kernels.setdefault(
            (name, kind), {"name": name, "kind": kind, "isa": isa or kernel_isa(name), "calls": 0}
        )
        rec["calls"] += 1
        if time_s is not None:
            rec["time_s"] = rec.get("time_s", 0.0) + time_s

    def result(self) -> dict:
        by_time = lambda r: -r.get("time_s", 0.0)  # noqa: E731
        return {"ops": sorted(self.ops.values(), key=by_time), "kernels": sorted(self.kernels.values(), key=by_time)}


# ---------------------------------------------------------------------------------------------------------
# The call: captured from a real pipeline call, then replayed.


@contextlib.contextmanager
def captured_call(module):
    """The arguments of the first call of `module` (a torch module: a forward pre-hook; else its forward
    patched on the instance) while the block runs: yields a list filled with (args, kwargs)."""
    seen: list = []
    import torch

    if isinstance(module, torch.nn.Module):

        def hook(_m, args, kwargs):
            if not seen:
                seen.append((args, kwargs))

        handle = module.register_forward_pre_hook(hook, with_kwargs=True)
        try:
            yield seen
        finally:
            handle.remove()
        return
    forward = module.forward

    def recording(*args, **kwargs):
        if not seen:
            seen.append((args, kwargs))
        return forward(*args, **kwargs)

    module.forward = recording
    try:
        yield seen
    finally:
        del module.forward


def unet_inputs(backend, scenario: dict):
    """The (args, kwargs) of the UNet's first call in a one-step pipeline call of the run's scenario."""
    with captured_call(backend.pipe.unet) as seen:
        backend.generate(**call_args(backend, scenario), num_inference_steps=1, seed=scenario["seed"])
    if not seen:
        raise RuntimeError(f"{backend.name}: the pipeline never called its UNet")
    return seen[0]


def shapes(args, kwargs) -> dict:
    named = {f"arg{i}": a for i, a in enumerate(args)} | kwargs
    return {k: list(v.shape) for k, v in named.items() if hasattr(v, "shape")}


def timed(call, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        call()
        out.append(time.perf_counter() - t0)
    return out


def profile_result(
    *,
    profiler: str,
    dtype: str,
    records: Records,
    call_s: float,
    unprofiled: list[float],
    inputs: dict,
    notes: list[str],
    flops_by_kind: dict | None = None,
) -> dict:
    """What every backend's explain() returns: `call_s`, what the groups must add up to (the profiled call's
    wall time, or the profiler's own total for it), the unprofiled calls' times (the profiler's own cost is
    the difference), ops and kernels."""
    return {
        "profiler": profiler,
        "dtype": dtype,
        "call_s": call_s,
        "unprofiled_call_s": statistics.median(unprofiled),
        "unprofiled_calls_s": unprofiled,
        "inputs": inputs,
        **records.result(),
        **({"flops_by_kind": flops_by_kind} if flops_by_kind else {}),
        "notes": notes,
    }


# ---------------------------------------------------------------------------------------------------------
# PyTorch (torch, torch-compile, ipex, zentorch): torch.profiler for the times, the oneDNN and MKL
# verbose logs for the kernels that ran the convolutions and matrix products.

WARMUP_CALLS = 2
TIMED_CALLS = 5
# Profiled calls: the fastest is kept, the one least disturbed by whatever else the machine ran.
PROFILED_CALLS = 3


@contextlib.contextmanager
def stdout_to(file):
    """The process's fd 1 (where oneDNN and MKL print their verbose lines) into `file` while the block runs."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(file.fileno(), 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def parse_verbose(lines, records: Records) -> None:
    """oneDNN's `onednn_verbose,...,exec,cpu,<kind>,<implementation>,...,<ms>` and MKL's
    `MKL_VERBOSE SGEMM(...) 1.2ms ...` lines as kernels."""
    for line in lines:
        parts = line.strip().split(",")
        if line.startswith("onednn_verbose") and "exec" in parts:
            i = parts.index("exec")
            if len(parts) > i + 3 and parts[i + 1] == "cpu":
                try:
                    ms = float(parts[-1])
                except ValueError:
                    ms = None
                records.kernel(f"oneDNN {parts[i + 2]} {parts[i + 3]}", op_kind(parts[i + 2]), ms and ms / 1e3)
        elif re.match(r"MKL_VERBOSE [A-Z0-9_]+\(", line):
            routine = line.split()[1].split("(")[0]
            took = re.search(r"\)\s+([\d.]+)(ms|us|s)\b", line)
            scale = {"ms": 1e-3, "us": 1e-6, "s": 1.0}
            seconds = float(took[1]) * scale[took[2]] if took else None
            # MKL names its routine, not the ISA it dispatched to.
            records.kernel(f"MKL {routine}", "matmul", seconds, isa="other")


def torch_flops_by_kind(unet, call) -> dict:
    """FLOPs of the call per op kind, counted by torch's FlopCounterMode on the eager module (a compiled
    UNet's own module: the same math)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from . import roofline  # noqa: F401 (registers the CPU flash-attention formula)

    original = getattr(unet, "_orig_mod", unet)
    with FlopCounterMode(display=False) as counter, torch.inference_mode():
        call(original)
    out: collections.Counter = collections.Counter()
    for op, n in counter.get_flop_counts().get("Global", {}).items():
        out[op_kind(str(op))] += int(n)
    # Ops of an extension have no FLOP formula (IPEX's convolutions and linear layers count 0): their
    # modules' shapes do.
    if not out["convolution"] or not out["matmul"]:
        for kind, n in module_flops(original, call).items():
            out[kind] = out[kind] or n
    return {k: v for k, v in out.items() if v}


def module_flops(unet, call) -> dict:
    """FLOPs of the convolution and linear modules of one call, from their output shapes and attributes
    (in_channels, groups, kernel_size; in_features), whatever class implements them."""
    counts: collections.Counter = collections.Counter()

    def hook(module, _args, output):
        shape = list(getattr(output, "shape", []))
        if not shape:
            return
        if hasattr(module, "kernel_size") and hasattr(module, "in_channels"):
            taps = _prod(module.kernel_size if isinstance(module.kernel_size, (tuple, list)) else [module.kernel_size])
            counts["convolution"] += 2 * _prod(shape) * module.in_channels // getattr(module, "groups", 1) * taps
        elif hasattr(module, "in_features"):
            counts["matmul"] += 2 * _prod(shape) * module.in_features

    handles = [m.register_forward_hook(hook) for m in unet.modules() if m is not unet]
    try:
        call(unet)
    finally:
        for h in handles:
            h.remove()
    return dict(counts)


def _events_kind(event, cpu_capability: str, inductor_isa: str, records: Records) -> None:
    """One profiler event into ops: a known kind takes its whole time (children included); a container
    (the compiled region, a Python scope) gives its self time as its own op and is walked into."""
    kind = op_kind(event.name)
    if kind != "other" or not event.cpu_children:
        # Copies and casts inside another kind's op (autocast casting a weight to bf16 on every call) are
        # layout time, not the op's.
        copies = [] if kind == "layout" else list(_copies(event))
        for c in copies:
            records.op(f"{c.name} (in {event.name})", c.cpu_time_total / 1e6, kind="layout")
        own = event.cpu_time_total - sum(c.cpu_time_total for c in copies)
        records.op(event.name, own / 1e6, kind=kind)
        _native_kernels(event, kind, cpu_capability, inductor_isa, records)
        return
    if event.self_cpu_time_total > 0:
        # Inductor's kernels are named only when generated with kernel profiling (`ladder explain` does).
        compiled = "CompiledFxGraph" in event.name and not any(_is_inductor_kernel(c.name) for c in event.cpu_children)
        # Inside a compiled graph's call, its self time is the inductor kernels the profiler did not see one by one.
        name = "inductor generated kernels (not named: see notes)" if compiled else f"{event.name} (self)"
        records.op(name, event.self_cpu_time_total / 1e6, kind="other")
        if compiled:
            records.kernel("inductor C++ kernels", "other", event.self_cpu_time_total / 1e6, isa=inductor_isa)
    for child in event.cpu_children:
        _events_kind(child, cpu_capability, inductor_isa, records)


# The ops that copy or cast a tensor (the outermost of them is counted: aten::to calls aten::_to_copy).
COPY_OPS = ("aten::to", "aten::_to_copy", "aten::copy_", "aten::contiguous", "aten::clone")


def _copies(event):
    for c in event.cpu_children:
        if c.name in COPY_OPS:
            yield c
        else:
            yield from _copies(c)


def _is_inductor_kernel(name: str) -> bool:
    """A C++ kernel inductor generated, as it records itself: cpp_fused_add_silu_3, graph_0_cpp_fused_..."""
    return re.match(r"(graph_\d+_)?cpp_", name) is not None


def _subtree(event):
    yield event
    for c in event.cpu_children:
        yield from _subtree(c)


def _native_kernels(event, kind: str, cpu_capability: str, inductor_isa: str, records: Records) -> None:
    """The kernels of an op the verbose logs do not cover: ATen's own (vectorized for the CPU capability
    torch picked), inductor's generated C++ kernels (for the vector ISA inductor picked) and an extension's
    own ops (zentorch, IPEX: named as the op, ISA not said)."""
    for leaf in _subtree(event):
        if leaf.self_cpu_time_total <= 0:
            continue
        seconds = leaf.self_cpu_time_total / 1e6
        namespace = leaf.name.split("::")[0] if "::" in leaf.name else None
        if _is_inductor_kernel(leaf.name):
            records.kernel(f"inductor {leaf.name}", op_kind(leaf.name), seconds, isa=inductor_isa)
        elif kind in ("convolution", "matmul") and namespace in ("aten", "mkldnn"):
            continue  # oneDNN or MKL: their verbose logs name the kernels
        elif namespace == "aten":
            records.kernel(f"ATen {leaf.name} ({cpu_capability})", op_kind(leaf.name), seconds)
        elif namespace is not None:
            # An extension's own op (zentorch::, torch_ipex::): its library logs nothing oneDNN's log has.
            records.kernel(leaf.name, op_kind(leaf.name), seconds)


def _inductor_isa() -> str:
    try:
        from torch._inductor.cpu_vec_isa import pick_vec_isa

        return kernel_isa(str(pick_vec_isa()).lower() or type(pick_vec_isa()).__name__)
    except Exception:  # no inductor, or no compiler: nothing inductor-made runs then anyway
        return "other"


def torch_profile(backend, scenario: dict, dtype: str) -> dict:
    """torch.profiler around one UNet call (after warm-up calls), its FLOPs by kind, and the oneDNN/MKL
    kernels of one more call run with their verbose logs on."""
    import torch
    from torch.profiler import ProfilerActivity, profile, record_function

    args, kwargs = unet_inputs(backend, scenario)
    unet = backend.pipe.unet

    def call(module=unet):
        with torch.inference_mode(), backend.autocast():
            module(*args, **kwargs)

    timed(call, WARMUP_CALLS)
    unprofiled = timed(call, TIMED_CALLS)
    walls = []
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True, with_flops=True) as prof:
        for _ in range(PROFILED_CALLS):
            with record_function("ladder::unet_call"):
                t0 = time.perf_counter()
                call()
                walls.append(time.perf_counter() - t0)
    call_s = min(walls)
    roots = sorted((e for e in prof.events() if e.name == "ladder::unet_call"), key=lambda e: e.time_range.start)
    root = roots[walls.index(call_s)]
    records = Records()
    capability = torch.backends.cpu.get_cpu_capability()
    inductor_isa = _inductor_isa()
    for event in root.cpu_children:
        _events_kind(event, capability, inductor_isa, records)
    # The kernels oneDNN and MKL ran, from their verbose logs of one more call (the logging costs time:
    # never the profiled call).
    with tempfile.TemporaryFile(mode="w+") as log:
        with stdout_to(log), torch.backends.mkldnn.verbose(torch.backends.mkldnn.VERBOSE_ON):
            with torch.backends.mkl.verbose(torch.backends.mkl.VERBOSE_ON):
                call()
        log.seek(0)
        parse_verbose(log.read().splitlines(), records)
    notes = [
        f"Op times are torch.profiler's CPU time of each top-level op of the fastest of {PROFILED_CALLS} profiled "
        "calls (children included); the leftover is Python between ops (diffusers' forward) and the profiler's own "
        "cost.",
        "Kernels of convolutions and matrix products come from oneDNN's and MKL's verbose logs of another call "
        "(their times are that call's); MKL names its routine, not the ISA it dispatched to.",
        f"ATen's own kernels run vectorized for the CPU capability torch picked: {capability}.",
    ]
    if any("inductor generated" in o["name"] for o in records.ops.values()):
        notes.append(
            "A compiled graph's own kernels (fused elementwise, reductions) are one block unless inductor generated "
            "them with kernel profiling (ladder explain does; a run's --explain does not)."
        )
    return profile_result(
        profiler=f"torch.profiler (torch {torch.__version__})",
        dtype=dtype,
        records=records,
        call_s=call_s,
        unprofiled=unprofiled,
        inputs=shapes(args, kwargs),
        notes=notes,
        flops_by_kind=torch_flops_by_kind(unet, lambda m: call(m)),
    )


# ---------------------------------------------------------------------------------------------------------
# Converted pipelines: one record per node their profiler timed, FLOPs from the node's shapes.


def node_flops(kind: str, inputs: list, output) -> int | None:
    """FLOPs of a convolution, matrix product or attention node from its shapes (None for other kinds)."""
    if kind == "convolution" and len(inputs) > 1:
        return conv_flops(output, inputs[1])
    if kind == "matmul" and inputs:
        return matmul_flops(inputs[0], output)
    if kind == "attention" and len(inputs) > 1:
        return attention_flops(inputs[0], inputs[1])
    return None


def node_records(nodes) -> Records:
    """Nodes of a converted runtime's profile as ops and kernels. Each node: name (its type: Convolution,
    MatMulInteger), kernel (what ran it: brgconv_avx512_amx_bf16, CPUExecutionProvider Conv), time_s,
    inputs and output (shapes, or None), dtype (or None: read from the kernel's name)."""
    records = Records()
    for n in nodes:
        kind = op_kind(n["name"])
        dtype = dtype_of(n["kernel"]) or n.get("dtype")
        records.op(n["name"], n["time_s"], node_flops(kind, n.get("inputs") or [], n.get("output")), dtype, kind)
        records.kernel(n["kernel"], kind, n["time_s"])
    return records


def ort_nodes(events) -> tuple[list[dict], float]:
    """The node events of the fastest `model_run` of an ONNX Runtime profile (its JSON trace: the least
    disturbed by whatever else the machine ran), and that run's own duration in seconds."""
    runs = [e for e in events if e.get("cat") == "Session" and e.get("name") == "model_run"]
    if not runs:
        raise RuntimeError("the ONNX Runtime profile has no model_run")
    last = min(runs, key=lambda e: e["dur"])
    start, end = last["ts"], last["ts"] + last["dur"]
    out = []
    for e in events:
        if e.get("cat") != "Node" or not e.get("name", "").endswith("_kernel_time"):
            continue
        if not start <= e["ts"] <= end:
            continue
        args = e.get("args", {})
        shapes_in = [next(iter(x.values())) for x in args.get("input_type_shape", []) if x]
        types_in = [next(iter(x.keys())) for x in args.get("input_type_shape", []) if x]
        outputs = [next(iter(x.values())) for x in args.get("output_type_shape", []) if x]
        op = args.get("op_name", "?")
        out.append(
            {
                "name": op,
                "kernel": f"{args.get('provider', '?')} {op}",
                "time_s": e["dur"] / 1e6,
                "inputs": shapes_in,
                "output": outputs[0] if outputs else None,
                "dtype": {"float": "fp32", "uint8": "int8", "int8": "int8"}.get(types_in[0] if types_in else ""),
            }
        )
    return out, last["dur"] / 1e6
