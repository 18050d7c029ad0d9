"""Anomaly scans over the fakes, with a real scorer (tests/support/anomaly.py): admission and
its 422s, the pipeline steps (plan, score per chunk, combine, publish) run as the state machine
runs them, retries that do not rescore finished chunks, cancellation, failure tolerance and the
reconciler."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from chronos_core.application.anomaly.admission import start_scan
from chronos_core.application.anomaly.commands import ListFindings, ListScans, ScanCommand, StartScan
from chronos_core.application.anomaly.control import cancel_scan, retry_scan
from chronos_core.application.anomaly.pipeline.combining import combine_scan
from chronos_core.application.anomaly.pipeline.events import (
    ChunkFailureEvent,
    ScanChunkEvent,
    ScanEvent,
    ScanFailureEvent,
)
from chronos_core.application.anomaly.pipeline.failure import record_scan_failure
from chronos_core.application.anomaly.pipeline.keys import partial_chunk_key, scored_chunk_key
from chronos_core.application.anomaly.pipeline.planning import plan_scan
from chronos_core.application.anomaly.pipeline.publishing import publish_scan
from chronos_core.application.anomaly.pipeline.scoring import record_chunk_failure, score_chunk
from chronos_core.application.anomaly.queries import get_scan, list_findings, list_scans
from chronos_core.application.anomaly.reconciliation import reconcile_scans
from chronos_core.application.ports.pipeline import ExecutionState
from chronos_core.application.training.pipeline.deps import PipelineSettings
from chronos_core.application.training.reconciliation import ReconcileJobs
from chronos_core.bootstrap import Services
from chronos_core.domain.anomaly import AnomalyScan, ScanOptions, ScanStatus
from chronos_core.domain.auth import Role
from chronos_core.domain.errors import ConflictError, NotFoundError, ValidationError
from chronos_core.domain.ids import JobId, ModelId, ScanId
from chronos_core.domain.model import ModelStatus, ServingSummary, utcnow
from tests.support.anomaly import INTERVAL, level_scorer, noisy_series, with_spikes
from tests.support.builders import T0, model, principal, trained_job
from tests.support.fakes import (
    FakeScorerLoader,
    FakeSeriesSource,
    InMemoryModelRepository,
    InMemoryTrainingJobs,
    fake_services,
)

MODEL, JOB = ModelId("model-1"), JobId("job-1")
SPIKES = [700, 1500, 2300]
POINTS = with_spikes(noisy_series(3000, seed=11), SPIKES)
OPERATOR = principal(Role.OPERATOR)


def served_model(**fields: Any) -> Any:
    serving = ServingSummary(training_job_id=JOB, serving="network")
    return model(status=ModelStatus.TRAINED, **fields).model_copy(update={"serving": serving})


def world(points: list[Any] | None = None, **overrides: object) -> Services:
    defaults: dict[str, Any] = {
        "models": InMemoryModelRepository(served_model()),
        "jobs": InMemoryTrainingJobs(trained_job()),
        "series": FakeSeriesSource({"urn:x:Meter:1": points if points is not None else POINTS}),
        "scorers": FakeScorerLoader(level_scorer(steps=1)),
        "scan_pipeline_settings": PipelineSettings(chunk_points=1000, map_concurrency=2),
    }
    return fake_services(**{**defaults, **overrides})


def admit(services: Services, **fields: Any) -> AnomalyScan:
    fields.setdefault("last_n", len(POINTS))
    return start_scan(services, StartScan(principal=OPERATOR, model_id=MODEL, **fields))


def run_map(services: Services, scan_id: ScanId, fail: set[int] | None = None) -> list[Any]:
    """Plan, then each Map item until complete (a chunk in ``fail`` records its failure)."""
    planned = plan_scan(services, ScanEvent(scan_id=scan_id))
    results = []
    for chunk in planned.chunks:
        item = ScanChunkEvent(scan_id=scan_id, pages_in_flight=planned.pages_in_flight, **chunk.model_dump())
        if fail and chunk.offset in fail:
            failure = {"Error": "FiwareUnavailableError", "Cause": "STH-Comet is down"}
            results.append(
                record_chunk_failure(
                    services, ChunkFailureEvent(scan_id=scan_id, offset=chunk.offset, failure=failure)
                )
            )
            continue
        while not (result := score_chunk(services, item)).complete:
            pass
        results.append(result)
    return results


def run_scan(services: Services, scan_id: ScanId, fail: set[int] | None = None) -> AnomalyScan:
    run_map(services, scan_id, fail)
    try:
        combine_scan(services, ScanEvent(scan_id=scan_id))
        publish_scan(services, ScanEvent(scan_id=scan_id))
    except Exception as exc:
        record_scan_failure(
            services,
            ScanFailureEvent(scan_id=scan_id, failure={"Error": type(exc).__name__, "Cause": str(exc)}),
        )
    scan = services.scans.get(scan_id)
    assert scan is not None
    return scan


# ----------------------------------------------------------------------------- admission


def test_admission_defaults_to_the_serving_job_and_queues_the_execution() -> None:
    services = world()
    scan = admit(services, options=ScanOptions(sensitivity="high", min_event_points=1))
    assert scan.status == ScanStatus.QUEUED and scan.job_id == JOB
    assert scan.settings.false_discovery_rate == 0.10
    assert scan.points_expected == len(POINTS)
    assert services.scan_workflow.started == [(scan.id, {"scan_id": scan.id})]  # type: ignore[attr-defined]
    assert scan.execution is not None and scan.execution.arn


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"last_n": 10, "date_from": T0}, "date_from"),
        ({"last_n": None}, "date_from"),
        ({"last_n": None, "date_from": T0 + timedelta(days=1), "date_to": T0}, "date_to"),
        ({"last_n": 10_000}, "last_n"),
        (
            {"last_n": None, "date_from": T0 - timedelta(days=30), "date_to": T0 - timedelta(days=29)},
            "date_from",
        ),
        ({"options": ScanOptions(false_discovery_rate=0.1, sensitivity="low")}, "sensitivity"),
        ({"options": ScanOptions(horizon_steps=6)}, "horizon_steps"),
    ],
)
def test_admission_rejects_a_bad_request_naming_the_field(fields: dict[str, Any], field: str) -> None:
    # the model forecasts 4 steps: horizon_steps=6 exceeds it
    services = world(models=InMemoryModelRepository(served_model(forecast_horizon=4)))
    with pytest.raises(ValidationError) as raised:
        admit(services, **fields)
    assert raised.value.details[0]["field"] == field
    assert services.scan_workflow.started == []  # type: ignore[attr-defined]


def test_admission_needs_a_trained_job_of_the_model() -> None:
    untrained = world(models=InMemoryModelRepository(model()))
    with pytest.raises(ConflictError):
        admit(untrained)
    with pytest.raises(NotFoundError):
        admit(world(), job_id=JobId("other-job"))


def test_a_workflow_that_cannot_start_leaves_the_scan_failed() -> None:
    from tests.support.fakes import FakeWorkflow

    services = world(scan_workflow=FakeWorkflow(error=RuntimeError("boom")))
    with pytest.raises(Exception, match="could not be started"):
        admit(services)
    (scan,) = services.scans.list_for_model(MODEL, 0, 10).items
    assert scan.status == ScanStatus.FAILED and scan.error is not None


# ----------------------------------------------------------------------------- the pipeline


def test_a_scan_finds_the_injected_spikes_and_publishes_them() -> None:
    services = world()
    scan = admit(services)
    done = run_scan(services, scan.id)
    assert done.status == ScanStatus.COMPLETED, done.error
    assert done.progress.chunks_total == 3 and done.progress.chunks_done == 3
    assert done.progress.points_scored == done.summary.points_scored  # type: ignore[union-attr]
    assert set(done.phases) == {"score", "combine", "publish"}
    events = list_findings(services, ListFindings(principal=OPERATOR, model_id=MODEL, scan_id=scan.id)).items
    assert [e.peak_time for e in events] == [POINTS[i][0] for i in SPIKES]  # type: ignore[union-attr]
    assert all(e.breaches[0].threshold_type == "UPPER" for e in events)  # type: ignore[union-attr]
    # the band is the one at the cutoff: the least surprising flagged point lies on its edge
    assert all(20.0 < e.breaches[0].threshold_value <= e.peak_value + 1e-6 for e in events)  # type: ignore[union-attr]
    ((target, published),) = services.anomaly_publisher.published  # type: ignore[attr-defined]
    assert target.fiware_service == "energy" and len(published) == 3
    assert done.summary is not None and done.summary.published == 3


def test_chunks_overlap_by_the_context_and_every_reading_is_scored_once() -> None:
    services = world()
    scan = admit(services)
    planned = plan_scan(services, ScanEvent(scan_id=scan.id))
    for previous, chunk in zip(planned.chunks, planned.chunks[1:], strict=False):
        assert chunk.date_from == previous.date_to
        assert chunk.context_from < chunk.date_from
        assert (chunk.date_from - chunk.context_from).total_seconds() >= 8 * INTERVAL
    done = run_scan(services, scan.id)
    assert done.summary is not None
    assert done.summary.points_scored + done.summary.points_unscored == len(POINTS)


def test_reading_out_of_time_continues_from_the_partial_checkpoint() -> None:
    services = world(series=FakeSeriesSource({"urn:x:Meter:1": POINTS}, points_per_call=400))
    scan = admit(services)
    planned = plan_scan(services, ScanEvent(scan_id=scan.id))
    chunk = planned.chunks[0]
    item = ScanChunkEvent(scan_id=scan.id, **chunk.model_dump())
    first = score_chunk(services, item)
    assert not first.complete and services.objects.exists(partial_chunk_key(scan.id, chunk.offset))
    running = services.scans.get(scan.id)
    assert running is not None and running.progress.points_read > 0
    while not score_chunk(services, item).complete:
        pass
    assert services.objects.exists(scored_chunk_key(scan.id, chunk.offset))
    assert not services.objects.exists(partial_chunk_key(scan.id, chunk.offset))


def test_a_failed_scan_resumes_on_retry_without_rescoring_finished_chunks() -> None:
    services = world()
    scan = admit(services)
    failed = run_scan(services, scan.id, fail={1000})
    assert failed.status == ScanStatus.FAILED
    assert failed.error is not None and failed.error.error == "TooManyFailedChunksError"
    assert [f.offset for f in failed.failed_chunks] == [1000]
    retried = retry_scan(services, ScanCommand(principal=OPERATOR, model_id=MODEL, scan_id=scan.id))
    assert retried.status == ScanStatus.QUEUED and retried.failed_chunks == []
    assert services.scan_workflow.started[-1][0] == f"{scan.id}-r2"  # type: ignore[attr-defined]
    results = run_map(services, scan.id)
    assert [(r.offset, r.skipped) for r in results] == [(0, True), (1000, False), (2000, True)]
    combine_scan(services, ScanEvent(scan_id=scan.id))
    assert publish_scan(services, ScanEvent(scan_id=scan.id)).status == "completed"


def test_failed_chunks_within_the_tolerance_complete_the_scan_with_failures() -> None:
    services = world()
    scan = admit(services, options=ScanOptions(tolerated_failure_percent=50.0))
    done = run_scan(services, scan.id, fail={2000})
    assert done.status == ScanStatus.COMPLETED_WITH_FAILURES
    assert [f.offset for f in done.failed_chunks] == [2000]
    assert done.summary is not None and done.summary.points_scored < 2100
    assert (
        retry_scan(services, ScanCommand(principal=OPERATOR, model_id=MODEL, scan_id=scan.id)).status
        == ScanStatus.QUEUED
    )


def test_a_chunk_failure_beyond_the_tolerance_aborts_the_map() -> None:
    services = world()
    scan = admit(services)
    results = run_map(services, scan.id, fail={0})
    assert results[0].abort is True


def test_cancel_stops_the_execution_and_later_steps_leave_the_scan_cancelled() -> None:
    services = world()
    scan = admit(services)
    planned = plan_scan(services, ScanEvent(scan_id=scan.id))
    cancelled = cancel_scan(services, ScanCommand(principal=OPERATOR, model_id=MODEL, scan_id=scan.id))
    assert cancelled.status == ScanStatus.CANCELLED
    assert services.scan_workflow.stopped == [scan.execution.arn]  # type: ignore[attr-defined, union-attr]
    item = ScanChunkEvent(scan_id=scan.id, **planned.chunks[0].model_dump())
    assert score_chunk(services, item).skipped
    assert not combine_scan(services, ScanEvent(scan_id=scan.id)).running
    assert services.scans.get(scan.id).status == ScanStatus.CANCELLED  # type: ignore[union-attr]
    with pytest.raises(ConflictError):
        cancel_scan(services, ScanCommand(principal=OPERATOR, model_id=MODEL, scan_id=scan.id))
    with pytest.raises(ConflictError):
        retry_scan(services, ScanCommand(principal=OPERATOR, model_id=MODEL, scan_id=scan.id))


def test_a_data_quality_issue_is_reported_apart_from_value_anomalies() -> None:
    points = list(POINTS[:1200]) + [(t, 20.5) for t, _ in POINTS[1200:1230]] + list(POINTS[1230:])
    points = points[:400] + points[420:]  # a gap of 20 intervals
    services = world(points=points)
    scan = admit(services, last_n=len(points))
    done = run_scan(services, scan.id)
    issues = list_findings(
        services, ListFindings(principal=OPERATOR, model_id=MODEL, scan_id=scan.id, category="data_quality")
    ).items
    kinds = sorted(i.kind for i in issues)  # type: ignore[union-attr]
    assert kinds == ["flat_line", "gap"]
    assert done.summary is not None and done.summary.quality_issues == {"flat_line": 1, "gap": 1}


def test_queries_and_progress() -> None:
    services = world()
    scan = admit(services)
    run_scan(services, scan.id)
    page = list_scans(services, ListScans(principal=OPERATOR, model_id=MODEL))
    assert [s.id for s in page.items] == [scan.id]
    got = get_scan(services, ScanCommand(principal=OPERATOR, model_id=MODEL, scan_id=scan.id))
    assert got.progress.eta_seconds(got.started_at, utcnow()) == 0.0
    with pytest.raises(NotFoundError):
        get_scan(services, ScanCommand(principal=OPERATOR, model_id=ModelId("model-2"), scan_id=scan.id))


def test_the_reconciler_fails_a_scan_whose_execution_ended() -> None:
    services = world()
    scan = admit(services)
    assert scan.execution is not None and scan.execution.arn is not None
    services.scan_workflow.states[scan.execution.arn] = ExecutionState(
        status="FAILED", cause="Lambda timed out"
    )  # type: ignore[attr-defined]
    result = reconcile_scans(services, ReconcileJobs(now=utcnow()))
    assert result.failed == [scan.id]
    failed = services.scans.get(scan.id)
    assert failed is not None and failed.status == ScanStatus.FAILED and "timed out" in failed.error.cause  # type: ignore[union-attr]
