"""The plain loop of `ladder overhead` starts from the worker's latents (its image is compared too)."""

import types

import numpy as np

from ladder_worker import plain
from ladder_worker.backends.base import seeded_latents


def test_plain_latents_are_the_workers():
    pipe = types.SimpleNamespace(
        vae_scale_factor=8, unet=types.SimpleNamespace(config=types.SimpleNamespace(in_channels=4))
    )
    got = plain.latents_for(pipe, 7, 256, 192).numpy()
    assert got.shape == (1, 4, 32, 24)
    np.testing.assert_array_equal(got, seeded_latents(7, (1, 4, 32, 24)))
    assert not np.array_equal(got, seeded_latents(8, (1, 4, 32, 24)))
