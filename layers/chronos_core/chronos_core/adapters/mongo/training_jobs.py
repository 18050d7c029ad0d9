"""The training-job repository: ``training_jobs``, with ``training_chunks`` and ``training_progress``.

The only writer of these three collections. It implements every job port
(:mod:`chronos_core.application.ports.training_jobs`): state transitions, the pipeline's
journal, the trainer's live progress and the recurring-forecast state.

* Writes made for the pipeline are conditional on the job still running, so they are idempotent
  and never revive a finished job.
* Collected chunks are recorded in ``training_chunks``, one document per (job, offset):
  concurrent collectors never write the same document (FerretDB v1 rewrites whole documents, so
  concurrent updates of one job could lose each other), re-recording a chunk replaces its own
  document, and the job's counters are derived from them on read.
* Epochs go to ``training_progress`` (one document per job, written by the trainer only), so the
  job document changes only on state transitions.
* Recurring forecasts keep ``prediction_config``, ``next_prediction_at`` (BSON date, the next
  slot) and ``last_forecast`` on the job document.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from pymongo import ASCENDING, DESCENDING, ReturnDocument, UpdateOne
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from chronos_core.adapters.mongo.client import (
    TRAINING_CHUNKS,
    TRAINING_JOBS,
    TRAINING_PROGRESS,
    TRAINING_TRIGGERS,
    Document,
    with_retries,
)
from chronos_core.adapters.mongo.point_reads import find_by_keys
from chronos_core.application.ports.models import Page
from chronos_core.domain.errors import ConflictError
from chronos_core.domain.evaluation import TrainingResult
from chronos_core.domain.forecasting import (
    DueJob,
    ForecastShard,
    LastForecast,
    PredictionConfig,
    forecast_bucket,
)
from chronos_core.domain.ids import JobId, ModelId
from chronos_core.domain.model import utcnow
from chronos_core.domain.retraining import PromotionVerdict, TrainingHistory, Trigger
from chronos_core.domain.training_job import (
    RUNNING_STATUSES,
    CollectionPlan,
    DatasetSummary,
    EpochRecord,
    ExecutionRef,
    JobError,
    Phase,
    TrainingJob,
    TrainingStatus,
)
from chronos_core.observability import logger

_RUNNING: Final = [s.value for s in RUNNING_STATUSES]
#: A job waiting in the training queue: queued, with a queue entry not yet admitted.
_WAITING: Final = {
    "status": TrainingStatus.QUEUED.value,
    "queue.enqueued_at": {"$ne": None},
    "queue.admitted_at": None,
}
HISTORY_LIMIT: Final = 1000
#: Progress counters that live in ``training_progress``, not on the job.
_LIVE_FIELDS: Final = ("epoch", "epochs", "loss", "val_loss", "training_phase")


def job_to_document(job: TrainingJob) -> Document:
    return job.model_dump(mode="python")


@dataclass
class ChunkTally:
    """A job's chunk records: points per completed chunk offset, and the points of the chunks
    collected in part so far."""

    complete: dict[int, int] = field(default_factory=dict)
    partial_points: int = 0


def document_to_job(doc: Document, chunks: ChunkTally, live: Document | None = None) -> TrainingJob:
    """The job, with ``chunks_done`` / ``points_collected`` from its chunk records and the epoch
    counters and history from its live-progress document."""
    progress = dict(doc.get("progress") or {})
    progress["chunks_done"] = len(chunks.complete)
    progress["points_collected"] = int(sum(chunks.complete.values())) + chunks.partial_points
    history = doc.get("history") or []
    if live:
        progress.update({key: live[key] for key in _LIVE_FIELDS if key in live})
        history = live.get("history") or history
    return TrainingJob.model_validate({**doc, "progress": progress, "history": history})


def _last_forecast_update(job_id: JobId, run: LastForecast) -> tuple[Document, Document]:
    """The filter and update that store ``run`` unless a newer slot is recorded already."""
    return (
        {
            "id": job_id,
            "$or": [
                {"last_forecast.slot": {"$exists": False}},
                {"last_forecast": None},
                {"last_forecast.slot": {"$lte": run.slot}},
            ],
        },
        {"$set": {"last_forecast": run.model_dump()}},
    )


class MongoTrainingJobRepository:
    """Every job port on MongoDB (see the module docstring)."""

    def __init__(self, db: Database[Document], attempts: int = 3) -> None:
        self._jobs: Collection[Document] = db[TRAINING_JOBS]
        self._chunks: Collection[Document] = db[TRAINING_CHUNKS]
        self._live: Collection[Document] = db[TRAINING_PROGRESS]
        self._triggers: Collection[Document] = db[TRAINING_TRIGGERS]
        self._attempts = attempts
        #: ``_id`` of jobs read by :meth:`get_many`, so the forecast path's writes are keyed by it.
        self._oids: dict[str, Any] = {}

    # ------------------------------------------------------------------ reads

    def _job(self, doc: Document | None) -> TrainingJob | None:
        if doc is None:
            return None
        job = document_to_job(
            doc, self._chunk_points([doc["id"]])[doc["id"]], self._live.find_one({"_id": doc["id"]})
        )
        return self._with_attached([job])[0]

    def _chunk_points(self, job_ids: list[str]) -> dict[str, ChunkTally]:
        found = {job_id: ChunkTally() for job_id in job_ids}
        for chunk in self._chunks.find({"job_id": {"$in": job_ids}}):
            tally = found[chunk["job_id"]]
            if chunk.get("complete", True):
                tally.complete[int(chunk["offset"])] = int(chunk["points"])
            else:
                tally.partial_points += int(chunk["points"])
        return found

    @with_retries
    def get(self, job_id: JobId) -> TrainingJob | None:
        return self._job(self._jobs.find_one({"id": job_id}, {"_id": 0}))

    @with_retries
    def status_of(self, job_id: JobId) -> TrainingStatus | None:
        doc = self._jobs.find_one({"id": job_id}, {"_id": 0, "status": 1})
        return TrainingStatus(doc["status"]) if doc else None

    @with_retries
    def list_for_model(self, model_id: ModelId, skip: int, limit: int) -> Page[TrainingJob]:
        query = {"model_id": model_id}
        total = self._jobs.count_documents(query)
        cursor = (
            self._jobs.find(query, {"_id": 0, "history": 0})
            .sort("created_at", DESCENDING)
            .skip(skip)
            .limit(limit)
        )
        docs = list(cursor)
        ids = [d["id"] for d in docs]
        chunks = self._chunk_points(ids)
        live = {d["_id"]: d for d in self._live.find({"_id": {"$in": ids}}, {"history": 0})}
        return Page(
            items=self._with_attached([document_to_job(d, chunks[d["id"]], live.get(d["id"])) for d in docs]),
            total=total,
            skip=skip,
            limit=limit,
        )

    @with_retries
    def has_completed(self, model_id: ModelId) -> bool:
        query = {"model_id": model_id, "status": TrainingStatus.COMPLETED.value}
        return self._jobs.count_documents(query, limit=1) > 0

    @with_retries
    def running_for_model(self, model_id: ModelId) -> TrainingJob | None:
        return self._job(self._jobs.find_one({"model_id": model_id, "status": {"$in": _RUNNING}}, {"_id": 0}))

    @with_retries
    def running_jobs(self, limit: int) -> list[TrainingJob]:
        cursor = (
            self._jobs.find({"status": {"$in": _RUNNING}}, {"_id": 0, "history": 0})
            .sort("updated_at", ASCENDING)
            .limit(limit)
        )
        docs = list(cursor)
        chunks = self._chunk_points([d["id"] for d in docs])
        return [document_to_job(d, chunks[d["id"]]) for d in docs]

    @with_retries
    def ids_for_model(self, model_id: ModelId) -> list[JobId]:
        return [JobId(d["id"]) for d in self._jobs.find({"model_id": model_id}, {"_id": 0, "id": 1})]

    @with_retries
    def completed_chunks(self, job_id: JobId) -> dict[int, int]:
        return self._chunk_points([job_id])[job_id].complete

    # ------------------------------------------------------------------ lifecycle

    @with_retries
    def add(self, job: TrainingJob) -> None:
        try:
            self._jobs.insert_one(job_to_document(job))
        except DuplicateKeyError as exc:
            raise ConflictError(f"Training job {job.id} already exists") from exc

    def attach_execution(self, job_id: JobId, arn: str, started_at: datetime) -> TrainingJob | None:
        return self._update_running(job_id, {"execution.arn": arn, "execution.started_at": started_at})

    @with_retries
    def reopen_for_retry(self, job_id: JobId, execution: ExecutionRef) -> TrainingJob | None:
        doc = self._jobs.find_one_and_update(
            {"id": job_id, "status": TrainingStatus.FAILED.value},
            {
                "$set": {
                    "status": TrainingStatus.PENDING.value,
                    "error": None,
                    "ended_at": None,
                    "execution": execution.model_dump(),
                    "updated_at": utcnow(),
                }
            },
            return_document=ReturnDocument.AFTER,
        )
        return self._job(doc)

    def finish(
        self, job_id: JobId, status: TrainingStatus, *, error: JobError | None = None
    ) -> TrainingJob | None:
        """Move a running job to a final status; open phase timings are closed."""
        doc = self._running_timings(job_id)
        if doc is None:
            return None
        now = utcnow()
        updates: dict[str, Any] = {"status": status.value, "ended_at": now}
        if error is not None:
            updates["error"] = error.model_dump()
        for name, timing in (doc.get("phases") or {}).items():
            if timing.get("started_at") is not None and timing.get("ended_at") is None:
                updates[f"phases.{name}.ended_at"] = now
        return self._update_running(job_id, updates)

    @with_retries
    def delete(self, job_id: JobId) -> bool:
        self._chunks.delete_many({"job_id": job_id})
        self._live.delete_one({"_id": job_id})
        self._triggers.delete_many({"job_id": job_id})
        return self._jobs.delete_one({"id": job_id}).deleted_count == 1

    # ------------------------------------------------------------------ the training queue

    @with_retries
    def waiting_jobs(self, limit: int) -> list[TrainingJob]:
        cursor = (
            self._jobs.find(_WAITING, {"_id": 0, "history": 0})
            .sort("queue.enqueued_at", ASCENDING)
            .limit(limit)
        )
        return [document_to_job(d, ChunkTally()) for d in cursor]

    @with_retries
    def active_jobs(self, limit: int) -> list[TrainingJob]:
        cursor = self._jobs.find({"status": {"$in": _RUNNING}}, {"_id": 0, "history": 0}).limit(limit)
        jobs = [document_to_job(d, ChunkTally()) for d in cursor]
        return [job for job in jobs if not job.waiting_in_queue]

    @with_retries
    def admit(self, job_id: JobId, at: datetime) -> TrainingJob | None:
        doc = self._jobs.find_one_and_update(
            {"id": job_id, **_WAITING},
            {
                "$set": {
                    "status": TrainingStatus.PENDING.value,
                    "queue.admitted_at": at,
                    "updated_at": utcnow(),
                }
            },
            return_document=ReturnDocument.AFTER,
        )
        return self._job(doc)

    @with_retries
    def recent_durations(self, limit: int) -> list[float]:
        cursor = (
            self._jobs.find(
                {"status": TrainingStatus.COMPLETED.value, "started_at": {"$ne": None}},
                {"_id": 0, "started_at": 1, "ended_at": 1},
            )
            .sort("ended_at", DESCENDING)
            .limit(limit)
        )
        return [
            (d["ended_at"] - d["started_at"]).total_seconds()
            for d in cursor
            if d.get("ended_at") is not None and d.get("started_at") is not None
        ]

    @with_retries
    def add_trigger(self, job_id: JobId, trigger: Trigger) -> bool:
        """An attached trigger is its own document in ``training_triggers`` (``_id`` = job and
        key: inserted once), merged into the job when it is read. It is never written onto the
        job document: FerretDB v1 applies an update as read-modify-write of the whole document,
        so a ``$push`` racing the pipeline's writes could undo them (or be undone)."""
        if self.status_of(job_id) not in RUNNING_STATUSES:
            return False
        with contextlib.suppress(DuplicateKeyError):  # the same trigger attached twice is one reason
            self._triggers.insert_one(
                {"_id": f"{job_id}|{trigger.key}", "job_id": job_id, **trigger.model_dump(mode="python")}
            )
        return True

    def _attached(self, job_ids: list[str]) -> dict[str, list[Trigger]]:
        found: dict[str, list[Trigger]] = {job_id: [] for job_id in job_ids}
        for doc in self._triggers.find({"job_id": {"$in": job_ids}}).sort("at", ASCENDING):
            found[doc["job_id"]].append(Trigger.model_validate(doc))
        return found

    def _with_attached(self, jobs: list[TrainingJob]) -> list[TrainingJob]:
        attached = self._attached([j.id for j in jobs])
        out = []
        for job in jobs:
            extra = [t for t in attached[job.id] if all(t.key != own.key for own in job.triggers)]
            out.append(job.model_copy(update={"triggers": [*job.triggers, *extra]}) if extra else job)
        return out

    @with_retries
    def histories(self, model_ids: Sequence[ModelId], since: datetime) -> dict[ModelId, TrainingHistory]:
        ids = list(model_ids)
        running: dict[str, str] = {}
        starts: dict[str, list[datetime]] = {m: [] for m in ids}
        fields = {"_id": 0, "id": 1, "model_id": 1, "status": 1, "created_at": 1}
        for doc in self._jobs.find({"model_id": {"$in": ids}, "status": {"$in": _RUNNING}}, fields):
            running.setdefault(doc["model_id"], doc["id"])
        for doc in self._jobs.find({"model_id": {"$in": ids}, "created_at": {"$gte": since}}, fields):
            starts[doc["model_id"]].append(doc["created_at"])
        completed: dict[str, int] = {}
        cursor = self._jobs.find(
            {"model_id": {"$in": ids}, "status": TrainingStatus.COMPLETED.value},
            {"_id": 0, "model_id": 1, "points_available": 1, "created_at": 1},
        ).sort("created_at", DESCENDING)
        for doc in cursor:
            completed.setdefault(doc["model_id"], int(doc.get("points_available") or 0))
            if len(completed) == len(ids):
                break
        return {
            ModelId(m): TrainingHistory(
                running_job_id=running.get(m), recent_starts=starts[m], last_completed_points=completed.get(m)
            )
            for m in ids
        }

    @with_retries
    def latest_completed(self, model_id: ModelId) -> TrainingJob | None:
        cursor = (
            self._jobs.find({"model_id": model_id, "status": TrainingStatus.COMPLETED.value}, {"_id": 0})
            .sort("created_at", DESCENDING)
            .limit(1)
        )
        docs = list(cursor)
        return self._job(docs[0]) if docs else None

    # ------------------------------------------------------------------ the pipeline's journal

    def start_collection(self, job_id: JobId, plan: CollectionPlan) -> TrainingJob | None:
        return self._enter(
            job_id,
            Phase.COLLECT,
            TrainingStatus.COLLECTING_DATA,
            {
                "progress.chunks_total": plan.chunks_total,
                "progress.points_expected": plan.points_expected,
                "chunk_points": plan.chunk_points,
                "time_window": plan.time_window.model_dump() if plan.time_window else None,
            },
        )

    @with_retries
    def record_chunk(self, job_id: JobId, offset: int, points: int, *, complete: bool = True) -> bool:
        if self._jobs.count_documents({"id": job_id, "status": {"$in": _RUNNING}}, limit=1) == 0:
            return False
        record = {
            "job_id": job_id,
            "offset": offset,
            "points": points,
            "complete": complete,
            "recorded_at": utcnow(),
        }
        try:
            self._chunks.replace_one({"_id": f"{job_id}|{offset}"}, record, upsert=True)
        except DuplicateKeyError:  # a concurrent retry of the same chunk inserted it first
            self._chunks.replace_one({"_id": f"{job_id}|{offset}"}, record)
        return True

    def start_preparation(self, job_id: JobId) -> TrainingJob | None:
        self._leave(job_id, Phase.COLLECT, {})
        return self._enter(job_id, Phase.PREPARE, TrainingStatus.PREPROCESSING)

    def record_dataset(self, job_id: JobId, summary: DatasetSummary) -> TrainingJob | None:
        return self._leave(
            job_id,
            Phase.PREPARE,
            {
                "status": TrainingStatus.QUEUED.value,
                "data_quality": summary.data_quality.model_dump(mode="json"),
                "sampling_interval_seconds": summary.sampling_interval_seconds,
            },
        )

    def start_training(self, job_id: JobId, batch_job_id: str | None) -> TrainingJob | None:
        fields = {"batch_job_id": batch_job_id} if batch_job_id else {}
        return self._enter(job_id, Phase.TRAIN, TrainingStatus.TRAINING, fields)

    def record_result(self, job_id: JobId, result: TrainingResult) -> TrainingJob | None:
        return self._leave(
            job_id,
            Phase.TRAIN,
            {
                "artifacts": result.artifacts.model_dump(),
                "serving": result.serving,
                "selection": result.selection.model_dump(mode="json"),
                "metrics": result.metrics.model_dump(mode="json"),
                "result": result.summary.model_dump(mode="json"),
                "sampling_interval_seconds": result.sampling_interval_seconds,
                "data_quality": result.data_quality.model_dump(mode="json"),
                "comparison": result.comparison.model_dump() if result.comparison else None,
                "warm_start": result.warm_start.model_dump() if result.warm_start else None,
            },
        )

    def start_finalizing(self, job_id: JobId) -> TrainingJob | None:
        return self._enter(job_id, Phase.FINALIZE)

    def record_promotion(
        self, job_id: JobId, verdict: PromotionVerdict, model_version: int | None
    ) -> TrainingJob | None:
        return self._update_running(
            job_id, {"promotion": verdict.model_dump(mode="python"), "model_version": model_version}
        )

    @with_retries
    def _running_timings(self, job_id: JobId) -> Document | None:
        """``status``, ``phases`` and ``started_at`` of a running job (one read), else None."""
        doc = self._jobs.find_one({"id": job_id}, {"_id": 0, "status": 1, "phases": 1, "started_at": 1})
        return doc if doc is not None and doc.get("status") in _RUNNING else None

    def _enter(
        self,
        job_id: JobId,
        phase: Phase,
        status: TrainingStatus | None = None,
        fields: Document | None = None,
    ) -> TrainingJob | None:
        """Mark ``phase`` started (first start wins: a retried step keeps the first timestamp)."""
        now = utcnow()
        doc = self._running_timings(job_id)
        if doc is None:
            return None
        updates: dict[str, Any] = {"phase": phase.value, **(fields or {})}
        if status is not None:
            updates["status"] = status.value
        timing = (doc.get("phases") or {}).get(phase.value) or {}
        if timing.get("started_at") is None:
            updates[f"phases.{phase.value}.started_at"] = now
        updates[f"phases.{phase.value}.ended_at"] = None
        if doc.get("started_at") is None:
            updates["started_at"] = now
        return self._update_running(job_id, updates)

    def _leave(self, job_id: JobId, phase: Phase, fields: Document) -> TrainingJob | None:
        return self._update_running(job_id, {f"phases.{phase.value}.ended_at": utcnow(), **fields})

    @with_retries
    def _update_running(self, job_id: JobId, changes: Document) -> TrainingJob | None:
        """Apply ``$set`` ``changes`` if the job is still running; the updated job, else None."""
        doc = self._jobs.find_one_and_update(
            {"id": job_id, "status": {"$in": _RUNNING}},
            {"$set": {**changes, "updated_at": utcnow()}},
            return_document=ReturnDocument.AFTER,
        )
        return self._job(doc)

    # ------------------------------------------------------------------ live progress

    @with_retries
    def record_epoch(self, job_id: JobId, record: EpochRecord, epochs: int) -> bool:
        if self.status_of(job_id) not in RUNNING_STATUSES:
            return False
        self._live.update_one(
            {"_id": job_id},
            {
                "$set": {
                    "epoch": record.epoch,
                    "epochs": epochs,
                    "loss": record.loss,
                    "val_loss": record.val_loss,
                    "updated_at": utcnow(),
                },
                "$push": {"history": {"$each": [record.model_dump()], "$slice": -HISTORY_LIMIT}},
            },
            upsert=True,
        )
        return True

    @with_retries
    def record_training_phase(self, job_id: JobId, name: str) -> None:
        if self.status_of(job_id) in RUNNING_STATUSES:
            self._live.update_one({"_id": job_id}, {"$set": {"training_phase": name}}, upsert=True)

    # ------------------------------------------------------------------ recurring forecasts

    @with_retries
    def due_for_forecast(
        self, now: datetime, limit: int, shard: ForecastShard | None = None
    ) -> Sequence[DueJob]:
        query: Document = {"prediction_config.enabled": True, "next_prediction_at": {"$lte": now}}
        if shard is not None and shard.count > 1:
            in_shard: Document = {"forecast_bucket": {"$in": shard.buckets()}}
            # Jobs enabled before buckets were stored belong to shard 0.
            query["$or"] = [in_shard, {"forecast_bucket": None}] if shard.index == 0 else [in_shard]
        cursor = (
            self._jobs.find(
                query,
                {"_id": 0, "id": 1, "next_prediction_at": 1, "prediction_config.interval_seconds": 1},
            )
            .sort("next_prediction_at", ASCENDING)
            .limit(limit)
        )
        due: list[DueJob] = []
        for doc in cursor:
            interval = (doc.get("prediction_config") or {}).get("interval_seconds")
            if not interval or float(interval) <= 0 or doc.get("next_prediction_at") is None:
                logger.warning("Enabled job without a usable interval", extra={"job_id": doc.get("id")})
                continue
            due.append(
                DueJob(job_id=doc["id"], slot=doc["next_prediction_at"], interval_seconds=float(interval))
            )
        return due

    @with_retries
    def enable_forecasts(self, job_id: JobId, config: PredictionConfig, first_slot: datetime | None) -> None:
        changes: dict[str, Any] = {
            "prediction_config": config.model_dump(),
            "updated_at": utcnow(),
            "forecast_bucket": forecast_bucket(job_id),
        }
        if first_slot is not None:
            changes["next_prediction_at"] = first_slot
        self._jobs.update_one({"id": job_id}, {"$set": changes})

    @with_retries
    def attach_subscription(self, job_id: JobId, subscription_id: str) -> bool:
        result = self._jobs.update_one(
            {"id": job_id, "prediction_config.subscription_id": None},
            {"$set": {"prediction_config.subscription_id": subscription_id, "updated_at": utcnow()}},
        )
        return result.modified_count == 1

    @with_retries
    def disable_forecasts(self, job_id: JobId) -> None:
        self._jobs.update_one(
            {"id": job_id, "prediction_config": {"$ne": None}},
            {
                "$set": {
                    "prediction_config.enabled": False,
                    "prediction_config.subscription_id": None,
                    "prediction_config.disabled_at": utcnow(),
                    "next_prediction_at": None,
                    "updated_at": utcnow(),
                }
            },
        )

    @with_retries
    def advance_forecast_slot(self, job_id: JobId, slot: datetime, next_slot: datetime) -> bool:
        result = self._jobs.update_one(
            {"id": job_id, "prediction_config.enabled": True, "next_prediction_at": {"$lte": slot}},
            {"$set": {"next_prediction_at": next_slot}},
        )
        return result.modified_count == 1

    @with_retries
    def record_last_forecast(self, job_id: JobId, run: LastForecast) -> None:
        self._jobs.update_one(*_last_forecast_update(job_id, run))

    @with_retries
    def advance_forecast_slots(self, moves: Sequence[tuple[JobId, datetime, datetime]]) -> None:
        if moves:
            self._jobs.bulk_write(
                [
                    UpdateOne(
                        self._by_id(
                            job_id,
                            {
                                "id": job_id,
                                "prediction_config.enabled": True,
                                "next_prediction_at": {"$lte": slot},
                            },
                        ),
                        {"$set": {"next_prediction_at": next_slot}},
                    )
                    for job_id, slot, next_slot in moves
                ],
                ordered=False,
            )

    @with_retries
    def record_last_forecasts(self, runs: Sequence[tuple[JobId, LastForecast]]) -> None:
        if runs:
            self._jobs.bulk_write(
                [
                    UpdateOne(self._by_id(job_id, query), change)
                    for job_id, run in runs
                    for query, change in [_last_forecast_update(job_id, run)]
                ],
                ordered=False,
            )

    @with_retries
    def get_many(self, job_ids: Sequence[JobId]) -> dict[JobId, TrainingJob]:
        """One query whatever the number of jobs: the job documents as stored, without their
        chunk tallies, live progress or attached triggers (the forecast path reads none)."""
        ids = list(dict.fromkeys(job_ids))
        if not ids:
            return {}
        return self._forecast_jobs(self._jobs.find({"id": {"$in": ids}}, {"history": 0}))

    @with_retries
    def get_batch(self, job_ids: Sequence[JobId]) -> dict[JobId, TrainingJob]:
        """By ``_id`` for the jobs this adapter has read before (FerretDB on PostgreSQL answers
        ``_id`` equality from its index and scans the table for any other field), by ``id`` for
        the others."""
        ids = list(dict.fromkeys(job_ids))
        known = [self._oids[job_id] for job_id in ids if job_id in self._oids]
        unknown = [job_id for job_id in ids if job_id not in self._oids]
        found = self._forecast_jobs(find_by_keys(self._jobs, "_id", known, {"history": 0}))
        return found | self._forecast_jobs(find_by_keys(self._jobs, "id", unknown, {"history": 0}))

    def _forecast_jobs(self, docs: Iterable[Document]) -> dict[JobId, TrainingJob]:
        found: dict[JobId, TrainingJob] = {}
        for doc in docs:
            self._oids[doc["id"]] = doc.pop("_id")
            found[JobId(doc["id"])] = document_to_job(doc, ChunkTally())
        return found

    def _by_id(self, job_id: JobId, query: Document) -> Document:
        """``query`` on job ``job_id``, narrowed by its ``_id`` when known (a job's ``_id`` never
        changes): FerretDB v1 pushes ``_id`` equality down to its backend, not ``id``."""
        oid = self._oids.get(job_id)
        return {**query, "_id": oid} if oid is not None else query
