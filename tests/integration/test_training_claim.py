"""Starting a training is claimed by exactly one caller, even under concurrency (FerretDB v1's
conditional updates are not atomic, so the claim uses a unique lock document)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from pymongo.database import Database

from chronos_core.adapters.mongo import (
    TRAINING_LOCKS,
    Document,
    MongoModelRepository,
    MongoTrainingJobRepository,
)
from chronos_core.application.training.pipeline.completion import finalize, record_failure
from chronos_core.application.training.pipeline.events import FailureEvent, JobEvent
from chronos_core.domain.ids import ModelId
from chronos_core.domain.model import ModelDraft, ServingSummary, build_model
from chronos_core.domain.training_job import TrainingJob
from tests.support.fakes import fake_services

pytestmark = pytest.mark.integration


def new_model(repository: MongoModelRepository) -> ModelId:
    model = build_model(
        ModelDraft.model_validate(
            {
                "model_type": "lstm",
                "rnn_layers": [{"units": 4}],
                "feature": "level",
                "entity_type": "Tank",
                "entity_id": "urn:ngsi-ld:Tank:1",
                "fiware_service": "claims",
            }
        )
    )
    repository.add(model)
    return model.id


def test_exactly_one_concurrent_claim_wins(mongo_db: Database[Document]) -> None:
    repository = MongoModelRepository(mongo_db)
    model_id = new_model(repository)
    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(lambda _: repository.claim_for_training(model_id), range(32)))
    assert results.count(True) == 1
    assert repository.get(model_id).status.value == "training"  # type: ignore[union-attr]


def test_release_allows_the_next_claim_and_restores_status(mongo_db: Database[Document]) -> None:
    repository = MongoModelRepository(mongo_db)
    model_id = new_model(repository)
    assert repository.claim_for_training(model_id)
    assert not repository.claim_for_training(model_id)
    repository.release_after_training(model_id, succeeded=False)
    assert repository.get(model_id).status.value == "draft"  # type: ignore[union-attr]
    assert repository.claim_for_training(model_id)
    serving = ServingSummary(training_job_id="j", serving="network")
    repository.release_after_training(model_id, succeeded=True, serving=serving)
    model = repository.get(model_id)
    assert model is not None and model.status.value == "trained" and model.serving == serving
    assert repository.claim_for_training(model_id)
    repository.release_after_training(model_id, succeeded=False)
    assert repository.get(model_id).status.value == "trained"  # type: ignore[union-attr]  # earlier success


def test_a_stale_lock_from_an_interrupted_claim_is_replaced(mongo_db: Database[Document]) -> None:
    repository = MongoModelRepository(mongo_db)
    model_id = new_model(repository)
    mongo_db[TRAINING_LOCKS].insert_one(
        {"_id": model_id, "taken_at": datetime.now(UTC) - timedelta(minutes=5)}
    )
    assert repository.claim_for_training(model_id)


def test_concurrent_chunk_records_are_all_counted(mongo_db: Database[Document]) -> None:
    jobs = MongoTrainingJobRepository(mongo_db)
    job = TrainingJob(
        model_id=ModelId("m"),
        fiware_service="claims",
        last_n=20_000,
        points_available=20_000,
        window_offset=0,
    )
    jobs.add(job)
    offsets = list(range(0, 20_000, 1000))
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda offset: jobs.record_chunk(job.id, offset, 1000), offsets * 2))  # twice: retries
    stored = jobs.get(job.id)
    assert stored is not None
    assert stored.progress.chunks_done == len(offsets)
    assert stored.progress.points_collected == 20_000
    assert jobs.delete(job.id) and jobs.completed_chunks(job.id) == {}


class ModelStatusAtFinish:
    """Wraps a job repository: records the model's status at the moment a job turns terminal."""

    def __init__(self, jobs: object, models: MongoModelRepository, model_id: str) -> None:
        self._jobs = jobs
        self._models = models
        self._model_id = model_id
        self.seen: list[str] = []

    def __getattr__(self, name: str) -> object:
        return getattr(self._jobs, name)

    def finish(self, job_id: str, status: object, **kwargs: object) -> object:
        model = self._models.get(self._model_id)
        self.seen.append(model.status.value if model else "gone")
        return self._jobs.finish(job_id, status, **kwargs)  # type: ignore[attr-defined]


ARTIFACTS = {k: f"id-{k}" for k in ("model", "inference", "x_scaler", "y_scaler", "metadata")}


@pytest.mark.parametrize("outcome", ["failed", "completed"])
def test_a_terminal_job_is_never_visible_before_its_model_is_released(
    mongo_db: Database[Document], outcome: str
) -> None:
    models = MongoModelRepository(mongo_db)
    model_id = new_model(models)
    assert models.claim_for_training(model_id)
    real_jobs = MongoTrainingJobRepository(mongo_db)
    job = TrainingJob(
        model_id=model_id, fiware_service="claims", last_n=100, points_available=100, window_offset=0
    )
    real_jobs.add(job)
    mongo_db["training_jobs"].update_one(  # as the train step leaves it
        {"id": job.id}, {"$set": {"status": "training", "artifacts": ARTIFACTS, "serving": "network"}}
    )
    jobs = ModelStatusAtFinish(real_jobs, models, model_id)
    services = fake_services(models=models, jobs=jobs)
    if outcome == "failed":
        failure = FailureEvent(job_id=job.id, failure={"Error": "States.TaskFailed", "Cause": "boom"})
        record_failure(services, failure)
        expected = "draft"
    else:
        finalize(services, JobEvent(job_id=job.id))
        expected = "trained"
    assert jobs.seen == [expected]
    stored = real_jobs.get(job.id)
    assert stored is not None and stored.status.value == outcome
    assert models.get(model_id).status.value == expected  # type: ignore[union-attr]
    # Recording the same outcome again (a retried step) changes nothing.
    if outcome == "failed":
        again = FailureEvent(job_id=job.id, failure={"Error": "x", "Cause": "y"})
        assert record_failure(services, again).recorded is False
    else:
        assert finalize(services, JobEvent(job_id=job.id)).status == "completed"
    assert jobs.seen == [expected]


def test_a_deletion_and_a_training_start_never_both_win(mongo_db: Database[Document]) -> None:
    """They share one claim: in each race exactly one of them takes it."""
    repository = MongoModelRepository(mongo_db)
    for _ in range(10):
        model_id = new_model(repository)
        with ThreadPoolExecutor(max_workers=2) as pool:
            start = pool.submit(repository.claim_for_training, model_id)
            delete = pool.submit(repository.claim_for_deletion, model_id)
        assert [start.result(), delete.result()].count(True) == 1
        if delete.result():
            assert repository.delete(model_id)
            assert not repository.claim_for_training(model_id)  # no model: no claim, no orphan job
        else:
            assert repository.get(model_id).status.value == "training"  # type: ignore[union-attr]


def test_a_deletion_that_did_not_happen_gives_its_claim_back(mongo_db: Database[Document]) -> None:
    repository = MongoModelRepository(mongo_db)
    model_id = new_model(repository)
    assert repository.claim_for_deletion(model_id)
    assert not repository.claim_for_training(model_id)
    repository.release_claim(model_id)
    assert repository.claim_for_training(model_id)
