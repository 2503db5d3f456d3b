"""torch-compile's guard on the timed passes, on a fake pipeline whose one compiled function sees a new
shape when the number of steps changes (dynamo's eager backend: no inductor compile needed)."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from ladder_worker.backends.torch_compile import TorchCompileBackend, compile_counters, is_compiled


class FakePipe:
    def __init__(self):
        self.step = torch.compile(lambda x: x * 2, backend="eager", dynamic=False, fullgraph=True)

    def __call__(self, *, num_inference_steps, **_):
        self.step(torch.ones(num_inference_steps))
        return SimpleNamespace(images=np.zeros((1, 8, 8, 3), dtype=np.float32))


CALL = dict(seed=0, prompt="p", height=8, width=8, latents=None, guidance_scale=1.0, output_type="np")


def stance() -> str:
    return torch._dynamo.eval_frame._stance.stance


def test_a_recompile_in_a_timed_pass_fails_in_one_line_and_the_stance_is_restored(tmp_path):
    b = TorchCompileBackend({}, tmp_path)
    b.pipe = FakePipe()
    b.seen = {}
    b.generate(num_inference_steps=1, **CALL)  # the warm-up: compiling is allowed
    b.warmed_up()
    assert b.seen == {"warmup_compiles": b.warm_graphs}  # load() compiled nothing here
    b.generate(num_inference_steps=1, **CALL)  # same shape: no compile
    assert b.seen["recompiles"] == 0 and stance() == "default"
    with pytest.raises(RuntimeError, match=r"^torch\.compile recompiled during a timed pass \(.*\): .*size") as err:
        b.generate(num_inference_steps=2, **CALL)
    assert "\n" not in str(err.value)
    assert b.seen["recompiles"] == 0 and stance() == "default"


def test_counters_and_what_counts_as_compiled():
    c = compile_counters()
    assert set(c["fx_graph_cache"]) == {"hit", "miss", "bypass"} == set(c["aot_autograd_cache"])
    assert c["graph_breaks"] == sum(c["graph_break_reasons"].values())
    module = torch.nn.Linear(2, 2)
    assert not is_compiled(module) and not is_compiled(module.forward)
    assert is_compiled(torch.compile(module)) and is_compiled(torch.compile(module.forward))
