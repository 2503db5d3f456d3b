"""What is measured: the article's protocol. One warm-up call, then N timed passes, each timed here
with a monotonic clock so controller and socket latency never enter a sample."""
import contextlib
import time

DEFAULTS = {
    "prompt": "sailing ship in storm by Rembrandt",
    "steps": 20,
    "warmup_steps": 10,
    "passes": 10,
    "height": 512,
    "width": 512,
    "guidance_scale": 7.5,
    "seed": 0,
    "output_type": "np",
}


def run(backend, scenario: dict, progress) -> dict:
    sc = {**DEFAULTS, **scenario}
    call = dict(prompt=sc["prompt"], height=sc["height"], width=sc["width"],
                guidance_scale=sc["guidance_scale"], output_type=sc["output_type"])
    # The first call (warm-up, or the first pass without one) also proves the runtime toggles:
    # the dtype the UNet really computes in.
    observe = getattr(backend, "observe", None) or (lambda: contextlib.nullcontext(None))
    runtime = None
    t0 = time.perf_counter()
    if sc["warmup_steps"] > 0:
        with observe() as runtime:
            backend.generate(num_inference_steps=sc["warmup_steps"], seed=sc["seed"], **call)
    warmup_s = time.perf_counter() - t0
    progress(stage="warmup", seconds=warmup_s, message=f"warm-up ({sc['warmup_steps']} steps)")
    samples = []
    for i in range(sc["passes"]):
        with observe() if runtime is None else contextlib.nullcontext(runtime) as runtime:
            t0 = time.perf_counter()
            images = backend.generate(num_inference_steps=sc["steps"], seed=sc["seed"], **call)
            samples.append(time.perf_counter() - t0)
        progress(stage="pass", index=i + 1, total=sc["passes"], seconds=samples[-1])
    return {
        "samples_s": samples,
        "runtime": runtime,
        "warmup_s": warmup_s,
        "scenario": sc,
        "image_shape": list(getattr(images, "shape", [])),
    }
