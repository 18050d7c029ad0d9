"""What a training run found out: data quality, accuracy scores, the promotion gate's decision.

These are the reports a job keeps and the API shows. The forecasting library (:mod:`chronos_core.ml`)
computes them; nothing here computes anything.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from chronos_core.domain.artifacts import ArtifactRefs
from chronos_core.domain.retraining import HoldoutComparison, WarmStart
from chronos_core.domain.sampling import GridReport

#: Forecasters the promotion gate chooses from. ``blend`` is a convex combination of the network
#: and the better baseline (:class:`Blend`).
ServingChoice = Literal["network", "seasonal_naive", "last_value", "blend"]

#: The two naive forecasters.
BaselineChoice = Literal["seasonal_naive", "last_value"]


class Blend(BaseModel):
    """``network_weight x network + (1 - network_weight) x baseline``, the weight fitted on the
    validation split."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    baseline: BaselineChoice
    network_weight: float = Field(ge=0.0, le=1.0)


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


class SeasonCandidate(BaseModel):
    """One season the detector considered, in grid steps, and the evidence for it.

    ``sources``: ``cadence`` (a natural period of the grid interval, e.g. 24 and 168 for hourly
    data) and/or ``acf_peak`` (a peak of the robust autocorrelation). ``acf`` is the robust,
    within-segment autocorrelation at the lag; ``seasonal_naive_mae`` the median per-window MAE of
    the seasonal naive with this season over the ``windows`` training and validation windows that
    have a full season of history in their segment (``None`` when too few), ``last_value_mae`` the
    last value's on the same windows, ``beats_last_value`` whether the first is below the second.
    Jobs recorded before the detector scored training windows too stored the first two as
    ``validation_mae`` and ``validation_windows`` (validation windows only); they load
    under the new names.
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    length: int
    sources: list[Literal["cadence", "acf_peak"]]
    acf: float | None
    seasonal_naive_mae: float | None = Field(
        validation_alias=AliasChoices("seasonal_naive_mae", "validation_mae")
    )
    windows: int = Field(default=0, validation_alias=AliasChoices("windows", "validation_windows"))
    last_value_mae: float | None = None
    beats_last_value: bool


class SeasonEvidence(BaseModel):
    """How the season was chosen: the candidates, the last value's median window MAE over the
    training and validation windows they were measured against, the chosen length (1: none) and
    the rule that chose it, in words. ``method`` ``robust_acf_confirmed_on_validation`` marks a
    job recorded before the detector scored training windows too."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    method: Literal["robust_acf_confirmed_on_history", "robust_acf_confirmed_on_validation", "configured"]
    chosen: int
    reason: str
    last_value_mae: float | None = Field(
        default=None, validation_alias=AliasChoices("last_value_mae", "last_value_validation_mae")
    )
    candidates: list[SeasonCandidate] = Field(default_factory=list)


class BaselineReport(BaseModel):
    """The two naive forecasters on the same test windows, and the model's skill against them."""

    model_config = ConfigDict(extra="forbid")

    season_length: int
    season_detected: bool
    last_value: ForecastMetrics
    seasonal_naive: ForecastMetrics
    skill_vs_seasonal_naive: float | None
    skill_vs_last_value: float | None
    #: How the season was found (``None`` in jobs recorded before the evidence was kept).
    season_evidence: SeasonEvidence | None = None


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


class SignificanceTest(BaseModel):
    """A one-sided Diebold-Mariano test that a candidate's per-window loss is below the
    reference's, with the gate margin inside: the differential of window ``i`` is
    ``d_i = (1 - margin) x L_ref,i - L_cand,i`` (``L`` the window's MAE over its observed steps),
    its long-run variance Newey-West (Bartlett weights up to ``lag``, at least ``H - 1`` because
    overlapping H-step windows share targets), ``statistic = mean(d) / sqrt(var / n)`` and
    ``p_value`` from Student's t with ``windows - 1`` degrees of freedom. ``None`` where undefined
    (fewer than two windows)."""

    model_config = ConfigDict(extra="forbid")

    method: Literal["diebold_mariano_newey_west"] = "diebold_mariano_newey_west"
    loss: Literal["mae"] = "mae"
    windows: int
    lag: int
    margin: float
    mean_differential: float | None
    statistic: float | None
    p_value: float | None


class CandidateVerdict(BaseModel):
    """The gate's evidence for one challenger of the best baseline (``reference``).

    ``validation_mae`` is the challenger's validation MAE (for a blend, cross-fitted: each half of
    the validation windows scored with the weight fitted on the other half); ``backtest_mae`` the
    MAE on the rolling-origin backtest at the end of the training split (``None`` when it has no
    window); ``test`` the significance test on the validation windows; ``passes`` whether every
    condition of the rule held, ``reason`` which did not.
    """

    model_config = ConfigDict(extra="forbid")

    candidate: ServingChoice
    reference: ServingChoice
    validation_mae: float | None
    reference_validation_mae: float | None
    backtest_mae: float | None
    reference_backtest_mae: float | None
    test: SignificanceTest
    passes: bool
    reason: str


class IntervalCalibration(BaseModel):
    """Where the served forecaster's interval residuals came from: the splits (``validation``,
    and ``backtest`` for a baseline, whose backtest is out of sample), the residuals behind each
    step after pooling and the pooling radius (step ``h`` uses steps ``h - r .. h + r``)."""

    model_config = ConfigDict(extra="forbid")

    sources: list[str]
    residuals_per_step: list[int]
    pooled_radius: list[int]
    saturated: dict[str, bool] = Field(default_factory=dict)


class GateDecision(BaseModel):
    """The promotion gate's decision and the served forecaster's test scores.

    ``validation_scores`` holds the candidates' H-step metrics on the validation split (the
    network, both baselines and, when fitted, the blend), ``backtest_scores`` the same on the
    rolling-origin backtest at the end of the training split; ``serving`` is the winner (see
    ``rule``, and ``evidence`` for each challenger's significance test). ``test_metrics`` are the
    *served* forecaster's metrics on the test split, ``test_coverage`` the fraction of observed
    test targets inside each prediction interval by level (``"80"``, ``"95"``),
    ``test_coverage_per_step`` per step. Fields after ``test_coverage_per_step`` are absent from
    jobs recorded before the significance gate.
    """

    model_config = ConfigDict(extra="forbid")

    serving: ServingChoice
    rule: str
    criterion: Literal["mae"] = "mae"
    gate_margin: float = 0.0
    validation_scores: dict[ServingChoice, ForecastMetrics]
    #: True when the served forecaster uses the network (``network`` or ``blend``).
    network_beats_baselines: bool
    season_length: int
    target_mode: str
    test_metrics: ForecastMetrics
    test_coverage: dict[str, float | None]
    test_coverage_per_step: dict[str, list[float | None]]
    significance_level: float | None = None
    best_baseline: BaselineChoice | None = None
    backtest_scores: dict[ServingChoice, ForecastMetrics] = Field(default_factory=dict)
    evidence: list[CandidateVerdict] = Field(default_factory=list)
    blend: Blend | None = None
    calibration: IntervalCalibration | None = None


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
    #: The champion scored next to this run on the run's own test split (a retraining).
    comparison: HoldoutComparison | None = None
    #: Whether the run started from the champion's weights.
    warm_start: WarmStart | None = None
