"""Enabling and disabling recurring forecasts over the fakes: what is provisioned, the stored
configuration and grid, idempotency, one subscription per job, cleanup on deletion."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from chronos_core.application.forecasting.commands import ToggleForecasts
from chronos_core.application.forecasting.provisioning import default_interval, toggle_forecasts
from chronos_core.application.forecasting.settings import ForecastSettings
from chronos_core.application.training.commands import JobCommand
from chronos_core.application.training.removal import delete_job
from chronos_core.bootstrap import Services
from chronos_core.domain.errors import ConflictError, NotFoundError
from chronos_core.domain.ids import JobId, ModelId
from chronos_core.domain.live_metrics import PublishedForecast
from chronos_core.domain.training_job import TrainingStatus
from tests.support.builders import T0, job, model, principal, trained_job
from tests.support.fakes import (
    FakeProvisioner,
    InMemoryModelRepository,
    InMemoryTrainingJobs,
    fake_services,
)


def world(*jobs: object) -> Services:
    return fake_services(
        models=InMemoryModelRepository(model()),
        jobs=InMemoryTrainingJobs(*(jobs or (trained_job(),))),  # type: ignore[arg-type]
        provisioner=FakeProvisioner(),
    )


def toggle(services: Services, enabled: bool, interval: int | None = None, now: object = T0) -> object:
    command = ToggleForecasts(
        principal=principal(),
        model_id=ModelId("model-1"),
        job_id=JobId("job-1"),
        enabled=enabled,
        interval_seconds=interval,
        now=now,  # type: ignore[arg-type]
    )
    return toggle_forecasts(services, command)


def stored(services: Services) -> object:
    return services.jobs.get(JobId("job-1"))


def test_enable_provisions_stores_the_configuration_and_anchors_the_grid_at_now() -> None:
    services = world()
    result = toggle(services, True)
    provisioner: FakeProvisioner = services.provisioner  # type: ignore[assignment]
    [config] = provisioner.provisioned
    assert (config.fiware_service, config.fiware_servicepath) == ("energy", "/e2e")
    assert config.entity_id == "urn:ngsi-ld:Chronos:Prediction:job1" and config.entity_type == "Prediction"
    assert config.device_id == "chronos-forecast-model1-job1"
    assert config.service_group_resource == "/chronos/forecast"
    assert (config.source_entity_id, config.feature) == ("urn:x:Meter:1", "demand")
    assert config.interval_seconds == 1800  # the training data's interval by default
    job = stored(services)
    assert job.prediction_config.enabled and job.prediction_config.subscription_id == "sub-1"  # type: ignore[attr-defined]
    assert job.next_prediction_at == T0  # type: ignore[attr-defined]
    assert result.enabled and result.subscription_id == "sub-1" and result.next_prediction_at == T0  # type: ignore[attr-defined]
    assert list(provisioner.subscriptions) == ["sub-1"]


def test_enabling_again_with_the_same_interval_changes_nothing_and_a_new_one_reanchors() -> None:
    services = world()
    toggle(services, True, now=T0)
    again = toggle(services, True, now=T0 + timedelta(hours=1))
    assert again.next_prediction_at == T0 and again.subscription_id == "sub-1"  # type: ignore[attr-defined]
    assert stored(services).prediction_config.enabled_at == T0  # type: ignore[attr-defined]
    assert list(services.provisioner.subscriptions) == ["sub-1"]  # type: ignore[attr-defined]
    faster = toggle(services, True, interval=600, now=T0 + timedelta(hours=2))
    assert faster.interval_seconds == 600 and faster.next_prediction_at == T0 + timedelta(hours=2)  # type: ignore[attr-defined]
    assert list(services.provisioner.subscriptions) == ["sub-1"]  # type: ignore[attr-defined]


def test_disable_unsubscribes_and_unsets_the_schedule_then_enable_subscribes_anew() -> None:
    services = world()
    toggle(services, True)
    off = toggle(services, False)
    assert off.enabled is False and off.subscription_id is None and off.next_prediction_at is None  # type: ignore[attr-defined]
    assert off.interval_seconds == 1800  # type: ignore[attr-defined]
    config = stored(services).prediction_config  # type: ignore[attr-defined]
    assert config.enabled is False and config.subscription_id is None
    assert services.provisioner.subscriptions == {}  # type: ignore[attr-defined]
    assert toggle(services, False).enabled is False  # type: ignore[attr-defined]  # idempotent
    assert toggle(services, True).subscription_id == "sub-2"  # type: ignore[attr-defined]


def test_a_concurrent_enable_that_stored_its_subscription_first_wins() -> None:
    """Ours is deleted; the job keeps exactly one subscription."""
    services = world()
    provisioner: FakeProvisioner = services.provisioner  # type: ignore[assignment]

    def the_other_enable_stores_first(ours: str) -> None:
        services.jobs.attach_subscription(JobId("job-1"), "sub-theirs")
        provisioner.subscriptions["sub-theirs"] = provisioner.subscriptions[ours]

    provisioner.on_subscribe = the_other_enable_stores_first
    result = toggle(services, True)
    assert result.subscription_id == "sub-theirs"  # type: ignore[attr-defined]
    assert list(provisioner.subscriptions) == ["sub-theirs"]


def test_enable_needs_a_trained_model_and_a_visible_job() -> None:
    with pytest.raises(ConflictError):
        toggle(world(job(status=TrainingStatus.FAILED)), True)
    with pytest.raises(NotFoundError):
        toggle(world(trained_job(model_id="model-2")), True)


def test_default_interval_is_the_sampling_interval_rounded_up_and_at_least_a_minute() -> None:
    assert default_interval(trained_job(sampling_interval_seconds=1800.004)) == 1801
    assert default_interval(trained_job(sampling_interval_seconds=0.5)) == 60
    assert default_interval(job()) == 60


def test_deleting_a_job_removes_its_forecast_resources_runs_and_logged_forecasts() -> None:
    services = world()
    toggle(services, True)
    services.schedule.begin_run(JobId("job-1"), T0, 1, 60)
    for job_id in ("job-1", "job-2"):
        services.forecast_log.record(
            PublishedForecast(job_id=job_id, slot=T0, generated_at=T0, interval_seconds=60, points=[])
        )
    delete_job(
        services, JobCommand(principal=principal(), model_id=ModelId("model-1"), job_id=JobId("job-1"))
    )
    assert services.forecast_log.recent(JobId("job-1"), 10) == []
    assert len(services.forecast_log.recent(JobId("job-2"), 10)) == 1  # another job's stay
    provisioner: FakeProvisioner = services.provisioner  # type: ignore[assignment]
    assert [c.entity_id for c in provisioner.removed] == ["urn:ngsi-ld:Chronos:Prediction:job1"]
    assert provisioner.subscriptions == {}
    assert services.schedule.runs == {}  # type: ignore[attr-defined]
    assert services.jobs.get(JobId("job-1")) is None


def test_concurrent_enables_leave_one_subscription_and_agree_on_it() -> None:
    services = world()
    barrier = threading.Barrier(5)
    results: list[object] = []

    def enable() -> None:
        barrier.wait()
        results.append(toggle(services, True))

    threads = [threading.Thread(target=enable) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 5 and {r.subscription_id for r in results} == {"sub-1"}  # type: ignore[attr-defined]
    assert list(services.provisioner.subscriptions) == ["sub-1"]  # type: ignore[attr-defined]


def test_a_concurrent_enable_and_disable_both_take_effect_in_some_order() -> None:
    services = world()
    toggle(services, True)
    barrier = threading.Barrier(2)

    def run(enabled: bool) -> None:
        barrier.wait()
        toggle(services, enabled)

    threads = [threading.Thread(target=run, args=(flag,)) for flag in (True, False)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    config = stored(services).prediction_config  # type: ignore[attr-defined]
    subscriptions = services.provisioner.subscriptions  # type: ignore[attr-defined]
    # Whatever the order, the stored state and FIWARE agree: no subscription lost or leaked.
    assert (config.enabled, bool(config.subscription_id), len(subscriptions)) in {
        (True, True, 1),
        (False, False, 0),
    }
    if config.enabled:
        assert list(subscriptions) == [config.subscription_id]


def test_a_toggle_that_cannot_get_the_jobs_lease_in_time_is_a_conflict() -> None:
    services = fake_services(
        models=InMemoryModelRepository(model()),
        jobs=InMemoryTrainingJobs(trained_job()),
        provisioner=FakeProvisioner(),
        forecast_settings=ForecastSettings(toggle_wait_seconds=0.3),
    )
    assert services.leases.acquire("forecast-toggle:job-1", "someone else", 60)
    with pytest.raises(ConflictError, match="being changed by another request"):
        toggle(services, True)
    assert services.provisioner.provisioned == []  # type: ignore[attr-defined]
