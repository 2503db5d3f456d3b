"""Where a pass's time goes: text encoding, UNet (per step), VAE decode, safety checker, the rest.

Timers wrap the pipeline's own entry points at the instance level (diffusers' encode_prompt and
run_safety_checker, the UNet's forward, vae.decode); the torch and OpenVINO pipelines share them,
since optimum-intel's pipeline runs diffusers' __call__ over its OpenVINO parts."""

import time

COMPONENTS = ("text_encoding", "unet", "vae_decode", "safety_checker")


class Breakdown:
    def __init__(self, pipe):
        self.totals = dict.fromkeys(COMPONENTS, 0.0)
        self.unet_steps: list[float] = []
        self.missing = []
        for obj, attr, key in (
            (pipe, "encode_prompt", "text_encoding"),
            (pipe.unet, "forward", "unet"),
            (pipe.vae, "decode", "vae_decode"),
            (pipe, "run_safety_checker", "safety_checker"),
        ):
            if hasattr(obj, attr):
                self._wrap(obj, attr, key)
            else:
                self.missing.append(key)

    def _wrap(self, obj, attr, key):
        inner = getattr(obj, attr)
        clock = time.perf_counter

        def timed(*args, **kwargs):
            t0 = clock()
            try:
                return inner(*args, **kwargs)
            finally:
                dt = clock() - t0
                self.totals[key] += dt
                if key == "unet":
                    self.unet_steps.append(dt)

        setattr(obj, attr, timed)

    def start(self) -> None:
        self.totals = dict.fromkeys(COMPONENTS, 0.0)
        self.unet_steps = []

    def result(self, pass_s: float) -> dict:
        out = {f"{k}_s": v for k, v in self.totals.items()}
        out["unet_steps_s"] = list(self.unet_steps)
        out["rest_s"] = pass_s - sum(self.totals.values())
        return out
