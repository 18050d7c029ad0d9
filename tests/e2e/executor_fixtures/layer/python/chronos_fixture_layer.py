"""Layer module found through ``<layer>/python`` on the worker's PYTHONPATH."""

VALUE = "from-layer-python"
