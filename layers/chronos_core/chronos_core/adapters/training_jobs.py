"""MongoDB repository of training jobs (collection ``training_jobs``).

Writes made by pipeline steps are conditional on the job still running, so they are idempotent
and never revive a finished job. Collected chunks are recorded in ``training_chunks``, one document
per (job, offset): concurrent collectors never write the same document (FerretDB v1 rewrites whole
documents, so concurrent updates of one job could lose each other), re-recording a chunk replaces
its own document, and the job's counters are derived from them on read.
"""

from __future__ import annotations

from typing import Any

from pymongo import DESCENDING, ReturnDocument
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from chronos_core.adapters.mongo import TRAINING_JOBS, Document, with_retries
from chronos_core.application.ports import Page
from chronos_core.domain.errors import ConflictError
from chronos_core.domain.model import utcnow
from chronos_core.domain.training import (
    RUNNING_STATUSES,
    EpochRecord,
    JobError,
    Phase,
    TrainingJob,
    TrainingStatus,
)

_RUNNING = [s.value for s in RUNNING_STATUSES]
TRAINING_CHUNKS = "training_chunks"
#: Live training progress (epochs, losses, history), one document per job, written only by the
#: trainer; the job document itself changes only on state transitions.
TRAINING_PROGRESS = "training_progress"
HISTORY_LIMIT = 1000


def job_to_document(job: TrainingJob) -> Document:
    doc = job.model_dump(mode="python")
    doc["progress"] = job.progress.model_dump()
    return doc


def document_to_job(doc: Document, chunks: dict[int, int], live: Document | None = None) -> TrainingJob:
    """The job, with ``chunks_done`` / ``points_collected`` from its chunk records and the epoch
    counters and history from its live-progress document."""
    progress = dict(doc.get("progress") or {})
    progress["chunks_done"] = len(chunks)
    progress["points_collected"] = int(sum(chunks.values()))
    history = doc.get("history") or []
    if live:
        for key in ("epoch", "epochs", "loss", "val_loss", "training_phase"):
            if key in live:
                progress[key] = live[key]
        history = live.get("history") or history
    return TrainingJob.model_validate({**doc, "progress": progress, "history": history})


class MongoTrainingJobRepository:
    """Persistence of :class:`TrainingJob` documents."""

    def __init__(self, db: Database[Document], attempts: int = 3) -> None:
        self._jobs: Collection[Document] = db[TRAINING_JOBS]
        self._chunks: Collection[Document] = db[TRAINING_CHUNKS]
        self._live: Collection[Document] = db[TRAINING_PROGRESS]
        self._attempts = attempts

    def _job(self, doc: Document | None) -> TrainingJob | None:
        if doc is None:
            return None
        return document_to_job(
            doc, self._chunk_points([doc["id"]])[doc["id"]], self._live.find_one({"_id": doc["id"]})
        )

    def _chunk_points(self, job_ids: list[str]) -> dict[str, dict[int, int]]:
        found: dict[str, dict[int, int]] = {job_id: {} for job_id in job_ids}
        for chunk in self._chunks.find({"job_id": {"$in": job_ids}}):
            found[chunk["job_id"]][int(chunk["offset"])] = int(chunk["points"])
        return found

    @with_retries
    def add(self, job: TrainingJob) -> None:
        try:
            self._jobs.insert_one(job_to_document(job))
        except DuplicateKeyError as exc:
            raise ConflictError(f"Training job {job.id} already exists") from exc

    @with_retries
    def get(self, job_id: str) -> TrainingJob | None:
        return self._job(self._jobs.find_one({"id": job_id}, {"_id": 0}))

    @with_retries
    def list_for_model(self, model_id: str, skip: int, limit: int) -> Page[TrainingJob]:
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
            items=[document_to_job(d, chunks[d["id"]], live.get(d["id"])) for d in docs],
            total=total,
            skip=skip,
            limit=limit,
        )

    @with_retries
    def has_completed(self, model_id: str) -> bool:
        query = {"model_id": model_id, "status": TrainingStatus.COMPLETED.value}
        return self._jobs.count_documents(query, limit=1) > 0

    @with_retries
    def running_for_model(self, model_id: str) -> TrainingJob | None:
        return self._job(self._jobs.find_one({"model_id": model_id, "status": {"$in": _RUNNING}}, {"_id": 0}))

    @with_retries
    def ids_for_model(self, model_id: str) -> list[str]:
        return [d["id"] for d in self._jobs.find({"model_id": model_id}, {"_id": 0, "id": 1})]

    @with_retries
    def update_running(self, job_id: str, changes: dict[str, Any]) -> TrainingJob | None:
        """Apply ``$set`` ``changes`` if the job is still running; the updated job, else None."""
        doc = self._jobs.find_one_and_update(
            {"id": job_id, "status": {"$in": _RUNNING}},
            {"$set": {**changes, "updated_at": utcnow()}},
            return_document=ReturnDocument.AFTER,
        )
        return self._job(doc)

    @with_retries
    def _running_timings(self, job_id: str) -> Document | None:
        """``status``, ``phases`` and ``started_at`` of a running job (one read), else None."""
        doc = self._jobs.find_one({"id": job_id}, {"_id": 0, "status": 1, "phases": 1, "started_at": 1})
        return doc if doc is not None and doc.get("status") in _RUNNING else None

    def enter_phase(
        self, job_id: str, phase: Phase, status: TrainingStatus | None = None, **changes: Any
    ) -> TrainingJob | None:
        """Mark ``phase`` started (first start wins: a retried step keeps the first timestamp)."""
        now = utcnow()
        doc = self._running_timings(job_id)
        if doc is None:
            return None
        updates: dict[str, Any] = {"phase": phase.value, **changes}
        if status is not None:
            updates["status"] = status.value
        timing = (doc.get("phases") or {}).get(phase.value) or {}
        if timing.get("started_at") is None:
            updates[f"phases.{phase.value}.started_at"] = now
        updates[f"phases.{phase.value}.ended_at"] = None
        if doc.get("started_at") is None:
            updates["started_at"] = now
        return self.update_running(job_id, updates)

    def leave_phase(self, job_id: str, phase: Phase, **changes: Any) -> TrainingJob | None:
        return self.update_running(job_id, {f"phases.{phase.value}.ended_at": utcnow(), **changes})

    @with_retries
    def record_chunk(self, job_id: str, offset: int, points: int) -> bool:
        """Record a collected chunk while the job runs (replacing an earlier record of it)."""
        if self._jobs.count_documents({"id": job_id, "status": {"$in": _RUNNING}}, limit=1) == 0:
            return False
        record = {"job_id": job_id, "offset": offset, "points": points, "recorded_at": utcnow()}
        try:
            self._chunks.replace_one({"_id": f"{job_id}|{offset}"}, record, upsert=True)
        except DuplicateKeyError:  # a concurrent retry of the same chunk inserted it first
            self._chunks.replace_one({"_id": f"{job_id}|{offset}"}, record)
        return True

    @with_retries
    def completed_chunks(self, job_id: str) -> dict[int, int]:
        return self._chunk_points([job_id])[job_id]

    @with_retries
    def record_epoch(self, job_id: str, record: EpochRecord, epochs: int) -> bool:
        """Record a finished epoch while the job runs (the trainer is the only writer)."""
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
    def record_training_phase(self, job_id: str, name: str) -> None:
        """The trainer's current sub-phase (preprocessing, training, exporting...)."""
        self._live.update_one({"_id": job_id}, {"$set": {"training_phase": name}}, upsert=True)

    @with_retries
    def status_of(self, job_id: str) -> TrainingStatus | None:
        doc = self._jobs.find_one({"id": job_id}, {"_id": 0, "status": 1})
        return TrainingStatus(doc["status"]) if doc else None

    @with_retries
    def finish(
        self,
        job_id: str,
        status: TrainingStatus,
        *,
        error: JobError | None = None,
        changes: dict[str, Any] | None = None,
    ) -> TrainingJob | None:
        """Move a running job to a final status (completed, failed, cancelled); None if it had
        already finished. Open phase timings are closed."""
        doc = self._running_timings(job_id)
        if doc is None:
            return None
        now = utcnow()
        updates: dict[str, Any] = {"status": status.value, "ended_at": now, **(changes or {})}
        if error is not None:
            updates["error"] = error.model_dump()
        for name, timing in (doc.get("phases") or {}).items():
            if timing.get("started_at") is not None and timing.get("ended_at") is None:
                updates[f"phases.{name}.ended_at"] = now
        return self.update_running(job_id, updates)

    @with_retries
    def reopen_for_retry(self, job_id: str, execution: dict[str, Any]) -> TrainingJob | None:
        """A failed job becomes pending again under a new execution; error cleared."""
        doc = self._jobs.find_one_and_update(
            {"id": job_id, "status": TrainingStatus.FAILED.value},
            {
                "$set": {
                    "status": TrainingStatus.PENDING.value,
                    "error": None,
                    "ended_at": None,
                    "execution": execution,
                    "updated_at": utcnow(),
                }
            },
            return_document=ReturnDocument.AFTER,
        )
        return self._job(doc)

    @with_retries
    def delete(self, job_id: str) -> bool:
        self._chunks.delete_many({"job_id": job_id})
        self._live.delete_one({"_id": job_id})
        return self._jobs.delete_one({"id": job_id}).deleted_count == 1
