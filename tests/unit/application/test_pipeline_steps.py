"""The training pipeline's steps over the fakes: plan, collect (idempotent checkpoints), prepare,
train (live progress, cancellation), finalize and the failure step, each safe to run twice."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chronos_core.application.training.pipeline.collection import collect_chunk, plan
from chronos_core.application.training.pipeline.completion import finalize, record_failure
from chronos_core.application.training.pipeline.deps import PipelineSettings
from chronos_core.application.training.pipeline.events import ChunkEvent, FailureEvent, JobEvent, TrainEvent
from chronos_core.application.training.pipeline.keys import chunk_key, dataset_key, partial_chunk_key
from chronos_core.application.training.pipeline.preparation import prepare
from chronos_core.application.training.pipeline.train_step import train
from chronos_core.bootstrap import Services
from chronos_core.domain.errors import InsufficientDataError, NotFoundError
from chronos_core.domain.ids import JobId, ModelId
from chronos_core.domain.model import ModelStatus
from chronos_core.domain.training_job import ChunkSpec, TimeWindow, TrainingStatus
from tests.support.builders import T0, dataset_summary, job, model, training_result
from tests.support.fakes import (
    FakeDatasetPreparer,
    FakeSeriesSource,
    FakeTrainer,
    InMemoryModelRepository,
    InMemoryTrainingJobs,
    fake_services,
)

JOB = JobId("job-1")
POINTS = [(T0 + timedelta(minutes=10 * i), float(i)) for i in range(2500)]


def world(**overrides: object) -> Services:
    models = InMemoryModelRepository(model())
    models.claim_for_training(ModelId("model-1"))
    defaults = {
        "models": models,
        "jobs": InMemoryTrainingJobs(job(last_n=2400, points_available=2500, window_offset=100)),
        "series": FakeSeriesSource({"urn:x:Meter:1": POINTS}),
        "preparer": FakeDatasetPreparer(dataset_summary(2400)),
        "trainer": FakeTrainer(training_result()),
        "pipeline_settings": PipelineSettings(chunk_points=1000, map_concurrency=1),
    }
    return fake_services(**{**defaults, **overrides})


def item(chunk: ChunkSpec, pages_in_flight: int = 1) -> ChunkEvent:
    """The Map item the state machine builds for ``chunk``."""
    return ChunkEvent(job_id=JOB, pages_in_flight=pages_in_flight, **chunk.model_dump())


def collect_all(services: Services) -> list[dict[str, int]]:
    """Plan, then call each Map item until it answers complete (as the state machine does)."""
    planned = plan(services, JobEvent(job_id=JOB))
    for chunk in planned.chunks:
        while not collect_chunk(services, item(chunk, planned.pages_in_flight)).complete:
            pass
    return [c.model_dump() for c in planned.chunks]


def test_plan_splits_the_window_and_keeps_its_chunking_on_a_retry() -> None:
    services = world()
    planned = plan(services, JobEvent(job_id=JOB))
    assert planned.running and [(c.offset, c.count) for c in planned.chunks] == [
        (100, 1000),
        (1100, 1000),
        (2100, 400),
    ]
    stored = services.jobs.get(JOB)
    assert stored is not None and stored.status == TrainingStatus.COLLECTING_DATA
    assert (stored.chunk_points, stored.progress.chunks_total, stored.progress.points_expected) == (
        1000,
        3,
        2400,
    )
    smaller_chunks = world(jobs=services.jobs, pipeline_settings=PipelineSettings(chunk_points=500))
    assert plan(smaller_chunks, JobEvent(job_id=JOB)).chunks == planned.chunks  # same plan as the first


def test_where_the_source_reads_time_ranges_the_plan_slices_the_window_in_time_and_keeps_it() -> None:
    services = world(series=FakeSeriesSource({"urn:x:Meter:1": POINTS}, by_time=True))
    planned = plan(services, JobEvent(job_id=JOB))
    window = TimeWindow(first=POINTS[100][0], last=POINTS[2499][0])
    stored = services.jobs.get(JOB)
    assert stored is not None and stored.time_window == window
    assert [c.offset for c in planned.chunks] == [100, 1100, 2100]  # the checkpoints keep their names
    assert planned.chunks[0].date_from == window.first
    assert all(a.date_to == b.date_from for a, b in zip(planned.chunks, planned.chunks[1:], strict=False))
    assert planned.chunks[-1].date_to is not None and planned.chunks[-1].date_to > window.last
    # A retry plans the same slices even when the source has more points by then.
    grown = FakeSeriesSource(
        {"urn:x:Meter:1": [*POINTS, (POINTS[-1][0] + timedelta(hours=1), 1.0)]}, by_time=True
    )
    assert plan(world(jobs=services.jobs, series=grown), JobEvent(job_id=JOB)).chunks == planned.chunks
    assert not [c for c in grown.calls if c[0] == "time_window"]


def test_collecting_time_slices_yields_the_window_exactly() -> None:
    services = world(series=FakeSeriesSource({"urn:x:Meter:1": POINTS}, by_time=True))
    collect_all(services)
    prepared = prepare(services, JobEvent(job_id=JOB))
    assert prepared.points == 2400
    dataset = services.objects.get_json(prepared.dataset_key)["points"]
    assert [v for _, v in dataset] == [v for _, v in POINTS[100:]]


@pytest.mark.parametrize("by_time", [False, True])
def test_a_chunk_that_runs_out_of_time_continues_from_its_partial_checkpoint(by_time: bool) -> None:
    series = FakeSeriesSource({"urn:x:Meter:1": POINTS}, by_time=by_time, points_per_call=300)
    services = world(series=series)
    chunk = plan(services, JobEvent(job_id=JOB)).chunks[0]
    first = collect_chunk(services, item(chunk))
    assert not first.complete and first.points == 300
    assert services.objects.exists(partial_chunk_key(JOB, chunk.offset))
    assert not services.objects.exists(chunk_key(JOB, chunk.offset))
    progress = services.jobs.get(JOB).progress  # type: ignore[union-attr]
    assert (progress.chunks_done, progress.points_collected) == (0, 300)  # visible while it continues
    results = [first]
    while not results[-1].complete:
        results.append(collect_chunk(services, item(chunk)))
    low, high = chunk.date_from, chunk.date_to
    expected = [p for p in POINTS if low <= p[0] < high] if low and high else POINTS[100:1100]
    assert [r.points for r in results] == [*range(300, len(expected), 300), len(expected)]
    document = services.objects.get_json(chunk_key(JOB, chunk.offset))
    assert [v for _, v in document["points"]] == [v for _, v in expected]
    assert not services.objects.exists(partial_chunk_key(JOB, chunk.offset))
    progress = services.jobs.get(JOB).progress  # type: ignore[union-attr]
    assert (progress.chunks_done, progress.points_collected) == (1, len(expected))


def test_each_chunk_gets_its_share_of_the_page_ceiling() -> None:
    services = world(pipeline_settings=PipelineSettings(chunk_points=1000, map_concurrency=2, page_ceiling=5))
    planned = plan(services, JobEvent(job_id=JOB))
    assert planned.pages_in_flight == 2  # 5 pages in flight at most, 2 chunks at once
    collect_all(services)
    assert set(services.series.pages_in_flight) == {2}  # type: ignore[attr-defined]
    one_chunk = world(
        jobs=InMemoryTrainingJobs(job(last_n=900, points_available=2500, window_offset=1600)),
        pipeline_settings=PipelineSettings(chunk_points=5000, map_concurrency=4, page_ceiling=5),
    )
    assert plan(one_chunk, JobEvent(job_id=JOB)).pages_in_flight == 5


def test_a_finished_job_is_not_planned() -> None:
    services = world(jobs=InMemoryTrainingJobs(job(status=TrainingStatus.CANCELLED)))
    planned = plan(services, JobEvent(job_id=JOB))
    assert planned.running is False and planned.chunks == []


def test_collect_writes_each_checkpoint_once_and_counts_it() -> None:
    services = world()
    chunks = collect_all(services)
    for chunk in chunks:
        document = services.objects.get_json(chunk_key(JOB, chunk["offset"]))
        assert len(document["points"]) == chunk["count"]
        assert document["points"][0][0] == int(POINTS[chunk["offset"]][0].timestamp() * 1000)
    progress = services.jobs.get(JOB).progress  # type: ignore[union-attr]
    assert (progress.chunks_done, progress.points_collected) == (3, 2400)
    fetches = [c for c in services.series.calls if c[0] == "collect"]  # type: ignore[attr-defined]
    again = collect_chunk(services, ChunkEvent(job_id=JOB, offset=100, count=1000))
    assert again.skipped and again.points == 1000 and again.complete
    assert [c for c in services.series.calls if c[0] == "collect"] == fetches  # type: ignore[attr-defined]


def test_collect_skips_a_cancelled_job() -> None:
    services = world()
    plan(services, JobEvent(job_id=JOB))
    services.jobs.finish(JOB, TrainingStatus.CANCELLED)
    result = collect_chunk(services, ChunkEvent(job_id=JOB, offset=100, count=1000))
    assert result.skipped and result.points == 0
    assert not services.objects.exists(chunk_key(JOB, 100))


def test_prepare_merges_the_checkpoints_in_order_and_queues_the_job() -> None:
    services = world()
    collect_all(services)
    prepared = prepare(services, JobEvent(job_id=JOB))
    assert prepared.points == 2400 and prepared.dataset_key == dataset_key(JOB)
    [seen] = services.preparer.seen  # type: ignore[attr-defined]
    assert [t for t, _ in seen] == [p[0].timestamp() for p in POINTS[100:2500]]
    stored = services.jobs.get(JOB)
    assert stored is not None and stored.status == TrainingStatus.QUEUED
    assert stored.data_quality is not None and stored.sampling_interval_seconds == 600.0
    assert stored.phases["collect"].ended_at is not None and stored.phases["prepare"].ended_at is not None


def test_prepare_refuses_data_the_model_cannot_train_on() -> None:
    services = world(preparer=FakeDatasetPreparer(error=InsufficientDataError("Too little data")))
    collect_all(services)
    with pytest.raises(InsufficientDataError):
        prepare(services, JobEvent(job_id=JOB))


def test_prepare_of_a_job_never_planned_fails() -> None:
    with pytest.raises(NotFoundError):
        prepare(world(), JobEvent(job_id=JOB))


def ready_to_train(**overrides: object) -> Services:
    services = world(**overrides)
    collect_all(services)
    prepare(services, JobEvent(job_id=JOB))
    return services


def test_train_records_live_epochs_then_the_result() -> None:
    services = ready_to_train(trainer=FakeTrainer(training_result(), epochs=3))
    result = train(services, TrainEvent(job_id=JOB, dataset_key=dataset_key(JOB), batch_job_id="batch-7"))
    assert result.trained
    stored = services.jobs.get(JOB)
    assert stored is not None and stored.status == TrainingStatus.TRAINING  # finalize completes it
    assert (stored.progress.epoch, stored.progress.epochs, len(stored.history)) == (3, 3, 3)
    assert stored.progress.training_phase == "saving"
    assert stored.batch_job_id == "batch-7" and stored.artifacts is not None
    assert stored.metrics is not None and stored.selection is not None and stored.serving == "network"


def test_a_job_cancelled_while_training_stops_at_the_next_epoch_and_records_nothing() -> None:
    trainer = FakeTrainer(training_result(), epochs=50)
    services = ready_to_train(trainer=trainer)
    trainer.on_epoch = lambda epoch: (
        services.jobs.finish(JOB, TrainingStatus.CANCELLED) if epoch == 2 else None
    )
    result = train(services, TrainEvent(job_id=JOB, dataset_key=dataset_key(JOB)))
    assert (result.trained, result.reason) == (False, "cancelled")
    stored = services.jobs.get(JOB)
    assert stored is not None and stored.artifacts is None and stored.progress.epoch == 2


def test_a_job_that_is_not_running_is_not_trained() -> None:
    services = ready_to_train()
    services.jobs.finish(JOB, TrainingStatus.FAILED)
    assert (
        train(services, TrainEvent(job_id=JOB, dataset_key=dataset_key(JOB))).reason == "job is not running"
    )


def test_finalize_completes_the_job_and_the_model_serves_its_choice() -> None:
    services = ready_to_train()
    train(services, TrainEvent(job_id=JOB, dataset_key=dataset_key(JOB)))
    assert finalize(services, JobEvent(job_id=JOB)).status == "completed"
    assert finalize(services, JobEvent(job_id=JOB)).status == "completed"  # a retried step
    stored = services.jobs.get(JOB)
    assert stored is not None and stored.phases["finalize"].seconds is not None
    trained = services.models.get(ModelId("model-1"))
    assert trained is not None and trained.status == ModelStatus.TRAINED
    assert trained.serving is not None and trained.serving.training_job_id == JOB
    assert trained.serving.serving == "network" and trained.serving.rule and trained.serving.test_coverage


def test_finalize_without_artifacts_fails() -> None:
    with pytest.raises(NotFoundError):
        finalize(ready_to_train(), JobEvent(job_id=JOB))


def test_record_failure_keeps_the_phase_and_a_readable_cause_once() -> None:
    services = world()
    plan(services, JobEvent(job_id=JOB))
    cause = '{"errorMessage": "STH-Comet answered HTTP 500 to raw page", "errorType": "FiwareServerError"}'
    event = FailureEvent(job_id=JOB, failure={"Error": "FiwareServerError", "Cause": cause})
    assert record_failure(services, event).recorded is True
    stored = services.jobs.get(JOB)
    assert stored is not None and stored.status == TrainingStatus.FAILED and stored.error is not None
    assert stored.error.model_dump() == {
        "phase": "collect",
        "error": "FiwareServerError",
        "cause": "STH-Comet answered HTTP 500 to raw page",
    }
    assert services.models.get(ModelId("model-1")).status == ModelStatus.DRAFT  # type: ignore[union-attr]
    assert record_failure(services, event).recorded is False
