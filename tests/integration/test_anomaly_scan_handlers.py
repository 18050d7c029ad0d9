"""The anomaly-scan step handlers (functions/anomaly_scan/app.py) invoked with the sample events
in events/, as Step Functions calls them, over the scan stores on FerretDB and fakes for the
series, the bucket, the scorer and Orion: a scan with the events' id runs plan → score → combine
→ publish, and a second one takes the failure steps."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from types import ModuleType
from typing import Any

import pytest
from pymongo.database import Database

from chronos_core import bootstrap
from chronos_core.adapters.mongo import Document, MongoAnomalyFindings, MongoAnomalyScanRepository
from chronos_core.domain.anomaly import AnomalyScan, ScanRequest, ScanStatus
from chronos_core.domain.ids import JobId, ModelId, ScanId
from chronos_core.domain.training_job import ExecutionRef
from tests.support.anomaly import noisy_series, with_spikes
from tests.support.builders import T0
from tests.support.lambda_runtime import FakeLambdaContext, load_event, load_handler_module
from tests.unit.application.test_anomaly_scans import world

pytestmark = pytest.mark.integration

#: The sample events these tests cover (tests/integration/test_sample_events.py checks that every
#: file in events/ is covered).
ANOMALY_EVENTS = {
    "plan_anomaly_scan.json": "plan",
    "score_anomaly_chunk.json": "score",
    "record_anomaly_chunk_failure.json": "record_chunk",
    "combine_anomaly_scan.json": "combine",
    "publish_anomaly_scan.json": "publish",
    "record_anomaly_scan_failure.json": "record_failure",
}
SCAN_ID = ScanId(load_event("plan_anomaly_scan.json")["scan_id"])
POINTS = with_spikes(noisy_series(3000, seed=11, start=T0), [700, 2300])


@pytest.fixture
def steps(mongo_db: Database[Document]) -> Iterator[ModuleType]:
    services = world(
        POINTS, scans=MongoAnomalyScanRepository(mongo_db), findings=MongoAnomalyFindings(mongo_db)
    )
    scan = AnomalyScan(
        id=SCAN_ID,
        model_id=ModelId("model-1"),
        job_id=JobId("job-1"),
        fiware_service="energy",
        request=ScanRequest(date_from=T0, date_to=T0 + timedelta(minutes=3000)),
        points_expected=3000,
        execution=ExecutionRef(
            name=SCAN_ID, attempt=1, arn=f"arn:aws:states:local:0:execution:scan:{SCAN_ID}"
        ),
        status=ScanStatus.QUEUED,
    )
    services.scans.add(scan)
    bootstrap._current = services  # the handlers call services()
    try:
        yield load_handler_module("anomaly_scan")
    finally:
        bootstrap.reset()


def invoke(module: ModuleType, event_name: str, **changes: Any) -> dict[str, Any]:
    handler = getattr(module, ANOMALY_EVENTS[event_name])
    return handler({**load_event(event_name), **changes}, FakeLambdaContext(remaining_ms=300_000))  # type: ignore[no-any-return]


def test_the_steps_run_a_scan_from_the_sample_events(steps: ModuleType) -> None:
    planned = invoke(steps, "plan_anomaly_scan.json")
    assert planned["running"] and len(planned["chunks"]) == 3
    first = planned["chunks"][0]
    assert first["date_from"] == load_event("score_anomaly_chunk.json")["date_from"].replace(".000Z", "Z")
    for chunk in planned["chunks"]:
        result = invoke(steps, "score_anomaly_chunk.json", **chunk)
        assert result["complete"] and not result["skipped"]
    assert invoke(steps, "score_anomaly_chunk.json")["skipped"]  # a retried item is not rescored
    assert invoke(steps, "combine_anomaly_scan.json") == {"scan_id": SCAN_ID, "events": 2, "running": True}
    assert invoke(steps, "publish_anomaly_scan.json") == {
        "scan_id": SCAN_ID,
        "status": "completed",
        "published": 2,
    }


def test_the_failure_steps_record_the_chunk_and_the_scan(steps: ModuleType) -> None:
    invoke(steps, "plan_anomaly_scan.json")
    recorded = invoke(steps, "record_anomaly_chunk_failure.json")
    assert recorded == {"scan_id": SCAN_ID, "offset": 1000, "recorded": True, "abort": True}
    assert invoke(steps, "record_anomaly_scan_failure.json") == {"scan_id": SCAN_ID, "recorded": True}
    scan = bootstrap.services().scans.get(SCAN_ID)
    assert scan is not None and scan.status == ScanStatus.FAILED
    assert scan.error is not None and scan.error.cause == "1 of 3 chunks failed (tolerated: 0 %)"
    assert [f.offset for f in scan.failed_chunks] == [1000]
    assert scan.failed_chunks[0].cause == "STH-Comet did not answer (raw page)"
