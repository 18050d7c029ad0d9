"""Lambda-style entry for the trainer (the local stack runs training in-process this way).

AWS Batch runs the same code as ``python -m chronos_trainer`` inside the container image.
"""

from __future__ import annotations

from chronos_trainer.app import handler, main, run

__all__ = ["handler", "main", "run"]
