"""The bootstrap: one container, adapters built on first use from settings, fakes by name."""

from __future__ import annotations

import pytest

from chronos_core import bootstrap
from chronos_core.application.forecasting.commands import ExecuteForecast
from chronos_core.application.forecasting.worker import execute_forecast
from chronos_core.config import Settings
from chronos_core.domain.errors import DependencyUnavailableError
from chronos_core.domain.forecasting import ForecastMessage
from chronos_core.domain.ids import JobId
from tests.support.builders import T0
from tests.support.fakes import InMemoryTrainingJobs, fake_services


def test_overrides_must_name_an_adapter() -> None:
    with pytest.raises(TypeError, match="no adapter named 'modles'"):
        bootstrap.bootstrap(Settings(), modles=object())


def test_unconfigured_dependencies_fail_when_used_and_name_their_setting() -> None:
    services = bootstrap.bootstrap(Settings(sth_url=None, orion_url=None, data_bucket=None))
    with pytest.raises(DependencyUnavailableError, match="CHRONOS_STH_URL"):
        _ = services.series
    with pytest.raises(DependencyUnavailableError, match="CHRONOS_ORION_URL"):
        _ = services.publisher
    with pytest.raises(DependencyUnavailableError, match="CHRONOS_DATA_BUCKET"):
        _ = services.objects
    with pytest.raises(DependencyUnavailableError, match="CHRONOS_FORECAST_QUEUE_URL"):
        _ = services.queue


def test_adapters_are_built_once_and_only_when_used() -> None:
    services = bootstrap.bootstrap(Settings(sth_url="http://sth:8666", orion_url="http://orion:1026"))
    assert "sth" not in services.__dict__
    assert services.series is services.series
    assert services.history._sth is services.series._client is services.sth  # type: ignore[attr-defined]
    assert "orion" not in services.__dict__  # reading history built no Orion client


def test_a_skipped_forecast_builds_no_fiware_client() -> None:
    services = fake_services(jobs=InMemoryTrainingJobs())
    for name in ("series", "publisher", "forecasters"):
        services.__dict__.pop(name)
    outcome = execute_forecast(
        services, ExecuteForecast(message=ForecastMessage(job_id=JobId("gone"), slot=T0))
    )
    assert outcome.status == "skipped"
    assert not {"sth", "orion", "series", "publisher", "forecasters"} & set(services.__dict__)


def test_services_are_kept_per_container_until_reset(monkeypatch: pytest.MonkeyPatch) -> None:
    bootstrap.reset()
    first = bootstrap.services()
    assert bootstrap.services() is first
    monkeypatch.setenv("CHRONOS_ENVIRONMENT", "elsewhere")
    bootstrap.reset()
    assert bootstrap.services() is not first and bootstrap.services().settings.environment == "elsewhere"
    bootstrap.reset()
