"""On-demand forecasts with the per-container reference cache: a second call reads only the
stamps (not the model nor the job again), and a changed, deleted or other tenant's model or job
is never served from the cache."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from chronos_core.application.forecasting.commands import Predict, PredictModel
from chronos_core.application.forecasting.predict import predict, predict_with_champion
from chronos_core.domain.errors import NotFoundError
from chronos_core.domain.ids import JobId, ModelId
from chronos_core.domain.model import ServingSummary
from tests.support.builders import T0, model, principal, trained_job
from tests.support.fakes import FakeSeriesSource, InMemoryModelRepository, InMemoryTrainingJobs, fake_services

SERIES = FakeSeriesSource({"urn:x:Meter:1": [(T0 + timedelta(seconds=60 * i), float(i)) for i in range(5)]})


class CountingModels(InMemoryModelRepository):
    def __init__(self, *models: Any) -> None:
        super().__init__(*models)
        self.gets = 0

    def get(self, model_id: ModelId) -> Any:
        self.gets += 1
        return super().get(model_id)


class CountingJobs(InMemoryTrainingJobs):
    def __init__(self, *jobs: Any) -> None:
        super().__init__(*jobs)
        self.gets = 0

    def get(self, job_id: JobId) -> Any:
        self.gets += 1
        return super().get(job_id)


def world() -> tuple[Any, CountingModels, CountingJobs]:
    served = model().model_copy(
        update={"serving": ServingSummary(training_job_id="job-1", serving="network")}
    )
    models, jobs = (
        CountingModels(served),
        CountingJobs(trained_job("job-1"), trained_job("job-2", model_version=2)),
    )
    return fake_services(models=models, jobs=jobs, series=SERIES), models, jobs


COMMAND = Predict(principal=principal(), model_id=ModelId("model-1"), job_id=JobId("job-1"))


def test_a_second_prediction_reads_only_the_stamps() -> None:
    services, models, jobs = world()
    first = predict(services, COMMAND)
    second = predict(services, COMMAND)
    assert models.gets == 1 and jobs.gets == 1
    assert services.prediction_stamps.reads == 4  # two per call
    assert first.training_job_id == second.training_job_id == "job-1"
    assert services.prediction_refs.hits == 2


def test_a_changed_job_or_model_is_read_again() -> None:
    services, models, jobs = world()
    predict(services, COMMAND)
    jobs.jobs["job-1"] = jobs.jobs["job-1"].model_copy(update={"model_version": 9})  # retrained in place
    assert predict(services, COMMAND).metadata["model_version"] == 9
    assert jobs.gets == 2
    models.models["model-1"] = models.models["model-1"].model_copy(
        update={"serving": ServingSummary(training_job_id="job-2", serving="network")}
    )
    promoted = predict_with_champion(
        services, PredictModel(principal=principal(), model_id=ModelId("model-1"))
    )
    assert promoted.training_job_id == "job-2" and models.gets == 2


def test_a_deleted_model_or_job_is_not_served_from_the_cache() -> None:
    services, models, jobs = world()
    predict(services, COMMAND)
    del jobs.jobs["job-1"]
    with pytest.raises(NotFoundError):
        predict(services, COMMAND)
    del models.models["model-1"]
    with pytest.raises(NotFoundError):
        predict(services, COMMAND)


def test_a_cached_model_is_still_refused_to_another_tenant() -> None:
    services, _, _ = world()
    predict(services, COMMAND)
    stranger = Predict(
        principal=principal(tenants=frozenset({"water"})), model_id=ModelId("model-1"), job_id=JobId("job-1")
    )
    with pytest.raises(NotFoundError):
        predict(services, stranger)
