"""Past published forecasts of a job, read back from STH-Comet."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from chronos_core.application.forecasting.commands import ReadHistory
from chronos_core.application.forecasting.deps import HistoryDeps
from chronos_core.application.training.queries import job_and_model
from chronos_core.domain.fiware import FORECAST_ATTRIBUTE, FiwareTenant, SeriesRef
from chronos_core.domain.forecasting import forecast_entity_id
from chronos_core.domain.model import UtcDateTime


class HistoryBatch(BaseModel):
    """One published forecast as STH stored it."""

    generated_at: UtcDateTime
    horizon: int | None
    points: list[dict[str, Any]]


class HistoryPage(BaseModel):
    """Published forecasts, newest first."""

    entity_id: str
    entity_type: str
    items: list[HistoryBatch]
    total: int
    skip: int
    limit: int


def history(deps: HistoryDeps, command: ReadHistory) -> HistoryPage:
    """Past forecasts of a job (``forecastSeries`` of its forecast entity), newest first:
    ``skip`` batches are skipped from the newest, at most ``limit`` (1..100) returned."""
    job, model = job_and_model(deps, command)
    config = job.prediction_config
    entity_id = config.entity_id if config else forecast_entity_id(job.id)
    entity_type = config.entity_type if config else deps.forecast_settings.entity_type
    tenant = FiwareTenant.of(model.source)
    ref = SeriesRef(entity_type=entity_type, entity_id=entity_id, attribute=FORECAST_ATTRIBUTE)
    total = deps.history.count(tenant, ref)
    end = total - command.skip  # exclusive, counted from the oldest
    items: list[HistoryBatch] = []
    if end > 0:
        start = max(0, end - command.limit)
        for received, value in reversed(deps.history.read(tenant, ref, start, end - start)):
            stored = value if isinstance(value, dict) else {}
            items.append(
                HistoryBatch(
                    generated_at=received,
                    horizon=stored.get("horizon"),
                    points=list(stored.get("points") or []),
                )
            )
    return HistoryPage(
        entity_id=entity_id,
        entity_type=entity_type,
        items=items,
        total=total,
        skip=command.skip,
        limit=command.limit,
    )
