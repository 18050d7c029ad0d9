"""Commands of the anomaly-scan use cases."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from chronos_core.application.ports.anomaly import FindingCategory
from chronos_core.domain.anomaly import ScanOptions
from chronos_core.domain.auth import Principal
from chronos_core.domain.ids import JobId, ModelId, ScanId


@dataclass(frozen=True, kw_only=True)
class StartScan:
    """Scan ``model_id``'s readings with ``job_id``'s served forecaster (default: the job the
    model serves): the last ``last_n`` points, or those received in ``[date_from, date_to)``
    (``date_to`` unset: now)."""

    principal: Principal
    model_id: ModelId
    job_id: JobId | None = None
    last_n: int | None = None
    date_from: datetime | None = None
    date_to: datetime | None = None
    options: ScanOptions = field(default_factory=ScanOptions)


@dataclass(frozen=True, kw_only=True)
class ScanCommand:
    """A command addressed to one scan of one model."""

    principal: Principal
    model_id: ModelId
    scan_id: ScanId


@dataclass(frozen=True, kw_only=True)
class ListScans:
    principal: Principal
    model_id: ModelId
    skip: int = 0
    limit: int = 100


@dataclass(frozen=True, kw_only=True)
class ListFindings:
    """One page of a scan's value-anomaly events or data-quality issues."""

    principal: Principal
    model_id: ModelId
    scan_id: ScanId
    category: FindingCategory = "value"
    skip: int = 0
    limit: int = 100
