"""Routes for the anomaly scans of a model."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Response

from chronos_core.api.deps import ModelIdPath, ScanIdPath, ServicesDep
from chronos_core.api.routing import AuthenticatedRoute
from chronos_core.api.schemas.anomaly_scans import (
    AnomalyEventPage,
    AnomalyScanPage,
    AnomalyScanRequest,
    AnomalyScanResponse,
    QualityIssuePage,
)
from chronos_core.api.schemas.errors import ErrorResponse
from chronos_core.api.security import Operator, Reader
from chronos_core.application.anomaly import admission, control, queries
from chronos_core.application.anomaly.commands import ListFindings, ListScans, ScanCommand, StartScan
from chronos_core.domain.anomaly import AnomalyEvent, QualityIssue
from chronos_core.domain.ids import JobId

router = APIRouter(
    prefix="/models/{model_id}/anomaly-scans", tags=["Anomaly scans"], route_class=AuthenticatedRoute
)

_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "No such model, job or scan (for this caller)."},
    409: {"model": ErrorResponse, "description": "The scan's or model's state forbids this."},
    422: {"model": ErrorResponse, "description": "Invalid input, or no readings in the window."},
    502: {"model": ErrorResponse, "description": "STH-Comet answered with an error."},
    503: {"model": ErrorResponse, "description": "A dependency cannot be reached."},
}

Skip = Annotated[int, Query(ge=0, le=1_000_000)]
Limit = Annotated[int, Query(ge=1, le=1000)]


@router.post("", status_code=202, response_model=AnomalyScanResponse, responses=_ERRORS)
def start_scan(
    principal: Operator,
    services: ServicesDep,
    response: Response,
    model_id: ModelIdPath,
    request: Annotated[AnomalyScanRequest, Body()],
) -> AnomalyScanResponse:
    """Admit a scan and start its state machine; 202 with the scan and its ``Location``."""
    scan = admission.start_scan(
        services,
        StartScan(
            principal=principal,
            model_id=model_id,
            job_id=JobId(request.job_id) if request.job_id else None,
            last_n=request.last_n,
            date_from=request.date_from,
            date_to=request.date_to,
            options=request.options(),
        ),
    )
    response.headers["Location"] = f"/models/{model_id}/anomaly-scans/{scan.id}"
    return AnomalyScanResponse.of(scan, services.scan_workflow)


@router.get("", response_model=AnomalyScanPage, responses={404: _ERRORS[404]})
def list_scans(
    principal: Reader, services: ServicesDep, model_id: ModelIdPath, skip: Skip = 0, limit: Limit = 100
) -> AnomalyScanPage:
    """The model's scans, newest first."""
    page = queries.list_scans(
        services, ListScans(principal=principal, model_id=model_id, skip=skip, limit=limit)
    )
    return AnomalyScanPage(
        items=[AnomalyScanResponse.of(s) for s in page.items],
        total=page.total,
        skip=page.skip,
        limit=page.limit,
    )


@router.get("/{scan_id}", response_model=AnomalyScanResponse, responses={404: _ERRORS[404]})
def get_scan(
    principal: Reader, services: ServicesDep, model_id: ModelIdPath, scan_id: ScanIdPath
) -> AnomalyScanResponse:
    """One scan: status, per-chunk progress (chunks, points scored, anomalies so far, ETA), timings."""
    scan = queries.get_scan(services, ScanCommand(principal=principal, model_id=model_id, scan_id=scan_id))
    return AnomalyScanResponse.of(scan, services.scan_workflow)


@router.get("/{scan_id}/events", response_model=AnomalyEventPage, responses={404: _ERRORS[404]})
def list_events(
    principal: Reader,
    services: ServicesDep,
    model_id: ModelIdPath,
    scan_id: ScanIdPath,
    skip: Skip = 0,
    limit: Limit = 100,
) -> AnomalyEventPage:
    """The scan's value-anomaly events, oldest first (empty until it has combined)."""
    page = queries.list_findings(
        services,
        ListFindings(principal=principal, model_id=model_id, scan_id=scan_id, skip=skip, limit=limit),
    )
    events = [e for e in page.items if isinstance(e, AnomalyEvent)]
    return AnomalyEventPage(
        scan_id=page.scan_id, items=events, total=page.total, skip=page.skip, limit=page.limit
    )


@router.get("/{scan_id}/data-quality", response_model=QualityIssuePage, responses={404: _ERRORS[404]})
def list_quality_issues(
    principal: Reader,
    services: ServicesDep,
    model_id: ModelIdPath,
    scan_id: ScanIdPath,
    skip: Skip = 0,
    limit: Limit = 100,
) -> QualityIssuePage:
    """The scan's data-quality issues (gaps, flat lines, duplicate and out-of-order timestamps)."""
    page = queries.list_findings(
        services,
        ListFindings(
            principal=principal,
            model_id=model_id,
            scan_id=scan_id,
            category="data_quality",
            skip=skip,
            limit=limit,
        ),
    )
    issues = [i for i in page.items if isinstance(i, QualityIssue)]
    return QualityIssuePage(
        scan_id=page.scan_id, items=issues, total=page.total, skip=page.skip, limit=page.limit
    )


@router.post("/{scan_id}/cancel", response_model=AnomalyScanResponse, responses=_ERRORS)
def cancel_scan(
    principal: Operator, services: ServicesDep, model_id: ModelIdPath, scan_id: ScanIdPath
) -> AnomalyScanResponse:
    """Stop a running scan's execution; 409 once it has finished."""
    scan = control.cancel_scan(services, ScanCommand(principal=principal, model_id=model_id, scan_id=scan_id))
    return AnomalyScanResponse.of(scan, services.scan_workflow)


@router.post("/{scan_id}/retry", status_code=202, response_model=AnomalyScanResponse, responses=_ERRORS)
def retry_scan(
    principal: Operator, services: ServicesDep, model_id: ModelIdPath, scan_id: ScanIdPath
) -> AnomalyScanResponse:
    """Resume a failed scan (or fill the failed chunks of a partial one) from its checkpoints."""
    scan = control.retry_scan(services, ScanCommand(principal=principal, model_id=model_id, scan_id=scan_id))
    return AnomalyScanResponse.of(scan, services.scan_workflow)
