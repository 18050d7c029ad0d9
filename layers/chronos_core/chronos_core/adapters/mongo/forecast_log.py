"""Published forecasts kept for monitoring (``forecast_log``, ``_id = "<job>|<generated_at>"``,
so a forecast recorded twice is stored once; at most ``keep`` per job), and the finished
forecast runs of a job read from ``forecast_runs``."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pymongo import DESCENDING
from pymongo.collection import Collection
from pymongo.database import Database

from chronos_core.adapters.mongo.client import FORECAST_LOG, FORECAST_RUNS, Document, with_retries
from chronos_core.domain.ids import JobId
from chronos_core.domain.live_metrics import PublishedForecast
from chronos_core.domain.model import iso_z

#: Records of a job between two prunings of its log (per process).
PRUNE_EVERY = 16


class MongoForecastLog:
    """:class:`~chronos_core.application.ports.monitoring.ForecastLog` on ``forecast_log``.

    Reads return at most ``keep`` forecasts per job. Storage is pruned back to ``keep`` on the
    first record of a job in this process and then on every :data:`PRUNE_EVERY`-th: pruning
    reads the job's whole log, which is a collection scan on FerretDB (every forecast of the
    fleet, 18 MB after a 1,000-job soak of ten minutes), so it is not paid on every forecast.
    A job therefore holds at most ``keep`` plus ``PRUNE_EVERY`` per process writing for it.
    """

    def __init__(self, db: Database[Document], *, keep: int = 200, attempts: int = 3) -> None:
        self._log: Collection[Document] = db[FORECAST_LOG]
        self._keep = keep
        self._attempts = attempts
        self._since_pruned: dict[str, int] = {}

    @with_retries
    def record(self, forecast: PublishedForecast) -> None:
        key = f"{forecast.job_id}|{iso_z(forecast.generated_at)}"
        self._log.replace_one({"_id": key}, {"_id": key, **forecast.model_dump()}, upsert=True)
        since = self._since_pruned.get(forecast.job_id)
        if since is not None and since + 1 < PRUNE_EVERY:
            self._since_pruned[forecast.job_id] = since + 1
            return
        stale = list(
            self._log.find({"job_id": forecast.job_id}, {"_id": 1})
            .sort("generated_at", DESCENDING)
            .skip(self._keep)
        )
        if stale:
            self._log.delete_many({"_id": {"$in": [d["_id"] for d in stale]}})
        self._since_pruned[forecast.job_id] = 0

    @with_retries
    def recent(self, job_id: JobId, n: int) -> list[PublishedForecast]:
        limit = min(n, self._keep)
        if limit <= 0:
            return []
        cursor = self._log.find({"job_id": job_id}).sort("generated_at", DESCENDING).limit(limit)
        return [PublishedForecast.model_validate({k: v for k, v in d.items() if k != "_id"}) for d in cursor]

    @with_retries
    def forget(self, job_id: JobId) -> None:
        self._log.delete_many({"job_id": job_id})
        self._since_pruned.pop(job_id, None)

    def recent_many(
        self, wanted: Mapping[JobId, int], newer_than: datetime | None = None
    ) -> dict[JobId, list[PublishedForecast]]:
        """One read of the forecasts generated after ``newer_than`` for every job, then one more
        of the whole (bounded) log of the jobs that had fewer than their ``n`` in it."""
        found: dict[JobId, list[PublishedForecast]] = {job_id: [] for job_id in wanted}
        wanted = {job_id: min(n, self._keep) for job_id, n in wanted.items() if n > 0}
        short = list(wanted)
        if newer_than is not None and short:
            found.update(self._newest(wanted, short, {"$gt": newer_than}))
            short = [job_id for job_id in short if len(found[job_id]) < wanted[job_id]]
        if short:
            found.update(self._newest(wanted, short, None))
        return found

    @with_retries
    def _newest(
        self, wanted: Mapping[JobId, int], job_ids: list[JobId], generated: dict[str, Any] | None
    ) -> dict[JobId, list[PublishedForecast]]:
        """The newest ``wanted[job]`` forecasts of each job (generated in the range, if given)."""
        newest: dict[JobId, list[PublishedForecast]] = {job_id: [] for job_id in job_ids}
        query: dict[str, Any] = {"job_id": {"$in": job_ids}}
        if generated is not None:
            query["generated_at"] = generated
        for doc in self._log.find(query).sort("generated_at", DESCENDING):
            kept = newest[JobId(doc["job_id"])]
            if len(kept) < wanted[JobId(doc["job_id"])]:
                kept.append(PublishedForecast.model_validate({k: v for k, v in doc.items() if k != "_id"}))
        return newest


class MongoForecastRunHistory:
    """:class:`~chronos_core.application.ports.monitoring.ForecastRunHistory` on
    ``forecast_runs`` (written by the forecast worker)."""

    def __init__(self, db: Database[Document], attempts: int = 3) -> None:
        self._runs: Collection[Document] = db[FORECAST_RUNS]
        self._attempts = attempts

    @with_retries
    def recent_statuses(self, job_id: JobId, n: int) -> list[str]:
        query = {"job_id": job_id, "status": {"$in": ["succeeded", "failed"]}}
        cursor = self._runs.find(query, {"status": 1}).sort("slot", DESCENDING).limit(n)
        return [str(d["status"]) for d in cursor]

    def recent_statuses_many(
        self, wanted: Mapping[JobId, int], newer_than: datetime | None = None
    ) -> dict[JobId, list[str]]:
        """One read of the finished runs of every job in slots after ``newer_than``, then one of
        all the finished runs of the jobs that had fewer than their ``n`` there."""
        found: dict[JobId, list[str]] = {job_id: [] for job_id in wanted}
        wanted = {job_id: n for job_id, n in wanted.items() if n > 0}
        short = list(wanted)
        if newer_than is not None and short:
            found.update(self._newest(wanted, short, {"$gt": newer_than}))
            short = [job_id for job_id in short if len(found[job_id]) < wanted[job_id]]
        if short:
            found.update(self._newest(wanted, short, None))
        return found

    @with_retries
    def _newest(
        self, wanted: Mapping[JobId, int], job_ids: list[JobId], slot: dict[str, Any] | None
    ) -> dict[JobId, list[str]]:
        newest: dict[JobId, list[str]] = {job_id: [] for job_id in job_ids}
        query: dict[str, Any] = {"job_id": {"$in": job_ids}, "status": {"$in": ["succeeded", "failed"]}}
        if slot is not None:
            query["slot"] = slot
        for doc in self._runs.find(query, {"job_id": 1, "status": 1, "slot": 1}).sort("slot", DESCENDING):
            kept = newest[JobId(doc["job_id"])]
            if len(kept) < wanted[JobId(doc["job_id"])]:
                kept.append(str(doc["status"]))
        return newest
