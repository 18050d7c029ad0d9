"""Recurring-forecast persistence on MongoDB and the SQS queue of claimed slots.

Collections:

* ``training_jobs``: ``prediction_config`` (dict), ``next_prediction_at`` (BSON date, the next
  slot) and ``last_forecast`` (``{slot, started_at, finished_at, status, error, points, attempt,
  final}``) live on the job document.
* ``forecast_runs``: one document per ``(job, slot)`` with ``_id = "<job_id>|<slot ISO-8601 Z>"``
  (the idempotency key), ``status`` running/succeeded/failed and ``lease_until``. Documents are
  small; deleting a job deletes its runs. (No TTL index: FerretDB v1 has none.)
* ``forecast_service_groups``: ``_id = "<service>|<servicepath>"`` → the tenant's random IoT Agent
  API key, created once with an upsert so concurrent enables agree on one key.

* ``forecast_claims``: one *claim ticket* per ``(job, slot)``, ``_id = "<job_id>|<slot ISO-8601
  Z>"`` (the same key as the run), with the ``tick`` that inserted it.

**The claim is an insert.** Winning a slot is inserting its ticket: the unique ``_id`` makes
exactly one of any number of concurrent inserts succeed (``DuplicateKeyError`` for the others) on
every MongoDB-compatible server, and a whole tick's tickets go in one unordered ``insert_many``.
A tick writes no job document: on FerretDB v1 one ``update_many`` over 1,000 job documents takes
about 3-4 s, while inserting 1,000 tickets takes 0.03 s. ``next_prediction_at`` is moved forward
by the forecast run itself (:meth:`MongoForecastSchedule.advance_after`); until then the job
stays due and later ticks find its ticket taken. (A conditional update alone would not do as a
claim on FerretDB v1: measured, 16 threads running the same conditional ``update_one`` got 4
winners, since it reads, then writes by ``_id`` without re-checking the filter.) Tickets older
than a day are pruned by the scheduler (FerretDB v1 has no TTL indexes).

Only features FerretDB v1 implements are used (no projections in findAndModify, no TTL).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any, Final

from pymongo import ASCENDING
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import BulkWriteError, DuplicateKeyError

from chronos_core.adapters.mongo import TRAINING_JOBS, Document, with_retries
from chronos_core.application.forecasts import DueJob, ForecastMessage, RunAdmission, run_key
from chronos_core.domain.model import utcnow
from chronos_core.observability import logger

FORECAST_RUNS: Final = "forecast_runs"
FORECAST_GROUPS: Final = "forecast_service_groups"
FORECAST_CLAIMS: Final = "forecast_claims"
SQS_BATCH: Final = 10
DUPLICATE_KEY: Final = 11000


class MongoForecastSchedule:
    """:class:`~chronos_core.application.forecasts.ForecastSchedule` on MongoDB."""

    def __init__(self, db: Database[Document], attempts: int = 3) -> None:
        self._jobs: Collection[Document] = db[TRAINING_JOBS]
        self._runs: Collection[Document] = db[FORECAST_RUNS]
        self._groups: Collection[Document] = db[FORECAST_GROUPS]
        self._claims: Collection[Document] = db[FORECAST_CLAIMS]
        self._attempts = attempts

    def ensure_indexes(self) -> None:
        """The run and claim-ticket indexes (the job indexes come from ``mongo.INDEXES``)."""
        self._runs.create_index([("job_id", ASCENDING)], name="job_id")
        self._claims.create_index([("claimed_at", ASCENDING)], name="claimed_at")

    # ------------------------------------------------------------------ scheduling

    @with_retries
    def due(self, now: datetime, limit: int) -> list[DueJob]:
        cursor = (
            self._jobs.find(
                {"prediction_config.enabled": True, "next_prediction_at": {"$lte": now}},
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

    def claim_slots(self, items: Sequence[tuple[str, datetime]]) -> list[bool]:
        """Insert the ticket of every ``(job_id, slot)`` in one unordered ``insert_many``; an item
        is won where this call inserted its ticket (a duplicate means another tick has it)."""
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
    def release(self, job_id: str, slot: datetime) -> bool:
        """Drop the ticket of ``(job, slot)`` so that the next tick claims the slot again."""
        return self._claims.delete_one({"_id": run_key(job_id, slot)}).deleted_count == 1

    @with_retries
    def advance_after(self, job_id: str, slot: datetime, next_slot: datetime) -> bool:
        """``next_prediction_at = next_slot`` if the job is enabled and still at or before
        ``slot`` (it only moves forward, and never onto a re-anchored grid)."""
        result = self._jobs.update_one(
            {"id": job_id, "prediction_config.enabled": True, "next_prediction_at": {"$lte": slot}},
            {"$set": {"next_prediction_at": next_slot}},
        )
        return result.modified_count == 1

    @with_retries
    def prune(self, before: datetime) -> int:
        """Delete claim tickets taken before ``before`` and finished runs older than it."""
        claims = self._claims.delete_many({"claimed_at": {"$lt": before}}).deleted_count
        runs = self._runs.delete_many({"finished_at": {"$lt": before}, "status": "succeeded"}).deleted_count
        return claims + runs

    # ------------------------------------------------------------------ configuration

    @with_retries
    def enable(self, job_id: str, config: dict[str, Any], first_slot: datetime | None) -> None:
        changes: dict[str, Any] = {"prediction_config": config, "updated_at": utcnow()}
        if first_slot is not None:
            changes["next_prediction_at"] = first_slot
        self._jobs.update_one({"id": job_id}, {"$set": changes})

    @with_retries
    def set_subscription(self, job_id: str, subscription_id: str) -> bool:
        result = self._jobs.update_one(
            {"id": job_id, "prediction_config.subscription_id": None},
            {"$set": {"prediction_config.subscription_id": subscription_id, "updated_at": utcnow()}},
        )
        return result.modified_count == 1

    @with_retries
    def disable(self, job_id: str) -> None:
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
    def api_key(self, service: str, servicepath: str, generate: Callable[[], str]) -> str:
        key = f"{service}|{servicepath}"
        self._groups.update_one(
            {"_id": key},
            {"$setOnInsert": {"apikey": generate(), "created_at": utcnow()}},
            upsert=True,
        )
        doc = self._groups.find_one({"_id": key})
        assert doc is not None
        return str(doc["apikey"])

    # ------------------------------------------------------------------ runs

    @with_retries
    def begin_run(self, job_id: str, slot: datetime, attempt: int, lease_seconds: float) -> RunAdmission:
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
    def finish_run(self, job_id: str, slot: datetime, *, status: str, error: str | None) -> None:
        self._runs.update_one(
            {"_id": run_key(job_id, slot)},
            {"$set": {"status": status, "error": error, "finished_at": utcnow(), "lease_until": None}},
        )

    @with_retries
    def record_last(self, job_id: str, last_forecast: dict[str, Any]) -> None:
        slot = last_forecast["slot"]
        self._jobs.update_one(
            {
                "id": job_id,
                "$or": [{"last_forecast.slot": {"$exists": False}}, {"last_forecast.slot": {"$lte": slot}}],
            },
            {"$set": {"last_forecast": last_forecast}},
        )

    @with_retries
    def delete_runs(self, job_id: str) -> int:
        return self._runs.delete_many({"job_id": job_id}).deleted_count


class SqsForecastQueue:
    """:class:`~chronos_core.application.forecasts.ForecastQueue` on an SQS queue (batches of 10)."""

    def __init__(
        self, client: Any, queue_url: str, correlation_id: str | None = None, concurrency: int = 8
    ) -> None:
        self._client = client
        self._url = queue_url
        self._correlation_id = correlation_id
        self._concurrency = concurrency

    def send(self, messages: Sequence[ForecastMessage]) -> list[ForecastMessage]:
        """Send in ``SendMessageBatch`` calls of 10, up to ``concurrency`` in flight (boto3
        clients are thread-safe); return the messages that were not accepted."""
        batches = [list(messages[i : i + SQS_BATCH]) for i in range(0, len(messages), SQS_BATCH)]
        if len(batches) <= 1 or self._concurrency <= 1:
            results = [self._send_batch(b) for b in batches]
        else:
            with ThreadPoolExecutor(max_workers=min(self._concurrency, len(batches))) as pool:
                results = list(pool.map(self._send_batch, batches))
        return [m for failed in results for m in failed]

    def _send_batch(self, batch: list[ForecastMessage]) -> list[ForecastMessage]:
        failed: list[ForecastMessage] = []
        if batch:
            entries = [
                {
                    "Id": str(i),
                    "MessageBody": json.dumps(m.to_body()),
                    "MessageAttributes": {
                        "correlation_id": {
                            "DataType": "String",
                            "StringValue": self._correlation_id or str(uuid.uuid4()),
                        }
                    },
                }
                for i, m in enumerate(batch)
            ]
            try:
                response = self._client.send_message_batch(QueueUrl=self._url, Entries=entries)
            except Exception:  # the whole batch failed (throttled, network)
                logger.exception("SendMessageBatch failed", extra={"messages": len(batch)})
                return list(batch)
            failed.extend(batch[int(item["Id"])] for item in response.get("Failed") or [])
        return failed
