"""Typed identifiers: a model id and a job id are both UUID strings, but never interchangeable."""

from __future__ import annotations

from typing import NewType

#: The id of a model definition (UUID string).
ModelId = NewType("ModelId", str)
#: The id of a training job (UUID string).
JobId = NewType("JobId", str)
#: The id of an anomaly scan (UUID string).
ScanId = NewType("ScanId", str)
