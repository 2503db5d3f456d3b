"""What is measured: the article's protocol. One warm-up call, then N timed passes, each timed here
with a monotonic clock so controller and socket latency never enter a sample."""
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
    t0 = time.perf_counter()
    if sc["warmup_steps"] > 0:
        backend.generate(num_inference_steps=sc["warmup_steps"], seed=sc["seed"], **call)
    warmup_s = time.perf_counter() - t0
    progress(stage="warmup", seconds=warmup_s, message=f"warm-up ({sc['warmup_steps']} steps)")
    samples = []
    for i in range(sc["passes"]):
        t0 = time.perf_counter()
        images = backend.generate(num_inference_steps=sc["steps"], seed=sc["seed"], **call)
        samples.append(time.perf_counter() - t0)
        progress(stage="pass", index=i + 1, total=sc["passes"], seconds=samples[-1])
    return {
        "samples_s": samples,
        "warmup_s": warmup_s,
        "scenario": sc,
        "image_shape": list(getattr(images, "shape", [])),
    }
