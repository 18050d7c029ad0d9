"""Training throughput and wall time: 10,000-point series, the reference's default configuration, CPU.

Default configuration (chronos-reference.md §1.1): one LSTM layer of 64 units (dropout 0.1), no
dense layers, L = 24, H = 1, batch 32, up to 100 epochs, lr 1e-3, ratios 0.15/0.15, early-stopping
patience 10. The series is a synthetic 5-minute sine with a daily season and noise (the reference's
own measurement used the same kind of series).

Prints one line per model type and a markdown table. Usage:
    python bench/bench_training.py [--models lstm gru] [--points 10000] [--epochs 100]
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
from chronos_core.ml.pipeline import run_training_job  # noqa: E402


def synthetic_series(n: int, seed: int = 0) -> list[tuple[float, float]]:
    rng = np.random.default_rng(seed)
    k = np.arange(n)
    values = 20 + 5 * np.sin(2 * np.pi * k / 288) + np.sin(2 * np.pi * k / 36) + 0.5 * rng.standard_normal(n)
    times = 1_700_000_000.0 + 300.0 * k
    return list(zip(times.tolist(), values.tolist(), strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["lstm", "gru"], choices=["lstm", "gru"])
    parser.add_argument("--points", type=int, default=10_000)
    parser.add_argument("--epochs", type=int, default=100)
    args = parser.parse_args()

    points = synthetic_series(args.points)
    rows = []
    for kind in args.models:
        config = TrainingConfig(model_type=kind, epochs=args.epochs)
        store = InMemoryArtifactStore()
        t0 = time.perf_counter()
        outcome = run_training_job(points, config, JobIdentity(model_id="bench", training_job_id=kind), store)
        wall = time.perf_counter() - t0
        h = outcome.training_history
        per_epoch = h.duration_seconds / h.epochs_trained
        row = {
            "model": kind.upper(),
            "points": args.points,
            "train_windows": outcome.data_quality.train_windows,
            "epochs": h.epochs_trained,
            "stopped_early": h.stopped_early,
            "fit_s": h.duration_seconds,
            "s_per_epoch": per_epoch,
            "windows_per_s": h.windows_per_second or 0.0,
            "job_wall_s": wall,
            "device": h.device,
            "test_mase": outcome.test_metrics.mase,
        }
        rows.append(row)
        print(
            f"{row['model']}: {row['train_windows']} train windows, {row['epochs']} epochs "
            f"(early stop: {row['stopped_early']}), fit {row['fit_s']:.1f} s ({per_epoch:.2f} s/epoch), "
            f"{row['windows_per_s']:.0f} windows/s, whole job {wall:.1f} s on {row['device']}",
            flush=True,
        )
    print()
    print(
        "| model | points | train windows | epochs run | fit (s) | s/epoch | windows/s | whole job (s) "
        "| device |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['model']} | {r['points']} | {r['train_windows']} | {r['epochs']} | {r['fit_s']:.1f} | "
            f"{r['s_per_epoch']:.2f} | {r['windows_per_s']:.0f} | {r['job_wall_s']:.1f} | {r['device']} |"
        )


if __name__ == "__main__":
    main()
