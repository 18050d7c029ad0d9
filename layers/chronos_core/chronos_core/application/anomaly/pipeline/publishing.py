"""Step Publish: each value-anomaly event upserted into Orion as a Smart Data Models ``Anomaly``
entity in the model's tenant; the scan completes."""

from __future__ import annotations

from typing import Final

from chronos_core.application.anomaly.deps import PublishDeps
from chronos_core.application.anomaly.pipeline.events import PublishResult, ScanEvent
from chronos_core.application.anomaly.pipeline.lookup import require_model, require_scan
from chronos_core.domain.anomaly import AnomalyEvent, AnomalyScan, AnomalyTarget, ScanPhase, ScanStatus
from chronos_core.domain.model import Model
from chronos_core.observability import logger

#: Events read per page while publishing.
PAGE: Final = 500


def publish_scan(deps: PublishDeps, event: ScanEvent) -> PublishResult:
    """Publish the scan's events (unless its settings say not to) and complete it:
    ``completed_with_failures`` when some chunks failed within the tolerance, else
    ``completed``."""
    scan = require_scan(deps.scans, event.scan_id)
    if scan.status.finished:
        return PublishResult(scan_id=scan.id, status=scan.status.value, published=0)
    deps.scans.enter_phase(scan.id, ScanPhase.PUBLISH)
    published = 0
    if scan.settings.publish:
        model = require_model(deps, scan)
        events = _all_events(deps, scan)
        if events:
            published = deps.anomaly_publisher.publish(_target(scan, model), events)
    if scan.summary is not None:
        deps.scans.record_summary(scan.id, scan.summary.model_copy(update={"published": published}))
    status = ScanStatus.COMPLETED_WITH_FAILURES if scan.failed_chunks else ScanStatus.COMPLETED
    finished = deps.scans.finish(scan.id, status)
    final = finished.status if finished is not None else (deps.scans.status_of(scan.id) or status)
    logger.info(
        "Anomaly scan finished", extra={"scan_id": scan.id, "status": final.value, "published": published}
    )
    return PublishResult(scan_id=scan.id, status=final.value, published=published)


def _all_events(deps: PublishDeps, scan: AnomalyScan) -> list[AnomalyEvent]:
    events: list[AnomalyEvent] = []
    while True:
        page = deps.findings.events(scan.id, len(events), PAGE)
        events.extend(page.items)
        if not page.items or len(events) >= page.total:
            return events


def _target(scan: AnomalyScan, model: Model) -> AnomalyTarget:
    source = model.source
    return AnomalyTarget(
        fiware_service=source.fiware_service,
        fiware_servicepath=source.fiware_servicepath,
        source_entity_id=source.entity_id,
        source_entity_type=source.entity_type,
        feature=source.feature,
        scan_id=scan.id,
        model_id=scan.model_id,
        job_id=scan.job_id,
        false_discovery_rate=scan.settings.false_discovery_rate,
    )
