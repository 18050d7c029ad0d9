"""Claims of forecast slots (``forecast_claims``) and forecast runs (``forecast_runs``).

* ``forecast_runs``: one document per ``(job, slot)`` with ``_id = "<job_id>|<slot ISO-8601 Z>"``
  (the idempotency key), ``status`` running/succeeded/failed and ``lease_until``. Deleting a job
  deletes its runs.
* ``forecast_claims``: one *claim ticket* per ``(job, slot)`` (the same key as the run), with the
  ``tick`` that inserted it.

**The claim is an insert.** Winning a slot is inserting its ticket: the unique ``_id`` makes
exactly one of any number of concurrent inserts succeed (``DuplicateKeyError`` for the others) on
every MongoDB-compatible server, and a whole tick's tickets go in one unordered ``insert_many``.
A tick writes no job document: on FerretDB v1 one ``update_many`` over 1,000 job documents takes
about 3-4 s, while inserting 1,000 tickets takes 0.03 s. (A conditional update alone would not do
as a claim on FerretDB v1: measured, 16 threads running the same conditional ``update_one`` got 4
winners, since it reads, then writes by ``_id`` without re-checking the filter.)

FerretDB v1 has no TTL indexes, so tickets and succeeded runs older than a day are pruned here, at
most once per :data:`PRUNE_EVERY_SECONDS` per process, on the way into :meth:`claim_slots`. Only
features FerretDB v1 implements are used (no projections in findAndModify, no TTL).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Final

from pymongo import UpdateOne
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import BulkWriteError, DuplicateKeyError

from chronos_core.adapters.mongo.client import FORECAST_CLAIMS, FORECAST_RUNS, Document, with_retries
from chronos_core.application.ports.forecasting import RunAdmission, RunOutcome
from chronos_core.domain.forecasting import ForecastRunStatus, run_key
from chronos_core.domain.ids import JobId
from chronos_core.domain.model import utcnow

DUPLICATE_KEY: Final = 11000
#: Claim tickets and succeeded runs older than this are pruned.
KEEP_FOR: Final = timedelta(days=1)
PRUNE_EVERY_SECONDS: Final = 600.0


class MongoForecastSchedule:
    """:class:`~chronos_core.application.ports.forecasting.ForecastSchedule` on MongoDB."""

    def __init__(self, db: Database[Document], attempts: int = 3) -> None:
        self._runs: Collection[Document] = db[FORECAST_RUNS]
        self._claims: Collection[Document] = db[FORECAST_CLAIMS]
        self._attempts = attempts
        self._pruned_at = float("-inf")
        self._prune_lock = threading.Lock()

    def claim_slots(self, items: Sequence[tuple[JobId, datetime]]) -> list[bool]:
        """Insert the ticket of every ``(job_id, slot)`` in one unordered ``insert_many``; an item
        is won where this call inserted its ticket (a duplicate means another tick has it)."""
        self._prune_now_and_then()
        if not items:
            return []
        now = utcnow()
        tick = uuid.uuid4().hex
        keys = [run_key(job_id, slot) for job_id, slot in items]
        tickets: list[Document] = [
            {"_id": key, "job_id": job_id, "slot": slot, "tick": tick, "claimed_at": now}
            for key, (job_id, slot) in zip(keys, items, strict=True)
        ]
        lost: set[int] = set()
        try:
            self._insert_tickets(tickets)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(error.get("code") != DUPLICATE_KEY for error in errors):
                raise
            lost = {int(error["index"]) for error in errors}
            # A retried insert_many (connection lost mid-way) meets its own tickets: still won.
            ours = self._tickets_of(tick, [keys[i] for i in lost])
            lost = {i for i in lost if keys[i] not in ours}
        return [i not in lost for i in range(len(items))]

    @with_retries
    def _tickets_of(self, tick: str, ids: list[str]) -> set[str]:
        return {d["_id"] for d in self._claims.find({"_id": {"$in": ids}, "tick": tick}, {"_id": 1})}

    @with_retries
    def _insert_tickets(self, tickets: list[Document]) -> None:
        self._claims.insert_many(tickets, ordered=False)

    @with_retries
    def release(self, job_id: JobId, slot: datetime) -> bool:
        """Drop the ticket of ``(job, slot)`` so that the next tick claims the slot again."""
        return self._claims.delete_one({"_id": run_key(job_id, slot)}).deleted_count == 1

    @with_retries
    def prune(self, before: datetime) -> int:
        """Delete claim tickets taken before ``before`` and succeeded runs that finished before it."""
        claims = self._claims.delete_many({"claimed_at": {"$lt": before}}).deleted_count
        runs = self._runs.delete_many(
            {"finished_at": {"$lt": before}, "status": ForecastRunStatus.SUCCEEDED.value}
        ).deleted_count
        return claims + runs

    def _prune_now_and_then(self) -> None:
        with self._prune_lock:
            if time.monotonic() - self._pruned_at < PRUNE_EVERY_SECONDS:
                return
            self._pruned_at = time.monotonic()
        self.prune(utcnow() - KEEP_FOR)

    # ------------------------------------------------------------------ runs

    @with_retries
    def begin_run(self, job_id: JobId, slot: datetime, attempt: int, lease_seconds: float) -> RunAdmission:
        key = run_key(job_id, slot)
        now = utcnow()
        lease = now + timedelta(seconds=lease_seconds)
        try:
            self._runs.insert_one(
                {
                    "_id": key,
                    "job_id": job_id,
                    "slot": slot,
                    "status": "running",
                    "attempts": 1,
                    "lease_until": lease,
                    "started_at": now,
                }
            )
            return "run"
        except DuplicateKeyError:
            pass
        retaken = self._runs.update_one(
            {
                "_id": key,
                "$or": [{"status": "failed"}, {"status": "running", "lease_until": {"$lt": now}}],
            },
            {"$set": {"status": "running", "lease_until": lease, "started_at": now}, "$inc": {"attempts": 1}},
        )
        if retaken.modified_count == 1:
            return "run"
        doc = self._runs.find_one({"_id": key}) or {}
        return "done" if doc.get("status") == "succeeded" else "busy"

    @with_retries
    def finish_run(
        self, job_id: JobId, slot: datetime, *, status: ForecastRunStatus, error: str | None
    ) -> None:
        self._runs.update_one(
            {"_id": run_key(job_id, slot)},
            {"$set": {"status": status.value, "error": error, "finished_at": utcnow(), "lease_until": None}},
        )

    def begin_runs(
        self, items: Sequence[tuple[JobId, datetime, int]], lease_seconds: float
    ) -> list[RunAdmission]:
        """One unordered ``insert_many`` of the batch's run documents (each carrying this call's
        ``batch`` token, so that a retried insert recognises its own); only the pairs that
        already had a run (a retry, a redelivery) take the one-by-one path of :meth:`begin_run`."""
        admissions: list[RunAdmission] = ["busy"] * len(items)
        first: dict[str, int] = {}
        for i, (job_id, slot, _) in enumerate(items):
            first.setdefault(run_key(job_id, slot), i)  # a later copy of a pair stays busy
        if not first:
            return admissions
        now = utcnow()
        lease = now + timedelta(seconds=lease_seconds)
        batch = uuid.uuid4().hex
        docs: list[Document] = []
        for key, i in first.items():
            job_id, slot, _ = items[i]
            docs.append(
                {
                    "_id": key,
                    "job_id": job_id,
                    "slot": slot,
                    "status": "running",
                    "attempts": 1,
                    "lease_until": lease,
                    "started_at": now,
                    "batch": batch,
                }
            )
        taken = self._insert_runs(docs, batch)
        for key, i in first.items():
            if key not in taken:
                job_id, slot, attempt = items[i]
                admissions[i] = self.begin_run(job_id, slot, attempt, lease_seconds)
            else:
                admissions[i] = "run"
        return admissions

    @with_retries
    def _insert_runs(self, docs: list[Document], batch: str) -> set[str]:
        """Insert the run documents; return the keys this batch holds (inserted now, or by an
        earlier try of the same call)."""
        try:
            self._runs.insert_many(docs, ordered=False)
            return {d["_id"] for d in docs}
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(error.get("code") != DUPLICATE_KEY for error in errors):
                raise
            clashed = [docs[int(error["index"])]["_id"] for error in errors]
        ours = {
            d["_id"]
            for d in self._runs.find({"_id": {"$in": clashed}, "batch": batch, "attempts": 1}, {"_id": 1})
        }
        return {d["_id"] for d in docs if d["_id"] not in clashed or d["_id"] in ours}

    @with_retries
    def finish_runs(self, outcomes: Sequence[RunOutcome]) -> None:
        if not outcomes:
            return
        now = utcnow()
        self._runs.bulk_write(
            [
                UpdateOne(
                    {"_id": run_key(o.job_id, o.slot)},
                    {
                        "$set": {
                            "status": o.status.value,
                            "error": o.error,
                            "finished_at": now,
                            "lease_until": None,
                        }
                    },
                )
                for o in outcomes
            ],
            ordered=False,
        )

    @with_retries
    def delete_runs(self, job_id: JobId) -> int:
        return self._runs.delete_many({"job_id": job_id}).deleted_count
