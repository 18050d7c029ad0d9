"""Forecast quality on real measured series nobody tuned for, served the way production serves.

Every series ships inside a PyPI package (no download at run time; the data-only packages are read
as files, see ``requirements-bench.txt``):

- ``taylor``: half-hourly electricity demand, England and Wales 2000 (pmdarima).
- ``ppg``: photoplethysmogram (pulse sensor), first 8,000 samples of ``heartpy/data/data3.csv``
  (heartpy==1.2.7); irregular timestamps (many duplicated, median gap 16 ms).
- ``water_flow``: hourly water flow through a pipeline branch, l/s (river==0.26.1,
  ``river/datasets/water-flow.csv``). **Real outages and real missing stretches**: three low-flow
  stretches (12-16 h at ~24 l/s instead of ~100, maintenance) in the training part, and 10 holes
  in the timestamps (2-32 h), 6 of them in the last 20 % (May 10-16), so serving meets contexts
  whose last part has gaps. Nothing is deleted by the benchmark.
- ``air_temp``: hourly dry-bulb air temperature at Greensboro airport, NC (NSRDB TMY3 station
  723170, flagged as measured), last 4,380 hours (pvlib==0.16.1, ``pvlib/data/723170TYA.CSV``).
- ``pm25``: hourly PM2.5 of an EPA monitor in Imperial County, CA, 2015, first 4,380 hours
  (pvlib==0.16.1, ``pvlib/data/soiling_hsu_example_inputs.csv``), in µg/m³. **Real outages**:
  two 36-hour flat stretches (a stuck or back-filled monitor, March 20-23) and zero readings.
- ``co2``: weekly atmospheric CO2 at Mauna Loa, 1958-2001 (statsmodels ``datasets.co2``); the
  59 missing weeks are absent readings (real gaps, none in the test part).
- ``elnino``: monthly sea surface temperature, Niño 1+2 region, 1950-2010, 732 months
  (statsmodels ``datasets/elnino/elnino.csv``, NOAA ERSST.V3B).
- ``elec_equip``: monthly euro-area turnover index of electrical equipment manufacturing,
  1995-2016, 257 months (statsmodels ``datasets/elec_equip``, Eurostat): the short monthly one.

Method. Each series is put on the benchmark's own grid (its natural cadence: a step in seconds,
or calendar months; readings falling in one slot are averaged, slots without a reading are
missing). The last 20 % of the slots is the test part. **Origins**: every test slot holding a
reading whose ``H`` next slots are inside the series (stride one slot). From each origin all
forecasters are scored on the same ``(origin, step)`` pairs, against the slot values (missing ones
are skipped):

- **served**: the trained job's forecaster, loaded from its artifacts as the forecast Lambda loads
  it, called as production calls it: ``Forecaster.forecast_points`` on the raw readings up to the
  origin, the latest ``Forecaster.context_points`` of them (``application.forecasting.context``).
  An origin where it raises (e.g. the gap refusal ``InsufficientDataError``) is a **refused
  origin**. Its conformal intervals (80 %, 95 %) are scored for coverage.
- **network**: the same artifacts with the network forced as the served choice, same call; where
  the production fetch is refused, it is retried once with three times the readings (so that it is
  measured even where that fetch is too short for the grid, as on ppg with its duplicated stamps;
  a gap is not bridged by the retry, the longer fetch meets the same gap).
- **last value**, **seasonal naive** (the natural season ``m`` below): numpy, on the benchmark grid.
- **AutoETS**, **AutoTheta** (statsforecast 2.1.1, ``bench/statsforecast_anchors.py`` in
  ``.local/bench-venv``): fitted once on everything before the test part, then applied to each
  origin's context with ``forward`` (no refit); their own 80/95 % intervals. Season: the natural
  period, except AutoETS on taylor: 48 (one day), since with 336 it selected a non-seasonal model
  in a trial, after a 15 s fit.
  The anchors and the numpy baselines see the grid with missing slots linearly interpolated (they
  have no gap handling of their own); only the served forecast and the network meet raw readings.

Training: the production pipeline (:func:`run_training_job`) with the service's defaults wherever
they matter (season detection, gate, target mode, intervals) and a modest network so the run stays
at a few minutes on 2 cores: LSTM(32), up to 30 epochs, early-stopping patience 5, batch 64;
splits 65/15/20 of the job's own grid.

Reported per series: MAE divided by seasonal naive's on the same pairs (< 1 is better), coverage,
refused origins, the forecast-date error (served target timestamps against the calendar slots),
training time; then the targets (no refused origin; served never worse than the better of last
value and seasonal naive; at least as good as the better of AutoETS and AutoTheta on most series;
coverage within 5 points of nominal at 80 % and 95 %).

Usage: python bench/bench_quality.py [--only NAME ...] [--epochs N] [--no-stats] [--json PATH]
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "layers" / "chronos_core"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")

from chronos_core.adapters.artifact_store import InMemoryArtifactStore  # noqa: E402
from chronos_core.domain.errors import ChronosError  # noqa: E402
from chronos_core.ml.config import JobIdentity, RnnLayerConfig, TrainingConfig  # noqa: E402
from chronos_core.ml.inference import Forecaster, inference_spec_from_metadata, load_forecaster  # noqa: E402
from chronos_core.ml.pipeline import TrainingOutcome, run_training_job  # noqa: E402

Points = list[tuple[float, float]]
STATS_PYTHON = ROOT / ".local" / "bench-venv" / "bin" / "python"
LEVELS = (80, 95)
TEST_FRACTION = 0.20
#: Where the production fetch (``context_points`` readings) is refused, the network alone is
#: retried once with this many times the readings, so that it is measured even where that fetch is
#: too short for the grid (duplicated stamps, e.g. ppg). The served forecast is never retried.
NETWORK_RETRY_FACTOR = 3
MONTH = "month"


# --------------------------------------------------------------------------- series


def _package_dir(name: str) -> Path:
    """The installed package's folder, found without importing it (heartpy imports matplotlib)."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"package {name!r} is not installed (see requirements-bench.txt)")
    return Path(next(iter(spec.submodule_search_locations)))


def _points(times: np.ndarray, values: np.ndarray) -> Points:
    return list(zip(times.tolist(), values.tolist(), strict=True))


def _utc(year: int, month: int, day: int = 1) -> float:
    return datetime(year, month, day, tzinfo=UTC).timestamp()


def taylor() -> Points:
    from pmdarima.datasets import load_taylor

    values = np.asarray(load_taylor(), dtype=np.float64)
    return _points(959_212_800.0 + 1800.0 * np.arange(values.size), values)


def ppg() -> Points:
    with (_package_dir("heartpy") / "data" / "data3.csv").open() as f:
        rows = list(csv.DictReader(f))[:8000]
    times = np.array([datetime.fromisoformat(r["datetime"]).replace(tzinfo=UTC).timestamp() for r in rows])
    return _points(times, np.array([float(r["hr"]) for r in rows]))


def water_flow() -> Points:
    with (_package_dir("river") / "datasets" / "water-flow.csv").open() as f:
        rows = list(csv.DictReader(f))
    times = np.array([datetime.fromisoformat(r["Time"]).timestamp() for r in rows])
    return _points(times, np.array([float(r["Water flow [l/s]"]) for r in rows]))


def air_temp() -> Points:
    with (_package_dir("pvlib") / "data" / "723170TYA.CSV").open() as f:
        f.readline()  # station header
        rows = list(csv.DictReader(f))[-4380:]
    stamps = []
    for r in rows:  # TMY3 hours run 01:00-24:00 local standard time
        month, day, _ = (int(x) for x in r["Date (MM/DD/YYYY)"].split("/"))
        hour = int(r["Time (HH:MM)"].split(":")[0])
        stamps.append(_utc(2001, month, day) + 3600.0 * hour)
    return _points(np.array(stamps), np.array([float(r["Dry-bulb (C)"]) for r in rows]))


def pm25() -> Points:
    with (_package_dir("pvlib") / "data" / "soiling_hsu_example_inputs.csv").open() as f:
        rows = list(csv.DictReader(f))[:4380]
    times = np.array([datetime.fromisoformat(r["TimeStamp"]).replace(tzinfo=UTC).timestamp() for r in rows])
    return _points(times, 1e6 * np.array([float(r["PM2_5"]) for r in rows]))  # g/m³ -> µg/m³


def co2() -> Points:
    import statsmodels.api as sm

    data = sm.datasets.co2.load_pandas().data["co2"].dropna()
    times = np.array([ts.replace(tzinfo=UTC).timestamp() for ts in data.index.to_pydatetime()])
    return _points(times, data.to_numpy(dtype=np.float64))


def elnino() -> Points:
    with (_package_dir("statsmodels") / "datasets" / "elnino" / "elnino.csv").open() as f:
        rows = list(csv.reader(f))[1:]
    points: Points = []
    for row in rows:
        year = int(float(row[0]))
        points.extend((_utc(year, month), float(value)) for month, value in enumerate(row[1:], start=1))
    return points


def elec_equip() -> Points:
    with (_package_dir("statsmodels") / "datasets" / "elec_equip" / "elec_equip.csv").open() as f:
        rows = list(csv.reader(f))[1:]
    return [
        (datetime.strptime(day, "%b-%d-%Y").replace(tzinfo=UTC).timestamp(), float(value))
        for day, value in rows
    ]


# --------------------------------------------------------------------------- benchmark grid


@dataclass(frozen=True)
class Grid:
    """A series on the benchmark's grid: slot instants, slot values (NaN: no reading), and the
    slot of each reading (readings sorted by time)."""

    times: np.ndarray
    values: np.ndarray
    reading_slot: np.ndarray

    def __len__(self) -> int:
        return int(self.times.size)

    def interpolated(self, end: int | None = None) -> np.ndarray:
        """Slot values with missing slots linearly interpolated, using ``values[:end]`` only."""
        values = self.values[:end]
        idx = np.arange(values.size)
        seen = np.isfinite(values)
        return np.interp(idx, idx[seen], values[seen])


def _month_index(t: float) -> int:
    stamp = datetime.fromtimestamp(t, tz=UTC)
    return stamp.year * 12 + stamp.month - 1


def make_grid(times: np.ndarray, values: np.ndarray, step: float | str) -> Grid:
    """Slots of ``step`` seconds from the first reading, or calendar months (``MONTH``)."""
    if step == MONTH:
        months = np.array([_month_index(t) for t in times])
        slot = months - months[0]
        n = int(slot[-1]) + 1
        slot_times = np.array([_utc((months[0] + k) // 12, (months[0] + k) % 12 + 1) for k in range(n)])
    else:
        slot = np.rint((times - times[0]) / float(step)).astype(np.int64)
        n = int(slot[-1]) + 1
        slot_times = times[0] + float(step) * np.arange(n)
    sums = np.bincount(slot, weights=values, minlength=n)
    counts = np.bincount(slot, minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        slot_values = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    return Grid(slot_times, slot_values, slot)


# --------------------------------------------------------------------------- cases


@dataclass(frozen=True)
class Case:
    name: str
    source: str
    what: str
    cadence: str
    load: Callable[[], Points]
    step: float | str
    lookback: int
    horizon: int
    season: int  #: natural period in slots: seasonal naive and AutoTheta (and AutoETS by default)
    ets_season: int | None = None
    scenario: str = ""


HOUR = 3600.0
CASES = [
    Case("taylor", "pmdarima 2.1.1", "electricity demand, England and Wales", "30 min", taylor,
         step=1800.0, lookback=48, horizon=48, season=336, ets_season=48),
    Case("ppg", "heartpy 1.2.7", "pulse sensor (PPG), irregular stamps", "16 ms", ppg,
         step=0.016, lookback=64, horizon=32, season=37),
    Case("water_flow", "river 0.26.1", "pipeline water flow, l/s", "1 h", water_flow,
         step=HOUR, lookback=48, horizon=24, season=24,
         scenario="real outages in training; real gaps near the end"),
    Case("air_temp", "pvlib 0.16.1", "air temperature, TMY3 Greensboro", "1 h", air_temp,
         step=HOUR, lookback=48, horizon=24, season=24),
    Case("pm25", "pvlib 0.16.1", "PM2.5, EPA monitor Imperial County", "1 h", pm25,
         step=HOUR, lookback=48, horizon=24, season=24, scenario="real outages in training (flat 36 h, zeros)"),
    Case("co2", "statsmodels 0.15.0", "CO2 Mauna Loa", "1 week", co2,
         step=7 * 86400.0, lookback=52, horizon=13, season=52, scenario="weekly; 59 missing weeks (none in test)"),
    Case("elnino", "statsmodels 0.15.0", "sea surface temperature, Niño 1+2", "1 month", elnino,
         step=MONTH, lookback=24, horizon=12, season=12, scenario="monthly"),
    Case("elec_equip", "statsmodels 0.15.0", "electrical equipment turnover index, euro area", "1 month",
         elec_equip, step=MONTH, lookback=24, horizon=12, season=12, scenario="monthly, short (257 months)"),
]  # fmt: skip


# --------------------------------------------------------------------------- training and serving


def train(case: Case, points: Points, epochs: int) -> tuple[TrainingOutcome, InMemoryArtifactStore, float]:
    config = TrainingConfig(
        rnn_layers=[RnnLayerConfig(units=32, dropout=0.0)],
        lookback_window=case.lookback,
        forecast_horizon=case.horizon,
        epochs=epochs,
        early_stopping_patience=min(5, epochs),
        batch_size=64,
        learning_rate=0.003,
        validation_ratio=0.15,
        test_ratio=TEST_FRACTION,
    )
    store = InMemoryArtifactStore()
    t0 = time.perf_counter()
    outcome = run_training_job(
        points, config, JobIdentity(model_id=case.name, training_job_id="bench"), store
    )
    return outcome, store, time.perf_counter() - t0


def network_forecaster(store: InMemoryArtifactStore, outcome: TrainingOutcome) -> Forecaster:
    """The job's artifacts with the network forced as the served choice."""
    refs = outcome.artifacts
    spec = inference_spec_from_metadata(store.get(refs.metadata).data)
    spec = spec.model_copy(update={"selected": "network"})
    return Forecaster.from_bytes(
        store.get(refs.inference).data, store.get(refs.x_scaler).data, store.get(refs.y_scaler).data, spec
    )


@dataclass
class Served:
    """One forecaster's forecasts from every origin, through ``forecast_points``."""

    mean: np.ndarray
    bands: dict[int, tuple[np.ndarray, np.ndarray]]
    refused: int = 0
    retried: int = 0
    first_refusal: str = ""
    quality: dict[str, int] = field(default_factory=dict)
    date_error_s: float | None = None
    seconds: float = 0.0


def serve(
    forecaster: Forecaster,
    readings: np.ndarray,
    grid: Grid,
    origins: np.ndarray,
    horizon: int,
    retry_factor: int = 1,
) -> Served:
    """Forecast from each origin as the forecast Lambda does: the latest ``context_points``
    readings up to the origin, passed to ``forecast_points``. A refused origin is retried once
    with ``retry_factor`` times the readings when ``retry_factor > 1``."""
    n = origins.size
    out = Served(
        mean=np.full((n, horizon), np.nan),
        bands={lv: (np.full((n, horizon), np.nan), np.full((n, horizon), np.nan)) for lv in LEVELS},
    )
    ends = np.searchsorted(grid.reading_slot, origins, side="right")
    take = forecaster.context_points
    t0 = time.perf_counter()
    for i, (j, end) in enumerate(zip(origins, ends, strict=True)):
        result = None
        for factor in (1, retry_factor) if retry_factor > 1 else (1,):
            context = readings[max(0, end - factor * take) : end]
            try:
                result = forecaster.forecast_points([(float(t), float(v)) for t, v in context])
                break
            except ChronosError as exc:
                out.first_refusal = out.first_refusal or f"{type(exc).__name__}: {exc}"
        if result is None:
            out.refused += 1
            continue
        if factor > 1:
            out.retried += 1
        k = min(horizon, len(result.values))
        out.mean[i, :k] = result.values[:k]
        for lv in LEVELS:
            band = result.intervals.get(str(lv))
            if band is not None:
                out.bands[lv][0][i, :k] = band.lower[:k]
                out.bands[lv][1][i, :k] = band.upper[:k]
        quality = getattr(result, "quality", None)  # the #13 quality field, where it exists
        if quality is not None:
            label = str(getattr(quality, "value", quality)).split(":")[0].split(" ")[0]
            out.quality[label] = out.quality.get(label, 0) + 1
        stamps = np.array([ts.timestamp() for ts in result.timestamps[:k]])
        slots = grid.times[j + 1 : j + 1 + k]
        error = float(np.max(np.abs(stamps - slots[: stamps.size])))
        out.date_error_s = error if out.date_error_s is None else max(out.date_error_s, error)
    out.seconds = time.perf_counter() - t0
    return out


# --------------------------------------------------------------------------- anchors


def windows(values: np.ndarray, origins: np.ndarray, horizon: int) -> np.ndarray:
    """``values[j + 1 : j + 1 + H]`` for every origin ``j``."""
    return values[origins[:, None] + 1 + np.arange(horizon)[None, :]]


def naive_anchors(
    filled: np.ndarray, origins: np.ndarray, horizon: int, season: int
) -> dict[str, np.ndarray]:
    steps = np.arange(1, horizon + 1)
    back = season * np.ceil(steps / season).astype(np.int64)  # seasonal naive: same phase, last season
    return {
        "last_value": np.repeat(filled[origins][:, None], horizon, axis=1),
        "seasonal_naive": filled[origins[:, None] + steps[None, :] - back[None, :]],
    }


def stats_anchors(grid: Grid, fit_end: int, origins: np.ndarray, case: Case, python: Path) -> dict[str, Any]:
    """AutoETS and AutoTheta through ``statsforecast_anchors.py`` in the bench venv."""
    with tempfile.TemporaryDirectory() as tmp:
        source, target = Path(tmp) / "in.npz", Path(tmp) / "out.npz"
        np.savez(
            source,
            y=np.concatenate([grid.interpolated(fit_end), grid.interpolated()[fit_end:]]),
            fit_end=fit_end,
            origins=origins,
            horizon=case.horizon,
            season_ets=case.ets_season or case.season,
            season_theta=case.season,
            levels=np.array(LEVELS),
        )
        subprocess.run(
            [
                str(python),
                str(Path(__file__).with_name("statsforecast_anchors.py")),
                str(source),
                str(target),
            ],
            check=True,
        )
        with np.load(target) as f:
            return {key: f[key][()] if f[key].ndim == 0 else f[key] for key in f.files}


# --------------------------------------------------------------------------- scoring


def mae_ratio(pred: np.ndarray, truth: np.ndarray, sn: np.ndarray) -> float | None:
    """MAE of ``pred`` / MAE of seasonal naive, on the pairs where both ``pred`` and ``truth`` exist."""
    pairs = np.isfinite(pred) & np.isfinite(truth)
    if not pairs.any():
        return None
    base = float(np.mean(np.abs(sn[pairs] - truth[pairs])))
    return float(np.mean(np.abs(pred[pairs] - truth[pairs]))) / base if base > 0 else None


def cover(lo: np.ndarray, hi: np.ndarray, truth: np.ndarray) -> float | None:
    pairs = np.isfinite(lo) & np.isfinite(hi) & np.isfinite(truth)
    if not pairs.any():
        return None
    return float(np.mean((truth[pairs] >= lo[pairs]) & (truth[pairs] <= hi[pairs])))


def fmt(value: float | None, spec: str = ".3f") -> str:
    return "n/a" if value is None else format(value, spec)


def pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}"


def duration(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def date_error(seconds: float | None) -> str:
    if seconds is None:
        return "n/a"
    return "0" if seconds < 1e-3 else duration(seconds)


def run_case(case: Case, epochs: int, stats_python: Path | None) -> dict[str, Any]:
    points = sorted(case.load())
    readings = np.array(points, dtype=np.float64)
    grid = make_grid(readings[:, 0], readings[:, 1], case.step)
    n = len(grid)
    first_target = n - round(TEST_FRACTION * n)
    candidates = np.arange(first_target - 1, n - case.horizon)
    origins = candidates[np.isfinite(grid.values[candidates])]
    truth = windows(grid.values, origins, case.horizon)

    outcome, store, job_s = train(case, points, epochs)
    served_f = load_forecaster(store, outcome.artifacts)
    served = serve(served_f, readings, grid, origins, case.horizon)
    network_f = network_forecaster(store, outcome)
    network = serve(network_f, readings, grid, origins, case.horizon, retry_factor=NETWORK_RETRY_FACTOR)
    ctx = network_f.network_context_length
    missing = ~np.isfinite(grid.values)
    gappy_contexts = int(sum(bool(missing[max(0, j - ctx + 1) : j + 1].any()) for j in origins))
    naive = naive_anchors(grid.interpolated(), origins, case.horizon, case.season)
    sn = naive["seasonal_naive"]
    preds: dict[str, np.ndarray] = {"served": served.mean, "network": network.mean, **naive}
    stats: dict[str, Any] = {}
    if stats_python is not None:
        stats = stats_anchors(grid, first_target, origins, case, stats_python)
        preds["ets"], preds["theta"] = stats["ets_mean"], stats["theta_mean"]
    ratios = {name: mae_ratio(pred, truth, sn) for name, pred in preds.items()}
    coverage = {f"served_{lv}": cover(*served.bands[lv], truth) for lv in LEVELS}
    for model in ("ets", "theta"):
        for lv in LEVELS:
            if stats:
                coverage[f"{model}_{lv}"] = cover(stats[f"{model}_lo{lv}"], stats[f"{model}_hi{lv}"], truth)
    pairs = np.isfinite(truth)
    gaps_in_test = int(np.sum(~np.isfinite(grid.values[first_target:])))
    return {
        "name": case.name,
        "source": case.source,
        "what": case.what,
        "cadence": case.cadence,
        "scenario": case.scenario,
        "readings": len(points),
        "slots": n,
        "missing_slots": int(np.sum(~np.isfinite(grid.values))),
        "missing_test_slots": gaps_in_test,
        "lookback": case.lookback,
        "horizon": case.horizon,
        "season": case.season,
        "ets_season": case.ets_season or case.season,
        "job_interval_s": outcome.sampling_interval_seconds,
        "job_season": outcome.baselines.season_length,
        "job_serving": outcome.serving,
        "target_mode": outcome.selection.target_mode,
        "origins": int(origins.size),
        "gappy_contexts": gappy_contexts,
        "network_context": ctx,
        "scored_pairs": int(pairs.sum()),
        "refused": served.refused,
        "first_refusal": served.first_refusal,
        "network_refused": network.refused,
        "network_retried": network.retried,
        "first_network_refusal": network.first_refusal if network.refused else "",
        "quality": served.quality,
        "date_error_s": served.date_error_s,
        "ratios": ratios,
        "sn_mae": float(np.mean(np.abs(sn[pairs] - truth[pairs]))),
        "coverage": coverage,
        "ets_model": str(stats.get("ets_model", "n/a")),
        "theta_model": str(stats.get("theta_model", "n/a")),
        "stats_fit_s": float(stats.get("ets_fit_s", 0.0)) + float(stats.get("theta_fit_s", 0.0)),
        "stats_forward_s": float(stats.get("ets_forward_s", 0.0)) + float(stats.get("theta_forward_s", 0.0)),
        "epochs": outcome.training_history.epochs_trained,
        "train_s": outcome.durations.get("training_seconds", 0.0),
        "job_s": job_s,
        "serve_s": served.seconds + network.seconds,
    }


# --------------------------------------------------------------------------- report


def series_table(rows: list[dict[str, Any]]) -> list[str]:
    head = (
        "| series | source (PyPI) | what | cadence | readings | grid slots | missing slots (in test part) | "
        "origins with a gap in the network's context | scenario |"
    )
    lines = [head, "|" + "---|" * 9]
    for r in rows:
        lines.append(
            f"| {r['name']} | {r['source']} | {r['what']} | {r['cadence']} | {r['readings']} | {r['slots']} | "
            f"{r['missing_slots']} ({r['missing_test_slots']}) | {r['gappy_contexts']} of {r['origins']} "
            f"(last {r['network_context']} slots) | {r['scenario'] or '-'} |"
        )
    return lines


def accuracy_table(rows: list[dict[str, Any]]) -> list[str]:
    head = (
        "| series | L/H | m | job grid | job season | served | origins | refused | "
        "**served** | network | last value | seasonal naive | AutoETS | AutoTheta | SN MAE |"
    )
    lines = [head, "|" + "---|" * 15]
    for r in rows:
        q = r["ratios"]
        lines.append(
            f"| {r['name']} | {r['lookback']}/{r['horizon']} | {r['season']} | "
            f"{duration(r['job_interval_s'])} | {r['job_season']} | {r['job_serving']} | {r['origins']} | "
            f"{r['refused']} | **{fmt(q['served'])}** | {fmt(q['network'])} | {fmt(q['last_value'])} | "
            f"{fmt(q['seasonal_naive'])} | {fmt(q.get('ets'))} | {fmt(q.get('theta'))} | {r['sn_mae']:.4g} |"
        )
    return lines


def serving_table(rows: list[dict[str, Any]]) -> list[str]:
    head = (
        "| series | served 80 % | served 95 % | AutoETS 80/95 % | AutoTheta 80/95 % | network refused (served on retry) | "
        "quality (served) | date error | AutoETS model | AutoTheta model | epochs | train (s) | job (s) | "
        "stats fit + forward (s) |"
    )
    lines = [head, "|" + "---|" * 14]
    for r in rows:
        c = r["coverage"]
        quality = ", ".join(f"{k} {v}" for k, v in sorted(r["quality"].items())) or "n/a"
        lines.append(
            f"| {r['name']} | {pct(c['served_80'])} | {pct(c['served_95'])} | "
            f"{pct(c.get('ets_80'))}/{pct(c.get('ets_95'))} | {pct(c.get('theta_80'))}/{pct(c.get('theta_95'))} | "
            f"{r['network_refused']} ({r['network_retried']}) | {quality} | {date_error(r['date_error_s'])} | "
            f"{r['ets_model']} | {r['theta_model']} | {r['epochs']} | {r['train_s']:.0f} | {r['job_s']:.0f} | "
            f"{r['stats_fit_s']:.1f} + {r['stats_forward_s']:.1f} |"
        )
    return lines


def targets(rows: list[dict[str, Any]]) -> list[str]:
    """The issue's targets, checked on these rows."""

    def best(r: dict[str, Any], *names: str) -> float | None:
        values = [r["ratios"].get(n) for n in names]
        finite = [v for v in values if v is not None and np.isfinite(v)]
        return min(finite) if finite else None

    refused = [f"{r['name']} {r['refused']}/{r['origins']}" for r in rows if r["refused"]]
    worse_base = [
        f"{r['name']} {r['ratios']['served']:.3f} > {best(r, 'last_value', 'seasonal_naive'):.3f}"
        for r in rows
        if r["ratios"]["served"] is not None
        and r["ratios"]["served"] > (best(r, "last_value", "seasonal_naive") or np.inf)
    ]
    with_stats = [r for r in rows if best(r, "ets", "theta") is not None]
    beat_stats = [
        r["name"]
        for r in with_stats
        if r["ratios"]["served"] is not None and r["ratios"]["served"] <= best(r, "ets", "theta")
    ]
    off = []
    for r in rows:
        for lv in LEVELS:
            value = r["coverage"][f"served_{lv}"]
            if value is None:
                off.append(f"{r['name']} {lv} %: n/a")
            elif abs(100 * value - lv) > 5:
                off.append(f"{r['name']} {lv} %: {100 * value:.1f}")
    lines = [
        f"- no refused origin: {'met' if not refused else 'NOT met: ' + ', '.join(refused)}",
        "- served never worse than the better of last value and seasonal naive: "
        + ("met" if not worse_base else "NOT met: " + "; ".join(worse_base)),
        f"- served at least as good as the better of AutoETS and AutoTheta on most series: "
        f"{len(beat_stats)} of {len(with_stats)} ({', '.join(beat_stats) or 'none'})"
        + (" -> met" if with_stats and 2 * len(beat_stats) > len(with_stats) else " -> NOT met"),
        "- served coverage within 5 points of nominal (80 %, 95 %): "
        + ("met" if not off else "NOT met: " + "; ".join(off)),
    ]
    for r in rows:
        if r["first_refusal"]:
            lines.append(f"- first refusal of the served forecast on {r['name']}: {r['first_refusal']}")
        if r["first_network_refusal"]:
            lines.append(f"- first refusal of the network on {r['name']}: {r['first_network_refusal']}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--only", nargs="*", default=None, help="series names to run")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--no-stats", action="store_true", help="skip AutoETS / AutoTheta")
    parser.add_argument("--stats-python", type=Path, default=STATS_PYTHON)
    parser.add_argument("--json", type=Path, default=None, help="also write the rows as JSON here")
    args = parser.parse_args()
    stats_python: Path | None = None if args.no_stats else args.stats_python
    if stats_python is not None and not stats_python.exists():
        raise SystemExit(
            f"{stats_python} not found: run `bash local/bench_venv.sh` (statsforecast for the anchors) "
            "or pass --no-stats"
        )
    rows: list[dict[str, Any]] = []
    total = time.perf_counter()
    for case in CASES:
        if args.only and case.name not in args.only:
            continue
        row = run_case(case, args.epochs, stats_python)
        q = row["ratios"]
        print(
            f"{case.name}: served {fmt(q['served'])} network {fmt(q['network'])} ets {fmt(q.get('ets'))} "
            f"theta {fmt(q.get('theta'))} refused {row['refused']}/{row['origins']} ({row['job_s']:.0f} s)",
            flush=True,
        )
        rows.append(row)
    print("\nSeries\n")
    print("\n".join(series_table(rows)))
    print("\nMAE / seasonal-naive MAE on the same (origin, step) pairs (< 1: better than seasonal naive)\n")
    print("\n".join(accuracy_table(rows)))
    print("\nIntervals (coverage in %), serving and time\n")
    print("\n".join(serving_table(rows)))
    print("\nTargets\n")
    print("\n".join(targets(rows)))
    print(f"\ntotal wall time: {time.perf_counter() - total:.0f} s")
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=2, default=float))


if __name__ == "__main__":
    main()
