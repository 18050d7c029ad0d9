"""The anomaly-scan stores on FerretDB: a whole scan run through the pipeline's steps on the
Mongo adapters (progress derived from chunk records, findings paged), a failed scan resumed by
retry without rescoring its scored chunks, and cancellation that later steps cannot undo."""

from __future__ import annotations

from typing import Any

import pytest
from pymongo.database import Database

from chronos_core.adapters.mongo import Document, MongoAnomalyFindings, MongoAnomalyScanRepository
from chronos_core.application.anomaly.commands import ScanCommand
from chronos_core.application.anomaly.control import cancel_scan, retry_scan
from chronos_core.application.anomaly.pipeline.combining import combine_scan
from chronos_core.application.anomaly.pipeline.events import ScanEvent
from chronos_core.application.anomaly.pipeline.planning import plan_scan
from chronos_core.application.anomaly.pipeline.publishing import publish_scan
from chronos_core.bootstrap import Services
from chronos_core.domain.anomaly import ScanStatus
from tests.unit.application.test_anomaly_scans import (
    MODEL,
    OPERATOR,
    POINTS,
    SPIKES,
    admit,
    run_map,
    run_scan,
)
from tests.unit.application.test_anomaly_scans import world as fake_world

pytestmark = pytest.mark.integration


def world(db: Database[Document], **overrides: Any) -> Services:
    return fake_world(scans=MongoAnomalyScanRepository(db), findings=MongoAnomalyFindings(db), **overrides)


def test_a_scan_runs_on_the_mongo_stores(mongo_db: Database[Document]) -> None:
    services = world(mongo_db)
    scan = admit(services)
    assert services.scans.get(scan.id).status == ScanStatus.QUEUED  # type: ignore[union-attr]
    done = run_scan(services, scan.id)
    assert done.status == ScanStatus.COMPLETED, done.error
    assert (done.progress.chunks_total, done.progress.chunks_done, done.progress.chunks_failed) == (3, 3, 0)
    assert done.progress.points_scored == done.summary.points_scored > 2900  # type: ignore[union-attr]
    assert done.phases["publish"].ended_at is not None and done.ended_at is not None
    events = services.findings.events(scan.id, 0, 2)
    assert events.total == len(SPIKES) and [e.peak_time for e in events.items] == [
        POINTS[i][0] for i in SPIKES[:2]
    ]
    assert services.findings.events(scan.id, 2, 2).items[0].peak_time == POINTS[SPIKES[2]][0]
    assert [s.id for s in services.scans.list_for_model(MODEL, 0, 10).items] == [scan.id]
    assert services.scans.running_scans(10) == []


def test_retry_keeps_scored_chunks_and_clears_failed_ones(mongo_db: Database[Document]) -> None:
    services = world(mongo_db)
    scan = admit(services)
    failed = run_scan(services, scan.id, fail={2000})
    assert failed.status == ScanStatus.FAILED and [f.offset for f in failed.failed_chunks] == [2000]
    assert failed.progress.chunks_done == 2
    retried = retry_scan(services, ScanCommand(principal=OPERATOR, model_id=MODEL, scan_id=scan.id))
    assert retried.status == ScanStatus.QUEUED and retried.error is None and retried.failed_chunks == []
    assert retried.progress.chunks_done == 2 and retried.window == failed.window  # the plan is kept
    results = run_map(services, scan.id)
    assert [r.skipped for r in results] == [True, True, False]
    combine_scan(services, ScanEvent(scan_id=scan.id))
    assert publish_scan(services, ScanEvent(scan_id=scan.id)).status == "completed"
    assert services.scans.get(scan.id).progress.chunks_done == 3  # type: ignore[union-attr]


def test_a_cancelled_scan_stays_cancelled(mongo_db: Database[Document]) -> None:
    services = world(mongo_db)
    scan = admit(services)
    plan_scan(services, ScanEvent(scan_id=scan.id))
    cancelled = cancel_scan(services, ScanCommand(principal=OPERATOR, model_id=MODEL, scan_id=scan.id))
    assert cancelled.status == ScanStatus.CANCELLED and cancelled.error is not None
    assert run_map(services, scan.id) == []  # the plan of a finished scan is empty
    assert not services.scans.record_chunk(scan.id, services.scans.chunk_records(scan.id).get(0) or _record())
    assert services.scans.finish(scan.id, ScanStatus.COMPLETED) is None
    assert services.scans.status_of(scan.id) == ScanStatus.CANCELLED


def _record() -> Any:
    from chronos_core.domain.anomaly import ChunkRecord

    return ChunkRecord(offset=0, state="scored", points_scored=10)
