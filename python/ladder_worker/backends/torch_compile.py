"""torch.compile (inductor) on plain PyTorch: Intel's successor to IPEX. The torch backend's pipeline
(channels_last, bf16 autocast) with the UNet (optionally vae.decode too) compiled with static shapes.
Compilation is triggered in load() at the run's shapes, so it is timed apart (compile_s) and never
enters the warm-up or a pass; during the timed passes a recompile fails the bench."""

import contextlib
import copy
import os
import re
import time

import torch

from .torch import TorchBackend

# What "compile" means here, per `components` option value.
COMPILED = {"unet": ("unet",), "unet+vae": ("unet", "vae_decode")}


def compile_counters() -> dict:
    """What dynamo and inductor counted in this process so far (counters are process-wide)."""
    from torch._dynamo.utils import counters

    def cache(group: str, prefix: str) -> dict:
        return {k: int(counters[group][f"{prefix}_{k}"]) for k in ("hit", "miss", "bypass")}

    return {
        "graphs": int(counters["stats"]["unique_graphs"]),
        "graph_breaks": int(sum(counters["graph_break"].values())),
        "graph_break_reasons": {str(k)[:200]: int(v) for k, v in counters["graph_break"].items()},
        "fx_graph_cache": cache("inductor", "fxgraph_cache"),
        # With freezing, AOTAutograd's cache always bypasses ("Cannot cache a graph with freezing enabled").
        "aot_autograd_cache": cache("aot_autograd", "autograd_cache"),
    }


def is_compiled(fn) -> bool:
    """torch.compile returned a wrapper (TORCHDYNAMO_DISABLE=1 makes it return its argument unchanged)."""
    return isinstance(fn, torch._dynamo.eval_frame.OptimizedModule) or hasattr(fn, "_torchdynamo_orig_callable")


class TorchCompileBackend(TorchBackend):
    name = "torch-compile"
    compile_backend = "inductor"  # torch.compile's backend (zentorch's subclass sets its own)

    def __init__(self, options: dict, cache_dir):
        super().__init__(options, cache_dir)
        self.loaded_graphs = 0  # graphs compiled by the end of load()
        self.warm_graphs: int | None = None  # ... by the end of the warm-up: set once warmed_up() ran
        self.seen: dict | None = None  # the runtime dict observe() fills, for the recompile counts
        self.compiled: list[str] = []

    def load(self, info: dict, scenario: dict) -> None:
        # Before anything compiles: inductor reads it when it first writes kernels and FX graphs.
        self.inductor_dir = self.cache_dir / "inductor"
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(self.inductor_dir)
        super().load(info, scenario)  # the torch backend's pipeline, channels_last as asked

        import torch._inductor.config as inductor_config

        # Freezing folds the weights into the graph as constants (inference only: grad is off here).
        inductor_config.freezing = bool(self.options["freezing"])
        # `ladder explain` only: each generated C++ kernel records itself for torch.profiler (a cost on
        # every kernel call, so never in a measured run).
        inductor_config.cpp.enable_kernel_profile = bool(scenario.get("explain"))
        mode = self.options["mode"]
        kwargs = dict(fullgraph=bool(self.options["fullgraph"]), dynamic=False, backend=self.compile_backend)
        if self.compile_backend == "inductor":
            kwargs["mode"] = mode  # inductor's modes; another backend gets none
        parts = COMPILED[self.options["components"]]
        # Compiling the module (not unet.compile()) keeps hooks registered on the wrapper outside the
        # graph, so observe()'s dtype hook and the timers see every call and trigger no recompile.
        self.pipe.unet = torch.compile(self.pipe.unet, **kwargs)
        if "vae_decode" in parts:
            self.pipe.vae.decode = torch.compile(self.pipe.vae.decode, **kwargs)
        parts_now = (("unet", self.pipe.unet), ("vae_decode", self.pipe.vae.decode))
        self.compiled = [p for p, fn in parts_now if is_compiled(fn)]
        t0 = time.perf_counter()
        self.compile_now(scenario, parts)
        self.timings["compile_s"] = time.perf_counter() - t0
        self.loaded_graphs = compile_counters()["graphs"]

    def compile_now(self, scenario: dict, parts) -> None:
        """One call of each compiled part with exactly what the pipeline will pass it (shapes, dtypes,
        keyword arguments, a 0-d timestep view from the scheduler's own timesteps), so the pipeline's
        first call finds every graph compiled."""
        pipe = self.pipe
        batch = 2 if scenario["guidance_scale"] > 1 else 1  # classifier-free guidance doubles the batch
        scale = pipe.vae_scale_factor
        h, w = scenario["height"] // scale, scenario["width"] // scale
        channels = pipe.unet.config.in_channels
        with torch.inference_mode(), self.autocast():
            # The pipeline sets its scheduler's timesteps in inference mode on every call; a copy made here
            # gives the same kind of tensor (dtype, 0-d view, inference tensor: dynamo guards on its dispatch keys).
            scheduler = copy.deepcopy(pipe.scheduler)
            scheduler.set_timesteps(max(1, scenario["steps"]))
            t = next(iter(scheduler.timesteps))  # `for i, t in enumerate(timesteps)` in the pipeline
            sample = torch.randn(batch, channels, h, w)
            text = torch.randn(batch, pipe.tokenizer.model_max_length, pipe.text_encoder.config.hidden_size)
            pipe.unet(
                sample,
                t,
                encoder_hidden_states=text,
                timestep_cond=None,
                cross_attention_kwargs=None,
                added_cond_kwargs=None,
                return_dict=False,
            )
            if "vae_decode" in parts:
                pipe.vae.decode(torch.randn(1, channels, h, w), return_dict=False, generator=torch.Generator("cpu"))

    def effective(self) -> dict:
        eff = super().effective()
        eff["compile"] = {
            "mode": self.options["mode"],
            "freezing": bool(torch._inductor.config.freezing),
            "fullgraph": bool(self.options["fullgraph"]),
            "dynamic": False,
            "compiled": list(self.compiled),
            **compile_counters(),
            "cache_dir": os.environ.get("TORCHINDUCTOR_CACHE_DIR"),
            "compile_s": self.timings.get("compile_s"),
        }
        return eff

    @contextlib.contextmanager
    def observe(self):
        with super().observe() as seen:
            self.seen = seen
            yield seen

    def warmed_up(self) -> None:
        # Everything the passes need is compiled by now: any further compile is a failure, not a cost.
        self.warm_graphs = compile_counters()["graphs"]
        if self.seen is not None:
            self.seen["warmup_compiles"] = self.warm_graphs - self.loaded_graphs

    def generate(self, **kwargs):
        if self.warm_graphs is None:
            return super().generate(**kwargs)
        try:
            # Only around timed passes: the stance is the process's, and is restored on exit.
            with torch.compiler.set_stance("fail_on_recompile"):
                return super().generate(**kwargs)
        except RuntimeError as exc:
            if str(exc).startswith("Detected recompile"):
                # Dynamo's message spans lines (the worker reports only the first): keep where and why.
                first, *rest = str(exc).splitlines()
                where = re.search(r"function name: '([^']*)'", first)
                why = [ln.strip(" -") for ln in rest if ln.strip(" -")]
                raise RuntimeError(
                    f"torch.compile recompiled during a timed pass"
                    f"{f' ({where[1]})' if where else ''}: {why[-1] if why else first}"
                ) from exc
            raise
        finally:
            if self.seen is not None:
                self.seen["recompiles"] = compile_counters()["graphs"] - self.warm_graphs


BACKEND = TorchCompileBackend
