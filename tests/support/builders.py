"""Small builders of domain objects for use-case tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from chronos_core.domain.artifacts import ArtifactRefs
from chronos_core.domain.auth import Principal, Role
from chronos_core.domain.evaluation import (
    BaselineReport,
    DataQuality,
    ForecastMetrics,
    GateDecision,
    TrainingMetrics,
    TrainingResult,
    TrainingRunSummary,
)
from chronos_core.domain.forecasting import PredictionConfig
from chronos_core.domain.ids import JobId, ModelId
from chronos_core.domain.model import Model, ModelDraft, ModelStatus, build_model
from chronos_core.domain.training_job import DatasetSummary, TrainingJob, TrainingStatus

T0 = datetime(2026, 1, 1, tzinfo=UTC)
ARTIFACTS = ArtifactRefs(**{k: f"id-{k}" for k in ("model", "inference", "x_scaler", "y_scaler", "metadata")})


def principal(role: Role = Role.ADMIN, tenants: frozenset[str] = frozenset({"*"})) -> Principal:
    return Principal(subject="tester", roles=frozenset({role}), tenants=tenants)


def model(model_id: str = "model-1", status: ModelStatus = ModelStatus.DRAFT, **fields: Any) -> Model:
    draft = {
        "model_type": "gru",
        "rnn_layers": [{"units": 8}],
        "lookback_window": 24,
        "forecast_horizon": 6,
        "feature": "demand",
        "entity_type": "Meter",
        "entity_id": "urn:x:Meter:1",
        "fiware_service": "energy",
        "fiware_servicepath": "/e2e",
        **fields,
    }
    built = build_model(ModelDraft.model_validate(draft))
    return built.model_copy(update={"id": ModelId(model_id), "status": status})


def job(
    job_id: str = "job-1",
    model_id: str = "model-1",
    status: TrainingStatus = TrainingStatus.PENDING,
    **fields: Any,
) -> TrainingJob:
    return TrainingJob(
        id=JobId(job_id),
        model_id=ModelId(model_id),
        fiware_service="energy",
        status=status,
        last_n=fields.pop("last_n", 1200),
        points_available=fields.pop("points_available", 1200),
        window_offset=fields.pop("window_offset", 0),
        **fields,
    )


def trained_job(job_id: str = "job-1", model_id: str = "model-1", **fields: Any) -> TrainingJob:
    """A completed job with its artifacts (``fields`` override any attribute)."""
    values: dict[str, Any] = {
        "artifacts": ARTIFACTS,
        "serving": "network",
        "sampling_interval_seconds": 1800.0,
    }
    return job(job_id, model_id, TrainingStatus.COMPLETED, **{**values, **fields})


def prediction_config(**fields: Any) -> PredictionConfig:
    return PredictionConfig(
        **{
            "enabled": True,
            "interval_seconds": 60,
            "entity_id": "urn:x:Prediction:1",
            "entity_type": "Prediction",
            "device_id": "device-1",
            "service_group_resource": "/chronos/forecast",
            "fiware_service": "energy",
            "fiware_servicepath": "/e2e",
            "source_entity_id": "urn:x:Meter:1",
            "feature": "demand",
            "enabled_at": T0,
            **fields,
        }
    )


def metrics(mae: float = 1.0) -> ForecastMetrics:
    return ForecastMetrics(
        mae=mae, mse=mae, rmse=mae, mape=None, smape=None, r2=None, theil_u=None, mase=None,
        mae_per_step=[mae], windows=10, values=10,
    )  # fmt: skip


def data_quality(points: int = 1200, interval: float = 600.0) -> DataQuality:
    return DataQuality(
        raw_points=points, invalid_points=0, duplicate_timestamps=0, slot_collisions=0, dropped_points=0,
        observed_points=points, interval_seconds=interval, grid_points=points, interpolated_points=0, gaps=0,
        long_gaps=0, missing_points_not_filled=0, segments=1, max_interpolated_gap=3,
        first_timestamp=T0, last_timestamp=T0 + timedelta(seconds=interval * (points - 1)),
    )  # fmt: skip


def dataset_summary(points: int = 1200) -> DatasetSummary:
    return DatasetSummary(data_quality=data_quality(points), sampling_interval_seconds=600.0)


def training_result(serving: str = "network") -> TrainingResult:
    scores = {"network": metrics(1.0), "seasonal_naive": metrics(2.0), "last_value": metrics(3.0)}
    return TrainingResult(
        artifacts=ARTIFACTS,
        serving=serving,  # type: ignore[arg-type]
        selection=GateDecision(
            serving=serving,  # type: ignore[arg-type]
            rule="network validation MAE 1 < 1 x seasonal_naive 2: network served",
            validation_scores=scores,  # type: ignore[arg-type]
            network_beats_baselines=serving == "network",
            season_length=144,
            target_mode="residual_last_value",
            test_metrics=metrics(1.1),
            test_coverage={"80": 0.8, "95": 0.95},
            test_coverage_per_step={"80": [0.8], "95": [0.95]},
        ),
        metrics=TrainingMetrics(
            test=metrics(1.1),
            served=metrics(1.1),
            test_coverage={"80": 0.8, "95": 0.95},
            baselines=BaselineReport(
                season_length=144,
                season_detected=True,
                last_value=metrics(3.0),
                seasonal_naive=metrics(2.0),
                skill_vs_seasonal_naive=0.5,
                skill_vs_last_value=0.6,
            ),
        ),
        summary=TrainingRunSummary(
            parity_max_abs_diff=1e-6, durations={"total_seconds": 1.0}, lookback_window=24, forecast_horizon=6
        ),
        sampling_interval_seconds=600.0,
        data_quality=data_quality(),
    )
