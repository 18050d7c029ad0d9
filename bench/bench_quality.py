"""Forecast quality on real measured series nobody tuned for: gate, residual mode, intervals.

Every series ships inside a PyPI package (no download at run time):

- ``taylor``: half-hourly electricity demand, England and Wales 2000 (pmdarima).
- ``ppg``: photoplethysmogram (pulse sensor), first 8,000 samples of ``heartpy/data/data3.csv``
  (heartpy==1.2.7); irregular timestamps whose median gap is 16 ms, so the job's grid is 16 ms and
  colliding samples are averaged.
- ``water_flow``: hourly water flow through a pipeline branch, l/s (river==0.26.1,
  ``river/datasets/water-flow.csv``).
- ``air_temp``: hourly dry-bulb air temperature at Greensboro airport, NC (NSRDB TMY3 station
  723170, flagged as measured), last 4,380 hours (pvlib==0.16.1, ``pvlib/data/723170TYA.CSV``).
- ``co2``: weekly atmospheric CO2 at Mauna Loa, 1958-2001 (statsmodels ``datasets.co2``).

Each series goes through the production pipeline (:func:`run_training_job`) with the service's
defaults for everything that matters here (``target_mode=auto``, ``last_value`` normalisation,
detected season, gate, intervals at 80/95 %) and a modest network so the whole run stays at a few
minutes on 2 cores: LSTM(32), up to 30 epochs, early-stopping patience 5, batch 64. The last 20 %
is the test split (validation 15 %); the test split is evaluated from every origin (rolling, stride
one step) with direct H-step forecasts in original units. Ratios are test MAE / seasonal-naive
test MAE.

Usage: python bench/bench_quality.py [--only NAME ...] [--epochs N]
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "layers" / "chronos_core"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")

from chronos_core.adapters.artifact_store import InMemoryArtifactStore  # noqa: E402
from chronos_core.ml.config import JobIdentity, RnnLayerConfig, TrainingConfig  # noqa: E402
from chronos_core.ml.pipeline import TrainingOutcome, run_training_job  # noqa: E402

Points = list[tuple[float, float]]


def _package_dir(name: str) -> Path:
    """The installed package's folder, found without importing it (heartpy imports matplotlib)."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"package {name!r} is not installed (see the module docstring for the pin)")
    return Path(next(iter(spec.submodule_search_locations)))


def _points(times: np.ndarray, values: np.ndarray) -> Points:
    return list(zip(times.tolist(), values.tolist(), strict=True))


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
        month, day, year = (int(x) for x in r["Date (MM/DD/YYYY)"].split("/"))
        hour = int(r["Time (HH:MM)"].split(":")[0])
        stamps.append(datetime(2001, month, day, tzinfo=UTC).timestamp() + 3600.0 * hour)
    return _points(np.array(stamps), np.array([float(r["Dry-bulb (C)"]) for r in rows]))


def co2() -> Points:
    import statsmodels.api as sm

    data = sm.datasets.co2.load_pandas().data["co2"].dropna()
    times = np.array([ts.replace(tzinfo=UTC).timestamp() for ts in data.index.to_pydatetime()])
    return _points(times, data.to_numpy(dtype=np.float64))


@dataclass(frozen=True)
class Case:
    name: str
    source: str
    interval: str
    load: Callable[[], Points]
    lookback: int
    horizon: int


CASES = [
    Case("taylor", "pmdarima 2.1.1", "30 min", taylor, 48, 48),
    Case("ppg", "heartpy 1.2.7", "16 ms", ppg, 64, 32),
    Case("water_flow", "river 0.26.1", "1 h", water_flow, 48, 24),
    Case("air_temp", "pvlib 0.16.1", "1 h", air_temp, 48, 24),
    Case("co2", "statsmodels 0.15.0", "1 week", co2, 52, 13),
]


def fmt(value: float | None, spec: str = ".3f") -> str:
    return "n/a" if value is None else format(value, spec)


def ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b <= 0 else a / b


def run(case: Case, epochs: int) -> tuple[TrainingOutcome, float, int]:
    points = case.load()
    config = TrainingConfig(
        rnn_layers=[RnnLayerConfig(units=32, dropout=0.0)],
        lookback_window=case.lookback,
        forecast_horizon=case.horizon,
        epochs=epochs,
        early_stopping_patience=min(5, epochs),
        batch_size=64,
        learning_rate=0.003,
        validation_ratio=0.15,
        test_ratio=0.20,
    )
    t0 = time.perf_counter()
    outcome = run_training_job(
        points, config, JobIdentity(model_id=case.name, training_job_id="bench"), InMemoryArtifactStore()
    )
    return outcome, time.perf_counter() - t0, len(points)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--only", nargs="*", default=None, help="series names to run")
    parser.add_argument("--epochs", type=int, default=30)
    args = parser.parse_args()
    rows: list[str] = []
    total = time.perf_counter()
    for case in CASES:
        if args.only and case.name not in args.only:
            continue
        outcome, wall, n = run(case, args.epochs)
        sel, base = outcome.selection, outcome.baselines
        sn = base.seasonal_naive.mae
        served = ratio(sel.test_metrics.mae, sn)
        network = ratio(outcome.test_metrics.mae, sn)
        last = ratio(base.last_value.mae, sn)
        val = sel.validation_scores
        line = (
            f"| {case.name} | {case.source} | {case.interval} | {n} | {case.lookback}/{case.horizon} | "
            f"{base.season_length} | {sel.target_mode} | {sel.serving} | **{fmt(served)}** | {fmt(network)} | "
            f"{fmt(last)} | {fmt(ratio(val['network'].mae, val['seasonal_naive'].mae))} | "
            f"{fmt(sel.test_coverage.get('95'))} | {fmt(sel.test_coverage.get('80'))} | "
            f"{outcome.data_quality.test_windows} | {outcome.training_history.epochs_trained} | "
            f"{outcome.durations.get('training_seconds', 0.0):.0f} | {wall:.0f} |"
        )
        print(line, flush=True)
        rows.append(line)
    print()
    print(
        "| series | source (PyPI) | interval | points | L/H | season | target mode | served | "
        "served/SN | network/SN | last value/SN | val network/SN | cover 95 % | cover 80 % | "
        "test windows | epochs | fit (s) | job (s) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for line in rows:
        print(line)
    print(f"\ntotal wall time: {time.perf_counter() - total:.0f} s")


if __name__ == "__main__":
    main()
