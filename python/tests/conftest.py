import sys
from pathlib import Path

# Tests import the worker package from the checkout, as the controller's PYTHONPATH does.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
