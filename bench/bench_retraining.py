"""Retraining figures: a scheduler tick over 1,000 policies, and warm- versus cold-start
retraining on a real series.

1. **Scheduler tick** (target: at most 5 s for 1,000 policies). 1,000 trained models with a
   policy each (cron every 5 minutes) in a fresh FerretDB/MongoDB database (``MONGODB_URI``, by
   default the local stack's), the real Mongo adapters for models, jobs, policies, runs and the
   leases, in-memory fakes for STH-Comet (a count) and Step Functions (a start). Timed: a tick
   where every fire time is due but the minimum of new data is not met (1,000 STH counts, 1,000
   fire times claimed and recorded ``skipped``); the same minute again (nothing new: every fire
   time already claimed, the common case); with ``--all-train``, the next fire time with every
   policy training (1,000 trainings admitted in one tick: the worst case).
2. **Warm versus cold start** on the Taylor half-hourly electricity demand (``pmdarima``, the
   loader of ``bench_quality.py``): a champion trained on the first 75 % of the series, then the
   challenger retrained on the whole series twice, from scratch (cold) and from the champion's
   weights (warm); the production pipeline (:func:`run_training_job`), same network and epochs.
   Reported: training time (the fit), epochs run (early stopping), the served forecaster's test
   MAE, and the champion scored on the same holdout (the promotion gate's comparison).

Usage: python bench/bench_retraining.py [--policies N] [--epochs N] [--skip-tick] [--skip-warm]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "layers" / "chronos_core"))
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")

from chronos_core.adapters import mongo  # noqa: E402
from chronos_core.adapters.artifact_store import InMemoryArtifactStore  # noqa: E402
from chronos_core.adapters.mongo.client import MODELS  # noqa: E402
from chronos_core.adapters.mongo.models import model_to_document  # noqa: E402
from chronos_core.application.retraining.commands import RetrainTick  # noqa: E402
from chronos_core.application.retraining.scheduler import schedule_retraining  # noqa: E402
from chronos_core.domain.artifacts import ArtifactType, verify  # noqa: E402
from chronos_core.domain.model import ModelDraft, ModelStatus, build_model  # noqa: E402
from chronos_core.domain.retraining import RetrainingPolicy, StoredPolicy  # noqa: E402
from chronos_core.domain.schedule import Schedule  # noqa: E402
from chronos_core.ml.config import JobIdentity, RnnLayerConfig, TrainingConfig  # noqa: E402
from chronos_core.ml.inference import load_forecaster  # noqa: E402

MONGODB_URI = os.environ.get("MONGODB_URI", "mongodb://127.0.0.1:27118/")
SINCE = datetime(2026, 5, 1, 0, 0, 30, tzinfo=UTC)


# --------------------------------------------------------------------------- the tick


def tick_world(db: Any, n: int) -> Any:
    from tests.support.builders import T0, trained_job
    from tests.support.fakes import FakeSeriesSource, fake_services

    models, jobs = mongo.MongoModelRepository(db), mongo.MongoTrainingJobRepository(db)
    policies = mongo.MongoRetrainingPolicies(db)
    data: dict[str, Any] = {}
    model_docs, job_docs = [], []
    for k in range(n):
        model = build_model(
            ModelDraft.model_validate(
                {"model_type": "gru", "rnn_layers": [{"units": 4}], "lookback_window": 24, "forecast_horizon": 6,
                 "feature": "demand", "entity_type": "Meter", "entity_id": f"urn:x:Meter:{k}",
                 "fiware_service": f"tenant{k % 10}"}
            )
        )  # fmt: skip
        champion = trained_job(f"champ-{k}", model.id, created_at=T0, points_available=1200)
        model = model.model_copy(
            update={
                "status": ModelStatus.TRAINED,
                "has_successful_training": True,
                "serving": champion.serving_summary(),
            }
        )
        model_docs.append(model_to_document(model))
        job_docs.append(champion)
        policies.put(
            StoredPolicy(
                model_id=model.id, fiware_service=model.source.fiware_service,
                policy=RetrainingPolicy(schedule=Schedule(cron="*/5 * * * *")),
                schedule_since=SINCE, created_at=SINCE, updated_at=SINCE,
            )
        )  # fmt: skip
        data[f"urn:x:Meter:{k}"] = [(T0 + timedelta(minutes=10 * i), 1.0) for i in range(1500)]
    db[MODELS].insert_many(model_docs)
    for job in job_docs:
        jobs.add(job)
    return fake_services(
        models=models, jobs=jobs, policies=policies, runs=mongo.MongoRetrainingRuns(db),
        events=mongo.MongoModelEvents(db), leases=mongo.MongoLeases(db), series=FakeSeriesSource(data),
    )  # fmt: skip


def set_policies(services: Any, n: int, *, min_new_points: int) -> None:
    for stored in services.policies.scheduled(n):
        policy = stored.policy.model_copy(update={"min_new_points": min_new_points})
        services.policies.put(stored.model_copy(update={"policy": policy}))


def bench_tick(n: int, all_train: bool) -> None:
    client = mongo.create_client(MONGODB_URI, 5000)
    name = f"chronos_bench_retrain_{uuid.uuid4().hex[:8]}"
    db = client[name]
    mongo.ensure_indexes(db)
    try:
        t0 = time.perf_counter()
        services = tick_world(db, n)
        print(f"setup: {n} models, champions and policies in {time.perf_counter() - t0:.1f} s")
        at = datetime(2026, 5, 1, 0, 5, 10, tzinfo=UTC)
        set_policies(services, n, min_new_points=10_000)
        for label, moment in (("every fire time due, too little new data", at), ("same minute again", at)):
            t0 = time.perf_counter()
            result = schedule_retraining(services, RetrainTick(now=moment + timedelta(seconds=5)))
            print(f"tick ({label}): {time.perf_counter() - t0:.2f} s  {result.model_dump()}")
        if all_train:
            set_policies(services, n, min_new_points=0)
            t0 = time.perf_counter()
            result = schedule_retraining(services, RetrainTick(now=at + timedelta(minutes=5)))
            print(
                f"tick (next fire time, all {n} train): {time.perf_counter() - t0:.2f} s  {result.model_dump()}"
            )
    finally:
        client.drop_database(name)
        client.close()


# --------------------------------------------------------------------------- warm vs cold


def bench_warm(epochs: int) -> None:
    import numpy as np

    from bench.bench_quality import taylor
    from chronos_core.ml.pipeline import Champion, WarmStartSource, run_training_job

    points = taylor()
    config = TrainingConfig(
        rnn_layers=[RnnLayerConfig(units=32, dropout=0.0)], lookback_window=96, forecast_horizon=24,
        epochs=epochs, early_stopping_patience=min(5, epochs), batch_size=64, learning_rate=0.003,
        validation_ratio=0.15, test_ratio=0.15,
    )  # fmt: skip
    store = InMemoryArtifactStore()
    cut = int(len(points) * 0.75)
    t0 = time.perf_counter()
    first = run_training_job(
        points[:cut], config, JobIdentity(model_id="taylor", training_job_id="champion"), store
    )
    print(f"champion: {cut} points, {time.perf_counter() - t0:.1f} s, served {first.serving}")
    champion = Champion(forecaster=load_forecaster(store, first.artifacts), job_id="champion")
    keras = verify(store.get(first.artifacts.model), ArtifactType.MODEL).data
    rows = []
    for label, warm in (("cold", None), ("warm", WarmStartSource(job_id="champion", keras_bytes=keras))):
        t0 = time.perf_counter()
        out = run_training_job(
            points, config, JobIdentity(model_id="taylor", training_job_id=label), store,
            champion=champion, warm_start=warm,
        )  # fmt: skip
        total = time.perf_counter() - t0
        fit = out.durations.get("training_seconds", float("nan"))
        comparison = out.comparison
        rows.append((label, total, fit, out, comparison))
        applied = out.warm_start.applied if out.warm_start else False
        print(
            f"{label}: total {total:.1f} s, fit {fit:.1f} s, epochs {out.training_history.epochs_trained}, served {out.serving}, "
            f"network test MAE {out.test_metrics.mae:.1f}, challenger holdout MAE "
            f"{comparison.challenger_mae if comparison else float('nan'):.1f} vs champion "
            f"{comparison.champion_mae if comparison else float('nan'):.1f} ({comparison.windows if comparison else 0} "
            f"windows), warm start applied: {applied}"
        )
    print(
        "| start | fit time | epochs | network test MAE | served holdout MAE | champion on the same holdout |"
    )
    print("|---|---|---|---|---|---|")
    for label, _, fit, out, comparison in rows:
        ch = comparison.challenger_mae if comparison else np.nan
        cp = comparison.champion_mae if comparison else np.nan
        print(
            f"| {label} | {fit:.1f} s | {out.training_history.epochs_trained} | {out.test_metrics.mae:.1f} | {ch:.1f} | {cp:.1f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policies", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--skip-tick", action="store_true")
    parser.add_argument("--all-train", action="store_true", help="also time a tick where every policy trains")
    parser.add_argument("--skip-warm", action="store_true")
    args = parser.parse_args()
    if not args.skip_tick:
        bench_tick(args.policies, args.all_train)
    if not args.skip_warm:
        bench_warm(args.epochs)


if __name__ == "__main__":
    main()
