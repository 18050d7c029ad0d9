"""What a training run found out: data quality, accuracy scores, the promotion gate's decision.

These are the reports a job keeps and the API shows. The forecasting library (:mod:`chronos_core.ml`)
computes them; nothing here computes anything.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from chronos_core.domain.artifacts import ArtifactRefs
from chronos_core.domain.sampling import GridReport

#: Forecasters the promotion gate chooses from.
ServingChoice = Literal["network", "seasonal_naive", "last_value"]


class ForecastMetrics(BaseModel):
    """Accuracy of one forecaster on a split's windows (original units). Undefined values are
    ``None``, never NaN."""

    model_config = ConfigDict(extra="forbid")

    mae: float | None
    mse: float | None
    rmse: float | None
    mape: float | None
    smape: float | None
    r2: float | None
    theil_u: float | None
    mase: float | None
    mae_per_step: list[float | None]
    windows: int
    values: int


class BaselineReport(BaseModel):
    """The two naive forecasters on the same test windows, and the model's skill against them."""

    model_config = ConfigDict(extra="forbid")

    season_length: int
    season_detected: bool
    last_value: ForecastMetrics
    seasonal_naive: ForecastMetrics
    skill_vs_seasonal_naive: float | None
    skill_vs_last_value: float | None


class DataQuality(BaseModel):
    """What preprocessing found and did. ``interval_seconds`` is the grid's step in seconds
    (an average month for month grids); ``grid`` says which grid it was, detected or stated
    (``None`` in jobs recorded before calendar grids)."""

    model_config = ConfigDict(extra="forbid")

    raw_points: int
    invalid_points: int
    duplicate_timestamps: int
    slot_collisions: int
    dropped_points: int
    observed_points: int
    interval_seconds: float
    grid_points: int
    interpolated_points: int
    gaps: int
    long_gaps: int
    missing_points_not_filled: int
    segments: int
    max_interpolated_gap: int
    first_timestamp: datetime
    last_timestamp: datetime
    grid: GridReport | None = None
    train_points: int = 0
    validation_points: int = 0
    test_points: int = 0
    train_windows: int = 0
    validation_windows: int = 0
    test_windows: int = 0


class GateDecision(BaseModel):
    """The promotion gate's decision and the served forecaster's test scores.

    ``validation_scores`` holds the three candidates' H-step metrics on the validation split;
    ``serving`` is the winner (see ``rule``). ``test_metrics`` are the *served* forecaster's
    metrics on the test split, ``test_coverage`` the fraction of observed test targets inside each
    prediction interval by level (``"80"``, ``"95"``), ``test_coverage_per_step`` per step.
    """

    model_config = ConfigDict(extra="forbid")

    serving: ServingChoice
    rule: str
    criterion: Literal["mae"] = "mae"
    gate_margin: float = 0.0
    validation_scores: dict[ServingChoice, ForecastMetrics]
    network_beats_baselines: bool
    season_length: int
    target_mode: str
    test_metrics: ForecastMetrics
    test_coverage: dict[str, float | None]
    test_coverage_per_step: dict[str, list[float | None]]


class TrainingMetrics(BaseModel):
    """The headline scores of a job on its test split: the network's (``test``), the served
    forecaster's (``served``), interval coverage by level, and both baselines."""

    model_config = ConfigDict(extra="forbid")

    test: ForecastMetrics
    served: ForecastMetrics | None = None
    test_coverage: dict[str, float | None] | None = None
    baselines: BaselineReport


class TrainingRunSummary(BaseModel):
    """How the run went: export parity, phase durations, the window it was trained for."""

    model_config = ConfigDict(extra="forbid")

    parity_max_abs_diff: float
    durations: dict[str, float] = Field(default_factory=dict)
    lookback_window: int
    forecast_horizon: int


class TrainingResult(BaseModel):
    """Everything a finished training run records on its job."""

    model_config = ConfigDict(extra="forbid")

    artifacts: ArtifactRefs
    serving: ServingChoice
    selection: GateDecision
    metrics: TrainingMetrics
    summary: TrainingRunSummary
    sampling_interval_seconds: float
    data_quality: DataQuality
