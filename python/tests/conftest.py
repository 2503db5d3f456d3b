import sys
from pathlib import Path

# Tests import the worker package from the checkout, as the controller's PYTHONPATH does.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def pytest_configure(config):
    # Tiers, as vitest's: `real` builds and runs the tiny pipeline (seconds each); `pytest -m "not real"`
    # runs the rest (protocol, options, the sleep backend, the worker's socket) in a few seconds.
    config.addinivalue_line("markers", "real: builds or runs a real (tiny) diffusers pipeline")
