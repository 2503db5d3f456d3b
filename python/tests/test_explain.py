"""The explain job's one classification of ops and kernels, its FLOPs from shapes, the parsers of the
profilers' outputs, and the sleep backend's scripted profile (the mock tier's whole path)."""

import pytest

from ladder_worker import explain
from ladder_worker.backends import get
from ladder_worker.errors import UserError

KINDS = {
    # PyTorch (eager and inductor), OpenVINO runtime nodes, ONNX Runtime ops, oneDNN primitive kinds.
    "aten::conv2d": "convolution",
    "mkldnn::_convolution_pointwise": "convolution",
    "Convolution": "convolution",
    "ConvInteger": "convolution",
    "aten::linear": "matmul",
    "aten::addmm": "matmul",
    "mkldnn::_linear_pointwise": "matmul",
    "FullyConnected": "matmul",
    "FullyConnectedCompressed": "matmul",  # OpenVINO's weight-only int8 linear layer
    "MatMulInteger": "matmul",
    "Gemm": "matmul",
    "inner_product": "matmul",
    "aten::scaled_dot_product_attention": "attention",
    "aten::_scaled_dot_product_flash_attention_for_cpu": "attention",
    "ScaledDotProductAttention": "attention",
    "Softmax": "attention",
    "Subgraph[softmax]": "attention",
    "cpp_fused__softmax_3": "attention",
    "aten::group_norm": "normalization",
    "MVN": "normalization",
    "InstanceNormalization": "normalization",
    "cpp_fused_native_group_norm_silu_2": "normalization",
    "layer_normalization": "normalization",
    "aten::silu": "elementwise",
    "aten::add": "elementwise",
    "Eltwise": "elementwise",
    "Subgraph[eltwise]": "elementwise",
    "QuickGelu": "elementwise",
    "cpp_fused_add_mul_5": "elementwise",
    "graph_0_cpp_fused_add_gelu_mul_split_8": "elementwise",
    "zentorch::zentorch_addmm_1dbias": "matmul",
    "binary": "elementwise",
    "aten::to": "layout",
    "aten::_to_copy": "layout",
    "aten::permute": "layout",
    "aten::upsample_nearest2d": "layout",
    "Reorder": "layout",
    "reorder": "layout",
    "Transpose": "layout",
    "Concatenation": "layout",
    "Convert": "layout",
    "ladder::unet_call": "other",
    "Torch-Compiled Region: 0/0": "other",
    "Range": "other",
    "Shape": "other",
}


@pytest.mark.parametrize("name,kind", KINDS.items())
def test_op_kind(name, kind):
    assert explain.op_kind(name) == kind


ISAS = {
    "brgconv_avx512_amx_bf16": "amx",
    "brgemm_avx512_amx_I8": "amx",
    "oneDNN convolution brg_conv_fwd:avx512_core_amx": "amx",
    "jit_avx512_FP32": "avx512",
    "oneDNN matmul brg_matmul:avx512_core_bf16": "avx512",
    "ATen aten::silu (AVX512)": "avx512",
    "jit_avx2_FP32": "avx2",
    "ref_any_f32": "reference",
    "oneDNN convolution gemm:ref": "reference",
    "unknown_FP32": "other",
    "MKL SGEMM": "other",
    "CPUExecutionProvider Conv": "other",
    "jit_uni_bf16": "other",
}


@pytest.mark.parametrize("name,isa", ISAS.items())
def test_kernel_isa(name, isa):
    assert explain.kernel_isa(name) == isa


def test_flops_from_shapes():
    # 3x3 convolution, 4 -> 8 channels on 8x8, batch 2: 2 * (2*8*8*8) * (4*3*3).
    assert explain.conv_flops([2, 8, 8, 8], [8, 4, 3, 3]) == 2 * 1024 * 36
    # Grouped (5-D OpenVINO weight [groups, out/g, in/g, kh, kw]).
    assert explain.conv_flops([2, 8, 8, 8], [2, 4, 2, 3, 3]) == 2 * 1024 * 18
    # A linear layer [2, 77, 32] -> [2, 77, 64]: K = 32.
    assert explain.matmul_flops([2, 77, 32], [2, 77, 64]) == 2 * 2 * 77 * 64 * 32
    # Attention, [B, H, L, D] and [B, L, H, D], cross attention (S = 77) and self attention.
    assert explain.attention_flops([2, 8, 64, 40], [2, 8, 77, 40]) == 4 * 2 * 8 * 64 * 77 * 40
    assert explain.attention_flops([2, 64, 8, 40], [2, 77, 8, 40]) == 4 * 2 * 8 * 64 * 77 * 40
    assert explain.attention_flops([2, 8, 64, 40], [2, 8, 64, 40]) == 4 * 2 * 8 * 64 * 64 * 40
    # OpenVINO's fused attention: q [B, L, H, D], k transposed [B, H, D, S].
    assert explain.attention_flops([2, 1024, 4, 8], [2, 4, 8, 77]) == 4 * 2 * 4 * 1024 * 77 * 8
    assert explain.node_flops("elementwise", [[2, 8]], [2, 8]) is None


def test_dtype_of_kernel_names():
    assert explain.dtype_of("brgconv_avx512_amx_bf16") == "bf16"
    assert explain.dtype_of("brgemm_avx512_amx_I8") == "int8"
    assert explain.dtype_of("jit_avx512_FP32") == "fp32"
    assert explain.dtype_of("jit_uni") is None


def test_verbose_logs_become_kernels():
    records = explain.Records()
    explain.parse_verbose(
        [
            "onednn_verbose,v1,info,cpu,isa:Intel AVX-512 with Intel DL Boost and bfloat16 support",
            "onednn_verbose,v1,primitive,exec,cpu,convolution,brg_conv_fwd:avx512_core_amx,forward_inference,"
            "src:bf16,,alg:convolution_direct,mb2_ic4oc32_ih8oh8kh3,0.5",
            "onednn_verbose,v1,primitive,exec,cpu,reorder,jit:uni,undef,src:f32,,,2x4,0.25",
            "MKL_VERBOSE oneMKL 2024.0 Update 2 Product build 20240605 for Intel(R) 64 architecture",
            "MKL_VERBOSE SGEMM(T,N,128,2,32,0x1,0x2,32,0x3,32,0x4,0x5,128) 12.02ms CNR:OFF Dyn:1 TID:0  NThr:2",
        ],
        records,
    )
    kernels = {k["name"]: k for k in records.result()["kernels"]}
    assert set(kernels) == {"oneDNN convolution brg_conv_fwd:avx512_core_amx", "oneDNN reorder jit:uni", "MKL SGEMM"}
    conv = kernels["oneDNN convolution brg_conv_fwd:avx512_core_amx"]
    assert (conv["kind"], conv["isa"], conv["time_s"]) == ("convolution", "amx", pytest.approx(0.0005))
    assert kernels["oneDNN reorder jit:uni"]["kind"] == "layout"
    assert kernels["MKL SGEMM"] == {
        "name": "MKL SGEMM",
        "kind": "matmul",
        "isa": "other",
        "calls": 1,
        "time_s": pytest.approx(0.01202),
    }


def test_nodes_are_summed_by_name_and_dtype():
    records = explain.node_records(
        [
            {
                "name": "Convolution",
                "kernel": "brgconv_avx512_amx_bf16",
                "time_s": 0.002,
                "inputs": [[2, 4, 8, 8], [8, 4, 3, 3]],
                "output": [2, 8, 8, 8],
            },
            {
                "name": "Convolution",
                "kernel": "brgconv_avx512_amx_bf16",
                "time_s": 0.001,
                "inputs": [[2, 4, 8, 8], [8, 4, 3, 3]],
                "output": [2, 8, 8, 8],
            },
            {"name": "Reorder", "kernel": "ref_any_f32", "time_s": 0.0005},
        ]
    )
    out = records.result()
    conv = out["ops"][0]
    assert conv == {
        "name": "Convolution",
        "kind": "convolution",
        "calls": 2,
        "time_s": pytest.approx(0.003),
        "dtype": "bf16",
        "flops": 2 * explain.conv_flops([2, 8, 8, 8], [8, 4, 3, 3]),
    }
    assert out["ops"][1]["kind"] == "layout" and out["ops"][1]["dtype"] == "fp32"
    assert [k["isa"] for k in out["kernels"]] == ["amx", "reference"]


def test_onnxruntime_trace_keeps_the_fastest_run():
    def node(ts, dur, op, shapes_in, shape_out, provider="CPUExecutionProvider"):
        return {
            "cat": "Node",
            "name": f"/{op}_kernel_time",
            "ts": ts,
            "dur": dur,
            "args": {
                "op_name": op,
                "provider": provider,
                "input_type_shape": [{"float": s} for s in shapes_in],
                "output_type_shape": [{"float": shape_out}],
            },
        }

    events = [
        {"cat": "Session", "name": "model_run", "ts": 0, "dur": 120},
        node(10, 50, "Conv", [[1, 4, 8, 8], [8, 4, 3, 3]], [1, 8, 8, 8]),
        {"cat": "Session", "name": "model_run", "ts": 200, "dur": 100},
        {"cat": "Session", "name": "model_run", "ts": 400, "dur": 110},
        node(410, 60, "Conv", [[1, 4, 8, 8], [8, 4, 3, 3]], [1, 8, 8, 8]),
        node(210, 40, "Conv", [[1, 4, 8, 8], [8, 4, 3, 3]], [1, 8, 8, 8]),
        node(250, 20, "Softmax", [[1, 8, 8]], [1, 8, 8]),
        {"cat": "Node", "name": "/Conv_fence_before", "ts": 209, "dur": 0},
    ]
    nodes, run_s = explain.ort_nodes(events)
    assert run_s == 100e-6
    assert [(n["name"], n["time_s"]) for n in nodes] == [("Conv", 40e-6), ("Softmax", 20e-6)]
    assert nodes[0]["kernel"] == "CPUExecutionProvider Conv" and nodes[0]["dtype"] == "fp32"
    with pytest.raises(RuntimeError, match="no model_run"):
        explain.ort_nodes([])


def test_sleep_backend_scripts_a_profile_of_every_kind(tmp_path):
    backend = get("sleep", {"pass_s": 0.1, "dtype": "bf16"}, tmp_path)
    out = backend.explain({"steps": 4, "height": 64, "width": 64})
    assert out["call_s"] == pytest.approx(0.1 * 0.8 / 4)
    assert {o["kind"] for o in out["ops"]} == set(explain.KINDS)
    assert sum(o["time_s"] for o in out["ops"]) == pytest.approx(0.97 * out["call_s"])
    assert {k["isa"] for k in out["kernels"]} == set(explain.ISAS)
    conv = next(o for o in out["ops"] if o["kind"] == "convolution")
    assert conv["dtype"] == "bf16" and conv["flops"] > 0


def test_a_backend_without_a_profiler_says_so_in_one_line(tmp_path):
    backend = get("sleep", {}, tmp_path)
    with pytest.raises(UserError, match=r"^sleep cannot profile a UNet call: "):
        super(type(backend), backend).explain({})


def test_module_flops_match_torchs_own_count():
    """The modules' shapes (what an extension's ops without a FLOP formula are counted by) give what
    FlopCounterMode counts on plain PyTorch."""
    import torch

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(4, 8, 3, padding=1)
            self.grouped = torch.nn.Conv2d(8, 8, 3, padding=1, groups=2)
            self.linear = torch.nn.Linear(8, 16)

        def forward(self, x):
            y = self.grouped(self.conv(x))
            return self.linear(y.permute(0, 2, 3, 1))

    net, x = Net().eval(), torch.zeros(2, 4, 8, 8)

    def call(module):
        with torch.inference_mode():
            module(x)

    counted = explain.torch_flops_by_kind(net, call)
    assert counted["convolution"] == 2 * (2 * 8 * 8 * 8) * (4 * 9) + 2 * (2 * 8 * 8 * 8) * (4 * 9)
    assert explain.module_flops(net, call) == {k: counted[k] for k in ("convolution", "matmul")}
