"""Reading anomaly scans and their findings as the caller may see them."""

from __future__ import annotations

from pydantic import BaseModel

from chronos_core.application.anomaly.commands import ListFindings, ListScans, ScanCommand
from chronos_core.application.anomaly.deps import ScanQueryDeps
from chronos_core.application.models.commands import GetModel
from chronos_core.application.models.definitions import get_model
from chronos_core.application.ports.models import Page
from chronos_core.domain.anomaly import AnomalyEvent, AnomalyScan, QualityIssue
from chronos_core.domain.errors import NotFoundError


class FindingsPage(BaseModel):
    """One page of a scan's findings, oldest first: value-anomaly events or data-quality issues."""

    scan_id: str
    category: str
    items: list[AnomalyEvent] | list[QualityIssue]
    total: int
    skip: int
    limit: int


def get_scan(deps: ScanQueryDeps, command: ScanCommand) -> AnomalyScan:
    """The scan. Raises NotFoundError (also for another tenant's model)."""
    get_model(deps, GetModel(principal=command.principal, model_id=command.model_id))
    scan = deps.scans.get(command.scan_id)
    if scan is None or scan.model_id != command.model_id:
        raise NotFoundError(f"Anomaly scan {command.scan_id} not found for model {command.model_id}")
    return scan


def list_scans(deps: ScanQueryDeps, command: ListScans) -> Page[AnomalyScan]:
    """The model's scans, newest first."""
    get_model(deps, GetModel(principal=command.principal, model_id=command.model_id))
    return deps.scans.list_for_model(command.model_id, command.skip, command.limit)


def list_findings(deps: ScanQueryDeps, command: ListFindings) -> FindingsPage:
    """A page of the scan's value-anomaly events (``category="value"``) or data-quality issues."""
    scan = get_scan(
        deps, ScanCommand(principal=command.principal, model_id=command.model_id, scan_id=command.scan_id)
    )
    page: Page[AnomalyEvent] | Page[QualityIssue]
    if command.category == "value":
        page = deps.findings.events(scan.id, command.skip, command.limit)
    else:
        page = deps.findings.issues(scan.id, command.skip, command.limit)
    return FindingsPage(
        scan_id=scan.id,
        category=command.category,
        items=page.items,
        total=page.total,
        skip=page.skip,
        limit=page.limit,
    )
