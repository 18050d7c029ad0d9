"""The data-freshness use case over the fakes: newest STH point, its age, the stale rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chronos_core.application.models.commands import ReadDataFreshness
from chronos_core.application.models.freshness import DataFreshness, data_freshness
from chronos_core.bootstrap import Services
from chronos_core.domain.errors import NotFoundError, UpstreamError
from chronos_core.domain.ids import ModelId
from chronos_core.domain.model import ModelStatus, ServingSummary
from chronos_core.domain.sampling import MONTH_SECONDS
from tests.support.builders import model, principal, trained_job
from tests.support.fakes import FakeSeriesSource, fake_services

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
ENTITY = "urn:x:Meter:1"


def _read(
    services: Services, model_id: str = "model-1", tenants: frozenset[str] = frozenset({"*"})
) -> DataFreshness:
    return data_freshness(
        services,
        ReadDataFreshness(principal=principal(tenants=tenants), model_id=ModelId(model_id), now=NOW),
    )


def _series(*ages_minutes: float) -> FakeSeriesSource:
    return FakeSeriesSource({ENTITY: [(NOW - timedelta(minutes=m), 1.0) for m in ages_minutes]})


@pytest.mark.parametrize(("age_minutes", "stale"), [(10, False), (45, False), (45.01, True), (300, True)])
def test_stale_once_older_than_three_stated_intervals(age_minutes: float, stale: bool) -> None:
    series = _series(600, age_minutes)
    services = fake_services(series=series)
    services.models.add(model(sampling_interval="PT15M"))
    result = _read(services)
    assert result.latest_time == NOW - timedelta(minutes=age_minutes)
    assert result.age_seconds == pytest.approx(age_minutes * 60)
    assert (result.interval_seconds, result.stale_after_seconds) == (900.0, 2700.0)
    assert result.stale is stale
    assert series.calls == [("last_n", ENTITY, 0, 1)]  # one lastN=1 read


def test_a_monthly_interval_counts_average_months() -> None:
    services = fake_services(series=_series(60 * 24 * 40))
    services.models.add(model(sampling_interval="P1M"))
    result = _read(services)
    assert result.interval_seconds == MONTH_SECONDS
    assert result.stale is False


def test_without_a_stated_interval_the_champion_measured_one_is_used() -> None:
    services = fake_services(series=_series(100))
    services.jobs.add(trained_job("job-1", sampling_interval_seconds=1800.0))
    services.models.add(
        model(status=ModelStatus.TRAINED).model_copy(
            update={"serving": ServingSummary(training_job_id="job-1", serving="network")}
        )
    )
    result = _read(services)
    assert (result.interval_seconds, result.stale_after_seconds, result.stale) == (1800.0, 5400.0, True)


def test_no_known_interval_leaves_stale_unknown() -> None:
    services = fake_services(series=_series(100))
    services.models.add(model())
    result = _read(services)
    assert result.age_seconds == 6000.0
    assert (result.interval_seconds, result.stale_after_seconds, result.stale) == (None, None, None)


def test_an_empty_series_is_stale_with_no_time() -> None:
    services = fake_services()
    services.models.add(model(sampling_interval="PT1H"))
    result = _read(services)
    assert (result.latest_time, result.age_seconds, result.stale) == (None, None, True)


def test_unknown_or_foreign_model_is_not_found() -> None:
    services = fake_services(series=_series(1))
    services.models.add(model())
    with pytest.raises(NotFoundError):
        _read(services, "nope")
    with pytest.raises(NotFoundError):
        _read(services, tenants=frozenset({"water"}))


def test_sth_failure_propagates() -> None:
    services = fake_services(series=FakeSeriesSource(error=UpstreamError("STH-Comet answered HTTP 500")))
    services.models.add(model())
    with pytest.raises(UpstreamError):
        _read(services)
