"""A plain diffusers loop: `python -m ladder_worker.plain --model-path DIR ...`.

The torch backend's exact call (same pipeline load, latents, generator, inference mode, output type)
with nothing around it: no socket, no I/O thread, no heartbeats, no timers or hooks, no progress
messages. `ladder overhead` runs it beside a real worker, interleaved, in the rung's own environment,
to measure what the worker adds to a pass. It imports nothing else of this package on purpose (the
package's __init__ is empty), so it is what a user would write. Prints one JSON line on stdout.
"""

import argparse
import json
import os
import time

import numpy as np
import torch
from diffusers import StableDiffusionPipeline


def latents_for(pipe, seed: int, height: int, width: int) -> torch.Tensor:
    # The same draw as backends/base.seeded_latents (a test holds the two equal).
    scale = getattr(pipe, "vae_scale_factor", 8)
    shape = (1, pipe.unet.config.in_channels, height // scale, width // scale)
    return torch.from_numpy(np.random.default_rng(seed).standard_normal(shape, dtype=np.float32))


def main() -> int:
    p = argparse.ArgumentParser(prog="ladder_worker.plain")
    p.add_argument("--model-path", required=True)
    p.add_argument("--prompt", required=True)
    p.add_argument("--height", type=int, required=True)
    p.add_argument("--width", type=int, required=True)
    p.add_argument("--steps", type=int, required=True)
    p.add_argument("--warmup-steps", type=int, required=True)
    p.add_argument("--passes", type=int, required=True)
    p.add_argument("--guidance-scale", type=float, required=True)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--image-path", help="save the last pass's image here (.npy), as the worker does")
    a = p.parse_args()

    pipe = StableDiffusionPipeline.from_pretrained(a.model_path, use_safetensors=True, local_files_only=True)
    pipe.set_progress_bar_config(disable=True)
    latents = latents_for(pipe, a.seed, a.height, a.width)

    def generate(steps: int):
        generator = torch.Generator("cpu").manual_seed(a.seed)
        with torch.inference_mode():
            return pipe(
                prompt=a.prompt,
                height=a.height,
                width=a.width,
                latents=latents,
                guidance_scale=a.guidance_scale,
                num_inference_steps=steps,
                output_type="np",
                generator=generator,
            ).images

    t0 = time.perf_counter()
    if a.warmup_steps > 0:
        generate(a.warmup_steps)
    warmup_s = time.perf_counter() - t0
    samples, images = [], None
    for _ in range(a.passes):
        t0 = time.perf_counter()
        images = generate(a.steps)
        samples.append(time.perf_counter() - t0)
    if a.image_path:
        np.save(a.image_path, np.asarray(images[0], dtype=np.float32))
    doc = {"pid": os.getpid(), "samples_s": samples, "warmup_s": warmup_s, "torch_threads": torch.get_num_threads()}
    print(json.dumps(doc), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
