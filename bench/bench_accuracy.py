"""Accuracy on the half-hourly electricity demand series (pmdarima.datasets.load_taylor).

4,032 half-hourly points (England and Wales, 5 June - 27 August 2000). The default configuration
(one LSTM(64), L = 24, H = 1, 100 epochs with early stopping, ratios 0.15/0.15) is trained through
the production pipeline; test-split MASE and the skill score against the seasonal-naive forecast
(season detected from the training split's autocorrelation) are printed. ``--extended`` adds a
day-ahead setting (L = 168, H = 48).

Usage: python bench/bench_accuracy.py [--extended]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "layers" / "chronos_core"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")

from chronos_core.adapters.artifact_store import InMemoryArtifactStore  # noqa: E402
from chronos_core.ml.config import JobIdentity, TrainingConfig  # noqa: E402
from chronos_core.ml.pipeline import TrainingOutcome, run_training_job  # noqa: E402


def taylor_points() -> list[tuple[float, float]]:
    from pmdarima.datasets import load_taylor

    values = np.asarray(load_taylor(), dtype=np.float64)
    start = 959_212_800.0  # 2000-06-05T00:00:00Z
    times = start + 1800.0 * np.arange(values.size)
    return list(zip(times.tolist(), values.tolist(), strict=True))


def fmt(value: float | None, spec: str = ".3f") -> str:
    return "null" if value is None else format(value, spec)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--extended", action="store_true", help="also L=168, H=48")
    args = parser.parse_args()
    points = taylor_points()
    settings: list[tuple[str, TrainingConfig]] = [("default (LSTM 64, L=24, H=1)", TrainingConfig())]
    if args.extended:
        settings.append(
            ("day-ahead (LSTM 64, L=168, H=48)", TrainingConfig(lookback_window=168, forecast_horizon=48))
        )
    results: list[tuple[str, TrainingOutcome, float]] = []
    for name, config in settings:
        t0 = time.perf_counter()
        outcome = run_training_job(
            points, config, JobIdentity(model_id="taylor", training_job_id=name), InMemoryArtifactStore()
        )
        wall = time.perf_counter() - t0
        results.append((name, outcome, wall))
        m, b = outcome.test_metrics, outcome.baselines
        print(
            f"{name}: MASE {fmt(m.mase)} (seasonal naive {fmt(b.seasonal_naive.mase)}, last value "
            f"{fmt(b.last_value.mase)}), skill vs seasonal naive {fmt(b.skill_vs_seasonal_naive)}, "
            f"season {b.season_length} ({'detected' if b.season_detected else 'configured'}), "
            f"MAPE {fmt(m.mape, '.2f')} %, Theil U {fmt(m.theil_u)}, "
            f"{outcome.training_history.epochs_trained} epochs, {wall:.0f} s",
            flush=True,
        )
    print()
    print(
        "| setting | test windows | MASE | MASE seasonal naive | MASE last value | skill vs seasonal naive | "
        "MAPE % | Theil's U | season | epochs | wall (s) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, o, wall in results:
        m, b = o.test_metrics, o.baselines
        print(
            f"| {name} | {m.windows} | {fmt(m.mase)} | {fmt(b.seasonal_naive.mase)} | "
            f"{fmt(b.last_value.mase)} | {fmt(b.skill_vs_seasonal_naive)} | {fmt(m.mape, '.2f')} | "
            f"{fmt(m.theil_u)} | {b.season_length} | "
            f"{o.training_history.epochs_trained} | {wall:.0f} |"
        )
    beats = all((o.baselines.skill_vs_seasonal_naive or 0.0) > 0 for _, o, _ in results[:1])
    print(f"\nDefault model beats seasonal naive: {beats}")


if __name__ == "__main__":
    main()
