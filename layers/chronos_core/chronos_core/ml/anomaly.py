"""Anomaly scoring with the served forecaster. Pure numpy (the forecasts run in ONNX Runtime
through :class:`~chronos_core.ml.inference.Forecaster`; no TensorFlow).

**Residuals.** The points of a chunk are cleaned and put on the training grid with the training's
gap rule, as a forecast puts its context (:func:`~chronos_core.ml.preprocessing.regularize`). Every
grid slot that can start a forecast (its ``C`` preceding slots, the served forecaster's context,
lie in one gap-free segment) is an *origin*, and the served forecaster forecasts ``H`` steps from
each of them in one batch (:meth:`Forecaster.forecast_windows`). An observed slot ``t`` of the
scored range then has up to ``k`` forecasts issued from earlier context: step ``h`` from origin
``t - h`` (``h = 1..k``, the origin in ``t``'s segment). Its residual at step ``h`` is the reading
minus that forecast.

**Calibrated p-values.** Under "nothing unusual", ``|residual|`` at step ``h`` is distributed as
the job's conformal calibration residuals of step ``h`` (the served forecaster's out-of-sample
validation residuals, pooled over neighbouring steps as the intervals are; kept in the metadata,
:attr:`~chronos_core.ml.artifacts.PredictionIntervals.residuals`). :class:`StepCalibration` turns
``|r|`` into the conformal p-value ``(1 + #{calibration >= |r|}) / (n + 1)`` in the bulk, and above
the 90th percentile uses a generalized Pareto tail fitted to the largest 10 % (probability-weighted
moments, shape clipped to ``[0, 0.5]``: never lighter than exponential, so that a light tail
fitted on a few hundred residuals never ends in a bound beyond which every reading would read as
impossible; for Gaussian errors the p-values far out are conservative), so that a point far
outside the calibration can still reach the small p-values a false-discovery control over
thousands of points needs (the empirical part alone cannot go below ``1 / (n + 1)``). Artifacts
written before the residuals were kept fall back on a Gaussian fitted to the widest interval.

**Horizon consistency.** A point's p-value is the largest of its step p-values: it is flagged only
when it is surprising to every forecast issued for it from the ``k`` previous origins. This is a
valid p-value (each step's is), and it separates an anomaly from its echo: after a spike at
``t``, the forecast for ``t + 1`` issued from ``t`` starts from the spike and misses, but the one
issued from ``t - 1`` does not, so ``t + 1`` is not flagged; with ``k = 1`` it only depends on the
last reading.

**Data quality** (:func:`quality_findings`), reported apart from value anomalies: gaps longer than
``k`` intervals between consecutive readings, flat lines (a run of at least ``n`` identical
consecutive readings: a stuck sensor), duplicate timestamps, and readings out of order in the
order they were read.
"""

from __future__ import annotations

import math
import threading
import warnings
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from statistics import NormalDist
from typing import Final, Literal

import numpy as np
import numpy.typing as npt

from chronos_core.application.ports.pipeline import TimedPoint
from chronos_core.domain.anomaly import Candidate, ChunkScores, QualityIssue, QualityKind, ScanSettings
from chronos_core.domain.artifacts import ArtifactRefs
from chronos_core.domain.errors import ValidationError
from chronos_core.domain.model import from_epoch_ms
from chronos_core.ml.artifacts import InferenceSpec, PredictionIntervals
from chronos_core.ml.inference import Forecaster, ForecasterCache
from chronos_core.ml.preprocessing import Point, clean_points, regularize, to_epoch_seconds
from chronos_core.ml.transforms import FloatArray

IntArray = npt.NDArray[np.int64]

#: Share of the calibration residuals above the tail threshold (the generalized Pareto part).
TAIL_SHARE: Final = 0.10
#: At least this many residuals make the tail.
MIN_TAIL_RESIDUALS: Final = 10
#: Bounds of the fitted tail shape: never lighter than exponential (a bounded tail would call every
#: reading beyond its end impossible), never heavier than 0.5.
MAX_TAIL_SHAPE: Final = 0.5
MIN_TAIL_SHAPE: Final = 0.0
#: The smallest p-value reported (a bounded tail's p-value beyond its end point).
MIN_P_VALUE: Final = 1e-16
#: Forecast windows per ONNX Runtime call.
BATCH_WINDOWS: Final = 2048


# --------------------------------------------------------------------------------------------
# Calibration: |residual| -> p-value, per horizon step
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StepCalibration:
    """The null distribution of ``|residual|`` at one horizon step.

    ``sketch`` holds ascending calibration residuals standing for ``count`` of them; above
    ``threshold`` (the sketch's 90th percentile) the survival is the generalized Pareto
    ``tail_probability * (1 + shape * (x - threshold) / scale) ** (-1 / shape)``. ``gaussian_sd``
    set instead means the Gaussian fallback (no residuals stored).
    """

    sketch: FloatArray
    count: int
    threshold: float = 0.0
    tail_probability: float = 1.0
    shape: float = 0.0
    scale: float = 1.0
    gaussian_sd: float | None = None

    @classmethod
    def from_residuals(cls, residuals: Sequence[float], count: int | None = None) -> StepCalibration:
        """Fit from ascending absolute residuals (a sketch standing for ``count`` residuals)."""
        sketch = np.sort(np.abs(np.asarray(residuals, dtype=np.float64)))
        size = int(sketch.size)
        if size == 0:
            raise ValueError("a step calibration needs at least one residual")
        n = max(size, int(count or size))
        tail = min(size, max(MIN_TAIL_RESIDUALS, math.ceil(TAIL_SHARE * size)))
        threshold = float(sketch[size - tail - 1]) if size > tail else 0.0
        excess = sketch[size - tail :] - threshold
        shape, scale = _fit_tail(excess, floor=1e-12 * max(1.0, float(sketch[-1])))
        return cls(
            sketch=sketch,
            count=n,
            threshold=threshold,
            tail_probability=(1.0 + n * tail / size) / (n + 1.0),
            shape=shape,
            scale=scale,
        )

    @classmethod
    def gaussian(cls, half_width: float, level: float) -> StepCalibration:
        """The fallback for artifacts without residuals: ``|r|`` half-normal with the standard
        deviation that makes ``half_width`` the interval of coverage ``level``."""
        z = NormalDist().inv_cdf(0.5 + level / 2.0)
        sd = max(half_width / z, 1e-12)
        return cls(sketch=np.empty(0), count=0, gaussian_sd=sd)

    @property
    def median(self) -> float:
        """The median calibration ``|residual|`` (the unit of :func:`_local_widening`)."""
        if self.gaussian_sd is not None:
            return self.gaussian_sd * 0.6744897501960817
        return float(np.median(self.sketch))

    def p_values(self, abs_residuals: FloatArray) -> FloatArray:
        """The p-value of each ``|residual|`` (1 for 0; non-increasing in ``|r|``)."""
        x = np.abs(np.asarray(abs_residuals, dtype=np.float64))
        if self.gaussian_sd is not None:
            return np.asarray(_erfc(x / (self.gaussian_sd * math.sqrt(2.0))), dtype=np.float64)
        size = self.sketch.size
        above = size - np.searchsorted(self.sketch, x, side="left")  # sketch values >= x
        empirical = (1.0 + self.count * above / size) / (self.count + 1.0)
        tail = self.tail_probability * _pareto_survival(x - self.threshold, self.shape, self.scale)
        return np.maximum(np.where(x > self.threshold, np.minimum(empirical, tail), empirical), MIN_P_VALUE)

    def half_width(self, p_value: float) -> float:
        """The smallest ``|r|`` whose p-value is at most ``p_value``: the half-width of the band
        a reading must leave to be that surprising."""
        if p_value >= 1.0:
            return 0.0
        lo, hi = 0.0, 1.0
        while float(self.p_values(np.array([hi]))[0]) > p_value and hi < 1e300:
            hi *= 2.0
        for _ in range(100):
            mid = 0.5 * (lo + hi)
            if float(self.p_values(np.array([mid]))[0]) > p_value:
                lo = mid
            else:
                hi = mid
        return hi


_erfc = np.vectorize(math.erfc, otypes=[np.float64])


def _fit_tail(excess: FloatArray, floor: float) -> tuple[float, float]:
    """Generalized Pareto ``(shape, scale)`` of non-negative excesses by probability-weighted
    moments (Hosking and Wallis 1987), the shape clipped to ``[MIN_TAIL_SHAPE, MAX_TAIL_SHAPE]``."""
    y = np.sort(excess)
    n = y.size
    a0 = float(y.mean()) if n else 0.0
    if n < 2 or a0 <= floor:
        return 0.0, max(a0, floor)
    a1 = float(np.mean(y * (n - 1 - np.arange(n)) / (n - 1)))
    denominator = a0 - 2.0 * a1
    shape = 2.0 - a0 / denominator if denominator > floor else MAX_TAIL_SHAPE
    shape = min(max(shape, MIN_TAIL_SHAPE), MAX_TAIL_SHAPE)
    return shape, max(a0 * (1.0 - shape), floor)


def _pareto_survival(excess: FloatArray, shape: float, scale: float) -> FloatArray:
    y = np.maximum(excess, 0.0) / scale
    if abs(shape) < 1e-9:
        return np.asarray(np.exp(-y), dtype=np.float64)
    base = np.maximum(1.0 + shape * y, 0.0)
    with np.errstate(divide="ignore"):
        return np.asarray(base ** (-1.0 / shape), dtype=np.float64)


CalibrationSource = Literal["residuals", "interval_widths"]


@dataclass(frozen=True)
class Calibration:
    """The step calibrations of a job's served forecaster (step ``h`` at index ``h - 1``)."""

    steps: tuple[StepCalibration, ...]
    source: CalibrationSource

    @classmethod
    def of(cls, spec: InferenceSpec, steps: int) -> Calibration:
        """The first ``steps`` steps' calibrations from the metadata's intervals. Raises
        ValidationError when the artifacts carry no intervals at all."""
        intervals = spec.intervals
        if intervals is None or not intervals.half_widths:
            raise ValidationError(
                "The job's artifacts carry no conformal calibration (trained before intervals "
                "existed); retrain the model to scan it",
                details=[{"field": "job_id", "message": "no calibration residuals"}],
            )
        kept = intervals.residuals or []
        counts = intervals.residual_counts or []
        out: list[StepCalibration] = []
        source: CalibrationSource = "residuals"
        for h in range(steps):
            if h < len(kept) and kept[h]:
                count = counts[h] if h < len(counts) else len(kept[h])
                out.append(StepCalibration.from_residuals(kept[h], count))
            else:
                out.append(_gaussian_fallback(intervals, h))
                source = "interval_widths"
        return cls(tuple(out), source)


def _gaussian_fallback(intervals: PredictionIntervals, step: int) -> StepCalibration:
    """The Gaussian fallback from the widest level's half-width at ``step`` (0-based)."""
    widest = int(np.argmax(intervals.levels))
    widths = intervals.half_widths[widest]
    return StepCalibration.gaussian(widths[min(step, len(widths) - 1)], intervals.levels[widest])


# --------------------------------------------------------------------------------------------
# Scoring a chunk
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScoredPoints:
    """The observed slots of a chunk's scored range that had at least one forecast: the time of
    their (first) reading, the slot's value, the forecast at ``step`` (the nearest step that was
    available) and the combined p-value; ``unscored`` observed slots had none (no gap-free
    context before them)."""

    times: FloatArray
    values: FloatArray
    expected: FloatArray
    step: IntArray
    p_values: FloatArray
    unscored: int
    #: How much wider than the calibration the recent errors at ``step`` were (>= 1).
    widening: FloatArray | None = None

    def __len__(self) -> int:
        return int(self.times.size)


def score_points(
    forecaster: Forecaster,
    points: Sequence[Point],
    *,
    score_from: float,
    steps: int,
    calibration: Calibration,
) -> ScoredPoints:
    """Score the readings of ``points`` received at or after ``score_from`` (epoch seconds), the
    earlier ones serving as context (see the module docstring); ``steps`` is ``k``.

    Two passes: the readings the first pass finds surprising (p below :data:`SUSPECT_P_VALUE`)
    are left out of the second pass's *contexts* (linearly interpolated from the readings around
    them, as a missing reading is), so that an anomaly does not make the forecasts after it miss
    (a spike read as the last value, or one season back); each reading is still compared with
    its own actual value."""
    clean = clean_points(points)
    if clean.times.size == 0:
        return _no_scores(0)
    spec = forecaster.spec
    series = regularize(clean, spec.sampling_grid().aligned_to(clean.times), spec.max_interpolated_gap)
    reading = _slot_reading_times(
        series.grid.slots_of(series.times), series.grid.slots_of(clean.times), clean.times
    )
    index = np.arange(len(series), dtype=np.int64)
    targets = index[series.observed]
    in_range = reading[targets] >= score_from
    if not np.any(in_range):
        return _no_scores(0)
    grid = _Targets(
        values=series.values,
        segment=series.segment_start_of(index),
        targets=targets,
        context=forecaster.context_length,
        steps=max(1, min(steps, forecaster.horizon, len(calibration.steps))),
    )
    first = grid.score(forecaster, calibration, series.values)
    suspect = first.p_values < SUSPECT_P_VALUE
    final = (
        grid.score(forecaster, calibration, _without(series.values, targets[suspect]))
        if np.any(suspect)
        else first
    )
    keep = final.scored & in_range
    return ScoredPoints(
        times=reading[targets[keep]],
        values=series.values[targets[keep]],
        expected=final.expected[keep],
        step=final.step[keep],
        p_values=final.p_values[keep],
        unscored=int(np.count_nonzero(in_range & ~final.scored)),
        widening=final.widening[keep],
    )


#: A reading this surprising to the first pass is left out of the second pass's contexts.
SUSPECT_P_VALUE: Final = 1e-3


def _without(values: FloatArray, suspects: IntArray) -> FloatArray:
    """``values`` with the slots ``suspects`` linearly interpolated from the other slots."""
    keep = np.ones(values.size, dtype=np.bool_)
    keep[suspects] = False
    if not np.any(keep):
        return values
    slots = np.arange(values.size, dtype=np.float64)
    out = values.copy()
    out[~keep] = np.interp(slots[~keep], slots[keep], values[keep])
    return out


@dataclass(frozen=True)
class _Pass:
    """One scoring pass over the targets: combined p-value (NaN: unscored), the forecast at the
    nearest available step, that step, and whether the target was scored."""

    p_values: FloatArray
    expected: FloatArray
    step: IntArray
    scored: npt.NDArray[np.bool_]
    widening: FloatArray


@dataclass(frozen=True)
class _Targets:
    """The observed grid slots of a chunk and what forecasting them needs."""

    values: FloatArray
    segment: IntArray
    targets: IntArray
    context: int
    steps: int

    def score(self, forecaster: Forecaster, calibration: Calibration, context_values: FloatArray) -> _Pass:
        """Forecasts from every origin whose context (taken from ``context_values``) lies in one
        segment, the targets' residuals against their actual values at steps ``1..k``, their
        p-values (after :func:`_local_widening`), the largest over the steps."""
        k, targets = self.steps, self.targets
        origins = np.arange(int(targets[-1]), dtype=np.int64)
        origins = origins[origins - self.context + 1 >= self.segment[origins]]
        forecasts = _forecasts(forecaster, context_values, origins, self.context, k)
        position = np.full(self.values.size, -1, dtype=np.int64)
        position[origins] = np.arange(origins.size)
        actual = self.values[targets]
        p = np.full((targets.size, k), np.nan)
        expected = np.full(targets.size, np.nan)
        step_of = np.zeros(targets.size, dtype=np.int64)
        widening = np.ones(targets.size)
        for h in range(k, 0, -1):  # the smallest available step wins ``expected``
            origin = targets - h
            ok = origin >= self.segment[targets]
            ok[ok] = position[origin[ok]] >= 0
            residual = np.full(targets.size, np.nan)
            residual[ok] = actual[ok] - forecasts[position[origin[ok]], h - 1]
            step = calibration.steps[h - 1]
            widen = _local_widening(np.abs(residual), step.median)
            p[ok, h - 1] = step.p_values(np.abs(residual[ok]) / widen[ok])
            expected[ok] = actual[ok] - residual[ok]
            step_of[ok] = h
            widening[ok] = widen[ok]
        scored = ~np.all(np.isnan(p), axis=1)
        combined = np.full(targets.size, np.nan)
        combined[scored] = np.nanmax(p[scored], axis=1)
        return _Pass(combined, expected, step_of, scored, widening)


#: Residuals before a point that tell how wide the errors are around it.
LOCAL_WINDOW: Final = 200
#: Fewer residuals than this in the window: no widening.
MIN_LOCAL_RESIDUALS: Final = 30


def _local_widening(abs_residuals: FloatArray, calibration_median: float) -> FloatArray:
    """Per point, how much wider the errors of the :data:`LOCAL_WINDOW` points before it are than
    the calibration's (the ratio of the medians, never below 1): where the series has become
    harder to forecast than it was at calibration (a new season, a noisier sensor), residuals are
    measured in that wider unit, so the flag rate stays controlled. The median ignores isolated
    anomalies; the ratio only ever widens, so a quiet stretch does not make p-values smaller."""
    n = abs_residuals.size
    if n == 0 or not calibration_median > 0:
        return np.ones(n)
    padded = np.concatenate([np.full(LOCAL_WINDOW, np.nan), abs_residuals])
    windows = np.lib.stride_tricks.sliding_window_view(padded, LOCAL_WINDOW)[:n]
    counts = np.count_nonzero(~np.isnan(windows), axis=1)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        local = np.nanmedian(windows, axis=1)
    ratio = np.where(counts >= MIN_LOCAL_RESIDUALS, local / calibration_median, 1.0)
    return np.maximum(np.nan_to_num(ratio, nan=1.0), 1.0)


def _no_scores(unscored: int) -> ScoredPoints:
    empty = np.empty(0)
    return ScoredPoints(empty, empty, empty, np.empty(0, dtype=np.int64), empty, unscored, empty)


def _slot_reading_times(
    grid_slots: IntArray, reading_slots: IntArray, reading_times: FloatArray
) -> FloatArray:
    """Per grid slot, the time of the first reading in it (its slot instant when interpolated)."""
    occupied, first = np.unique(reading_slots, return_index=True)
    where = np.searchsorted(occupied, grid_slots)
    where = np.minimum(where, occupied.size - 1)
    hit = occupied[where] == grid_slots
    out = np.full(grid_slots.size, -np.inf)
    out[hit] = reading_times[first[where[hit]]]
    return out


def _forecasts(
    forecaster: Forecaster, values: FloatArray, origins: IntArray, context: int, steps: int
) -> FloatArray:
    """The first ``steps`` forecast steps from each origin (its ``context`` values ending there)."""
    if origins.size == 0:
        return np.empty((0, steps))
    windows = np.lib.stride_tricks.sliding_window_view(values, context)
    rows = origins - context + 1
    parts = [
        forecaster.forecast_windows(windows[rows[i : i + BATCH_WINDOWS]])[:, :steps]
        for i in range(0, rows.size, BATCH_WINDOWS)
    ]
    return np.concatenate(parts)


# --------------------------------------------------------------------------------------------
# Data quality
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QualityReport:
    """What a chunk found about its readings: issues (flat runs touching the scored range's ends
    are kept whatever their length, so that the combine step can join them across chunks), and
    the first and last reading of the scored range (for the gaps between chunks)."""

    issues: list[QualityIssue]
    first_reading: float | None
    last_reading: float | None


def quality_findings(
    points: Sequence[Point],
    *,
    score_from: float,
    interval_seconds: float,
    gap_intervals: float,
    flat_points: int,
) -> QualityReport:
    """Gaps, flat lines, duplicate and out-of-order timestamps among the readings of ``points``
    received at or after ``score_from`` (the earlier ones only tell where a flat run began)."""
    parsed = [(to_epoch_seconds(t), v) for t, v in points]
    raw_times = np.array([t for t, _ in parsed if t is not None], dtype=np.float64)
    issues = _out_of_order(raw_times, score_from)
    clean = clean_points(points)
    times, values = clean.times, clean.values
    scored = times >= score_from
    if not np.any(scored):
        return QualityReport(issues, None, None)
    issues += _duplicates(raw_times, score_from)
    issues += _gaps(times[scored], interval_seconds * gap_intervals, interval_seconds)
    issues += _flat_runs(times, values, scored, flat_points)
    return QualityReport(issues, float(times[scored][0]), float(times[scored][-1]))


def _issue(kind: QualityKind, start: float, end: float, points: int, **detail: float) -> QualityIssue:
    return QualityIssue.between(kind, start, end, points, detail or None)


def _out_of_order(raw_times: FloatArray, score_from: float) -> list[QualityIssue]:
    back = np.flatnonzero(raw_times[1:] < raw_times[:-1]) + 1
    return [
        _issue("out_of_order", float(raw_times[i]), float(raw_times[i - 1]), 1)
        for i in back
        if raw_times[i] >= score_from
    ]


def _duplicates(raw_times: FloatArray, score_from: float) -> list[QualityIssue]:
    stamps, counts = np.unique(np.round(raw_times[raw_times >= score_from], 3), return_counts=True)
    return [
        _issue("duplicate_timestamps", float(t), float(t), int(c))
        for t, c in zip(stamps, counts, strict=True)
        if c > 1
    ]


def _gaps(times: FloatArray, longest: float, interval: float) -> list[QualityIssue]:
    if times.size < 2:
        return []
    delta = np.diff(times)
    return [
        _issue(
            "gap",
            float(times[i]),
            float(times[i + 1]),
            0,
            missing_intervals=round(delta[i] / interval - 1, 1),
        )
        for i in np.flatnonzero(delta > longest)
    ]


def _flat_runs(
    times: FloatArray, values: FloatArray, scored: npt.NDArray[np.bool_], flat_points: int
) -> list[QualityIssue]:
    """Runs of identical consecutive values with a reading in the scored range: those of at
    least ``flat_points`` readings, and any that touches the scored range's first or last
    reading (it may go on in the next chunk). ``points`` counts the run's scored readings."""
    change = np.flatnonzero(np.diff(values) != 0) + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change, [values.size]])  # exclusive
    first_scored, last_scored = int(np.argmax(scored)), values.size - 1
    found: list[QualityIssue] = []
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        length = end - start
        inside = int(np.count_nonzero(scored[start:end]))
        if length < 2 or inside == 0:
            continue
        touches = start <= first_scored or end - 1 >= last_scored
        if length >= flat_points or touches:
            found.append(
                _issue(
                    "flat_line",
                    float(times[start]),
                    float(times[end - 1]),
                    inside,
                    value=float(values[start]),
                    run_points=length,
                )
            )
    return found


# --------------------------------------------------------------------------------------------
# The scorer behind the application's port
# --------------------------------------------------------------------------------------------


class ForecastScorer:
    """:class:`~chronos_core.application.ports.anomaly.ScanScorer` on a loaded forecaster:
    :func:`score_points` and :func:`quality_findings` on a chunk's points, its candidates kept."""

    def __init__(self, forecaster: Forecaster, steps: int) -> None:
        self._forecaster = forecaster
        self._steps = max(1, min(steps, forecaster.horizon))
        self._calibration = Calibration.of(forecaster.spec, self._steps)

    @property
    def interval_seconds(self) -> float:
        return self._forecaster.spec.interval_seconds

    @property
    def context_slots(self) -> int:
        """The served forecaster's context, the steps, and the residuals the local widening reads."""
        return self._forecaster.context_length + self._steps + LOCAL_WINDOW

    @property
    def calibration_source(self) -> str:
        return self._calibration.source

    def score(
        self, points: Sequence[TimedPoint], *, score_from: datetime, settings: ScanSettings
    ) -> ChunkScores:
        start = score_from.timestamp()
        scored = score_points(
            self._forecaster, points, score_from=start, steps=self._steps, calibration=self._calibration
        )
        report = quality_findings(
            points,
            score_from=start,
            interval_seconds=self.interval_seconds,
            gap_intervals=settings.gap_intervals,
            flat_points=settings.flat_line_points,
        )
        pick = np.flatnonzero(scored.p_values <= settings.false_discovery_rate)
        widening = scored.widening if scored.widening is not None else np.ones(len(scored))
        return ChunkScores(
            points_read=sum(1 for t, _ in points if t >= score_from),
            points_scored=len(scored),
            points_unscored=scored.unscored,
            candidates=[
                Candidate(
                    time=_instant(float(scored.times[i])),
                    value=float(scored.values[i]),
                    expected=float(scored.expected[i]),
                    p_value=float(scored.p_values[i]),
                    step=int(scored.step[i]),
                    widening=float(widening[i]),
                )
                for i in pick
            ],
            issues=report.issues,
            first_reading=None if report.first_reading is None else _instant(report.first_reading),
            last_reading=None if report.last_reading is None else _instant(report.last_reading),
        )

    def half_width(self, step: int, p_value: float) -> float:
        return self._calibration.steps[max(1, min(step, self._steps)) - 1].half_width(p_value)


def _instant(seconds: float) -> datetime:
    return from_epoch_ms(round(seconds * 1000))


class ScorerCache:
    """:class:`~chronos_core.application.ports.anomaly.ScorerLoader` on a
    :class:`~chronos_core.ml.inference.ForecasterCache` (the forecaster is shared with the
    forecast path; the calibration is kept per ``(artifacts, steps)``)."""

    def __init__(self, forecasters: ForecasterCache, max_scorers: int = 8) -> None:
        self._forecasters = forecasters
        self._max = max_scorers
        self._cache: OrderedDict[tuple[ArtifactRefs, int], ForecastScorer] = OrderedDict()
        self._lock = threading.Lock()

    def load(self, refs: ArtifactRefs, steps: int) -> ForecastScorer:
        key = (refs, steps)
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
        scorer = ForecastScorer(self._forecasters.load(refs), steps)
        with self._lock:
            self._cache[key] = scorer
            while len(self._cache) > self._max:
                self._cache.popitem(last=False)
        return scorer
