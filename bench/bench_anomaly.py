"""Anomaly scans, a labelled benchmark: real series shipped in PyPI packages (the loaders of
``bench/bench_quality.py``), known anomalies injected, the scan's scoring against two simple
baselines.

Method. Each series is put on its benchmark grid (bench_quality's ``make_grid``, missing slots
interpolated) and a model is trained with the production pipeline (:func:`run_training_job`, a
small LSTM) on the first 60 % of the slots. The scan then reads the remaining 40 %, the *scan
part*, with the trained job's served forecaster exactly as a scan's ScoreChunk and Combine steps
do (:class:`ForecastScorer` on the readings with their context before them, the
Benjamini-Hochberg cutoff over the whole part, flagged points merged into events with
``merge_gap``), at the requested false-discovery rate ``q`` (default 0.05).

Injected anomalies, one kind per copy of the scan part (so precision is per kind), ``s`` the
series' robust one-step scale (1.4826 x the MAD of its first differences):

- ``spike``: 6 single readings moved by ±8 s;
- ``level_shift``: 3 stretches of 24 slots shifted by +6 s;
- ``stuck``: 3 stretches of 24 slots frozen at the reading before them (a stuck sensor);
- ``drift``: 2 stretches of 96 slots with a linear drift from 0 to 12 s (then back).

An injected anomaly is *found* when an event (or a baseline's run of flagged points, merged the
same way) overlaps its slots; an event is a *true* one when it overlaps an injected anomaly.
Precision = true events / events, recall = found anomalies / injected anomalies, F1 their
harmonic mean. Baselines on the raw values: a rolling z-score (the previous 48 slots, |z| > 3.5)
and a rolling IQR rule (the previous 48 slots, outside [Q1 - 3 IQR, Q3 + 3 IQR]).

Observed false-discovery rate on clean data: the scan part without injections, in 4 disjoint
windows per series; every flag there is a false discovery of the scan (as far as the data are
clean), so the FDR of one window's scan is 1 if it flags anything and 0 otherwise, and its mean
over the windows is compared with ``q``.

Throughput: a 100,000-point scan (the scorer on a 100,000-reading series, in chunks of 20,000
readings as the deployed Map scores them) in this process: points scored per second.

``--magnitude`` scales every injected anomaly (1: the sizes above).

Usage: python bench/bench_anomaly.py [--only NAME ...] [--epochs N] [--rate Q] [--magnitude M] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
import bench_quality as quality  # noqa: E402  (sets the import path and the log levels)

from chronos_core.domain.anomaly import FlaggedPoint, ScanSettings, fdr_threshold, merge_events  # noqa: E402
from chronos_core.ml.anomaly import ForecastScorer  # noqa: E402
from chronos_core.ml.config import JobIdentity, RnnLayerConfig, TrainingConfig  # noqa: E402
from chronos_core.ml.inference import load_forecaster  # noqa: E402
from chronos_core.ml.pipeline import run_training_job  # noqa: E402

SERIES = ("taylor", "air_temp", "co2")
TRAIN_FRACTION = 0.60
MERGE_GAP = 2
KINDS = ("spike", "level_shift", "stuck", "drift")
WINDOW = 48
Z_LIMIT = 3.5
IQR_K = 3.0
CLEAN_WINDOWS = 4
THROUGHPUT_POINTS = 100_000
CHUNK_POINTS = 20_000


@dataclass(frozen=True)
class Injected:
    kind: str
    start: int  # slot index in the scan part
    length: int


def inject(
    values: np.ndarray, kind: str, scale: float, rng: np.random.Generator, magnitude: float = 1.0
) -> tuple[np.ndarray, list[Injected]]:
    """A copy of ``values`` with anomalies of ``kind`` at random, well-separated places (their
    size times ``magnitude``)."""
    scale *= magnitude
    out = values.copy()
    n = values.size
    count, length = {"spike": (6, 1), "level_shift": (3, 24), "stuck": (3, 24), "drift": (2, 96)}[kind]
    margin = WINDOW + 10
    slots = np.linspace(margin, n - margin - length, count + 2)[1:-1]
    placed = [Injected(kind, int(s + rng.integers(-10, 10)), length) for s in slots]
    for a in placed:
        part = slice(a.start, a.start + a.length)
        if kind == "spike":
            out[part] += scale * 8.0 * rng.choice([-1.0, 1.0])
        elif kind == "level_shift":
            out[part] += scale * 6.0
        elif kind == "stuck":
            out[part] = out[a.start - 1]
        else:
            out[part] += np.linspace(0.0, scale * 12.0, a.length)
    return out, placed


# --------------------------------------------------------------------------- detectors


def scan_flags(
    scorer: ForecastScorer, times: np.ndarray, values: np.ndarray, start: int, rate: float
) -> np.ndarray:
    """Slot indices (of the scan part) the scan flags: scored from ``start`` with what precedes as
    context, the Benjamini-Hochberg cutoff over the part."""
    base = datetime.fromtimestamp(0, tz=UTC)
    points = [(base + timedelta(seconds=float(t)), float(v)) for t, v in zip(times, values, strict=True)]
    scores = scorer.score(
        points, score_from=points[start][0], settings=ScanSettings(false_discovery_rate=rate)
    )
    cutoff = fdr_threshold([c.p_value for c in scores.candidates], scores.points_scored, rate)
    if cutoff is None:
        return np.empty(0, dtype=np.int64)
    flagged = [c for c in scores.candidates if c.p_value <= cutoff]
    index = {round(float(t), 3): i for i, t in enumerate(times)}
    return np.array(sorted(index[round(c.time.timestamp(), 3)] - start for c in flagged), dtype=np.int64)


def rolling_z_flags(history: np.ndarray, part: np.ndarray) -> np.ndarray:
    series = np.concatenate([history[-WINDOW:], part])
    flags = []
    for i in range(part.size):
        window = series[i : i + WINDOW]
        sd = window.std()
        if sd > 0 and abs(series[i + WINDOW] - window.mean()) > Z_LIMIT * sd:
            flags.append(i)
    return np.array(flags, dtype=np.int64)


def iqr_flags(history: np.ndarray, part: np.ndarray) -> np.ndarray:
    series = np.concatenate([history[-WINDOW:], part])
    flags = []
    for i in range(part.size):
        q1, q3 = np.percentile(series[i : i + WINDOW], [25, 75])
        spread = q3 - q1
        x = series[i + WINDOW]
        if x < q1 - IQR_K * spread or x > q3 + IQR_K * spread:
            flags.append(i)
    return np.array(flags, dtype=np.int64)


def events_of(flags: np.ndarray) -> list[tuple[int, int]]:
    """Flagged slots merged into events as the scan merges them (``merge_gap`` slots apart)."""
    if flags.size == 0:
        return []
    base = datetime(2000, 1, 1, tzinfo=UTC)
    points = [
        FlaggedPoint(
            time=base + timedelta(minutes=int(i)), value=1.0, expected=0.0, p_value=1e-9, half_width=0.5
        )
        for i in flags
    ]
    merged = merge_events(points, interval_seconds=60.0, merge_gap=MERGE_GAP, min_points=1)
    return [
        (int((e.start - base).total_seconds() // 60), int((e.end - base).total_seconds() // 60))
        for e in merged
    ]


def score_events(events: list[tuple[int, int]], injected: list[Injected]) -> dict[str, float]:
    def overlaps(event: tuple[int, int], a: Injected) -> bool:
        return event[0] <= a.start + a.length - 1 + MERGE_GAP and event[1] >= a.start - MERGE_GAP

    true = sum(1 for e in events if any(overlaps(e, a) for a in injected))
    found = sum(1 for a in injected if any(overlaps(e, a) for e in events))
    precision = true / len(events) if events else 1.0
    recall = found / len(injected) if injected else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "events": len(events),
        "false": len(events) - true,
    }


# --------------------------------------------------------------------------- one series


def train(
    case: quality.Case, times: np.ndarray, values: np.ndarray, epochs: int
) -> tuple[ForecastScorer, float]:
    config = TrainingConfig(
        rnn_layers=[RnnLayerConfig(units=16, dropout=0.0)],
        lookback_window=case.lookback,
        forecast_horizon=min(case.horizon, 12),
        epochs=epochs,
        early_stopping_patience=min(4, epochs),
        batch_size=64,
        learning_rate=0.003,
        validation_ratio=0.2,
        test_ratio=0.1,
    )
    store = quality.InMemoryArtifactStore()
    t0 = time.perf_counter()
    points = list(zip(times.tolist(), values.tolist(), strict=True))
    outcome = run_training_job(
        points, config, JobIdentity(model_id=case.name, training_job_id="bench"), store
    )
    return ForecastScorer(load_forecaster(store, outcome.artifacts), steps=1), time.perf_counter() - t0


def run_series(
    case: quality.Case, epochs: int, rate: float, seed: int, magnitude: float = 1.0
) -> dict[str, Any]:
    grid = quality.make_grid(*map(np.asarray, zip(*case.load(), strict=True)), case.step)
    values = grid.interpolated()
    times = grid.times
    split = int(len(values) * TRAIN_FRACTION)
    scorer, train_s = train(case, times[:split], values[:split], epochs)
    history, part = values[:split], values[split:]
    scale = 1.4826 * float(np.median(np.abs(np.diff(history) - np.median(np.diff(history)))))
    rng = np.random.default_rng(seed)
    kinds: dict[str, dict[str, dict[str, float]]] = {}
    for kind in KINDS:
        dirty, injected = inject(part, kind, scale, rng, magnitude)
        full = np.concatenate([history, dirty])
        detectors = {
            "scan": scan_flags(scorer, times, full, split, rate),
            "rolling_z": rolling_z_flags(history, dirty),
            "iqr": iqr_flags(history, dirty),
        }
        kinds[kind] = {name: score_events(events_of(flags), injected) for name, flags in detectors.items()}
    clean = []
    bounds = np.linspace(split, len(values), CLEAN_WINDOWS + 1).astype(int)
    for a, b in zip(bounds, bounds[1:], strict=False):
        flagged = scan_flags(scorer, times[:b], values[:b], int(a), rate)
        clean.append(
            {"points": int(b - a), "flagged_points": int(flagged.size), "events": len(events_of(flagged))}
        )
    return {
        "name": case.name,
        "source": case.source,
        "slots": len(values),
        "scanned": len(part),
        "scale": scale,
        "train_s": train_s,
        "kinds": kinds,
        "clean": clean,
        "scorer": scorer,
        "times": times,
        "values": values,
    }


def throughput(scorer: ForecastScorer, times: np.ndarray, values: np.ndarray) -> dict[str, float]:
    """Points per second scoring a 100,000-reading series (the series repeated with noise), in
    chunks of ``CHUNK_POINTS`` with their context, as the Map scores it."""
    step = float(np.median(np.diff(times)))
    reps = THROUGHPUT_POINTS // values.size + 1
    rng = np.random.default_rng(0)
    noise = 0.05 * float(np.std(values))
    series = np.tile(values, reps)[:THROUGHPUT_POINTS] + noise * rng.standard_normal(THROUGHPUT_POINTS)
    base = datetime(2000, 1, 1, tzinfo=UTC)
    points = [(base + timedelta(seconds=step * i), float(v)) for i, v in enumerate(series)]
    context = int(scorer.context_slots * 1.2)
    settings = ScanSettings()
    scored = 0
    t0 = time.perf_counter()
    for start in range(0, THROUGHPUT_POINTS, CHUNK_POINTS):
        chunk = points[max(0, start - context) : start + CHUNK_POINTS]
        scored += scorer.score(chunk, score_from=points[start][0], settings=settings).points_scored
    seconds = time.perf_counter() - t0
    return {"points": float(scored), "seconds": seconds, "points_per_second": scored / seconds}


# --------------------------------------------------------------------------- report


def table(rows: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| series | kind | scan P / R / F1 | rolling z P / R / F1 | IQR P / R / F1 |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        for kind in KINDS:
            cells = [
                "{precision:.2f} / {recall:.2f} / {f1:.2f}".format(**row["kinds"][kind][d])
                for d in ("scan", "rolling_z", "iqr")
            ]
            lines.append(f"| {row['name']} | {kind} | " + " | ".join(cells) + " |")
    lines.append(
        "| **all** | **mean F1** | "
        + " | ".join(f"{mean_f1(rows, d):.2f}" for d in ("scan", "rolling_z", "iqr"))
        + " |"
    )
    return lines


def mean_f1(rows: list[dict[str, Any]], detector: str, kind: str | None = None) -> float:
    values = [r["kinds"][k][detector]["f1"] for r in rows for k in KINDS if kind in (None, k)]
    return float(np.mean(values)) if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--only", nargs="*", default=None)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--rate", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--magnitude", type=float, default=1.0, help="scale every injected anomaly")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    cases = [c for c in quality.CASES if c.name in (args.only or SERIES)]
    rows = []
    for case in cases:
        row = run_series(case, args.epochs, args.rate, args.seed, args.magnitude)
        print(f"{case.name}: {row['scanned']} slots scanned, trained in {row['train_s']:.0f} s", flush=True)
        rows.append(row)
    print(f"\nPrecision / recall / F1 per injected kind (q = {args.rate}, magnitude x{args.magnitude})\n")
    print("\n".join(table(rows)))
    windows = [w for r in rows for w in r["clean"]]
    observed = float(np.mean([1.0 if w["flagged_points"] else 0.0 for w in windows]))
    flagged = sum(w["flagged_points"] for w in windows)
    points = sum(w["points"] for w in windows)
    print(
        f"\nClean series: {len(windows)} scans of {points} points in all, {flagged} points flagged "
        f"({flagged / points:.4%}); observed FDR {observed:.3f} (requested {args.rate})"
    )
    for r in rows:
        print(f"  {r['name']}: flagged points per clean window {[w['flagged_points'] for w in r['clean']]}")
    speed = throughput(rows[0]["scorer"], rows[0]["times"], rows[0]["values"])
    print(
        f"\nThroughput: {speed['points']:.0f} points scored in {speed['seconds']:.2f} s = "
        f"{speed['points_per_second']:,.0f} points/s (in process, chunks of {CHUNK_POINTS})"
    )
    if args.json:
        keep = [{k: v for k, v in r.items() if k not in ("scorer", "times", "values")} for r in rows]
        args.json.write_text(
            json.dumps({"rows": keep, "observed_fdr": observed, "throughput": speed}, indent=2)
        )


if __name__ == "__main__":
    main()
