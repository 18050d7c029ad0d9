"""Published forecasts kept for monitoring (``forecast_log``, ``_id = "<job>|<generated_at>"``,
so a forecast recorded twice is stored once; at most ``keep`` per job), and the finished
forecast runs of a job read from ``forecast_runs``."""

from __future__ import annotations

from pymongo import DESCENDING
from pymongo.collection import Collection
from pymongo.database import Database

from chronos_core.adapters.mongo.client import FORECAST_LOG, FORECAST_RUNS, Document, with_retries
from chronos_core.domain.ids import JobId
from chronos_core.domain.live_metrics import PublishedForecast
from chronos_core.domain.model import iso_z


class MongoForecastLog:
    """:class:`~chronos_core.application.ports.monitoring.ForecastLog` on ``forecast_log``."""

    def __init__(self, db: Database[Document], *, keep: int = 200, attempts: int = 3) -> None:
        self._log: Collection[Document] = db[FORECAST_LOG]
        self._keep = keep
        self._attempts = attempts

    @with_retries
    def record(self, forecast: PublishedForecast) -> None:
        key = f"{forecast.job_id}|{iso_z(forecast.generated_at)}"
        self._log.replace_one({"_id": key}, {"_id": key, **forecast.model_dump()}, upsert=True)
        stale = list(
            self._log.find({"job_id": forecast.job_id}, {"_id": 1})
            .sort("generated_at", DESCENDING)
            .skip(self._keep)
        )
        if stale:
            self._log.delete_many({"_id": {"$in": [d["_id"] for d in stale]}})

    @with_retries
    def recent(self, job_id: JobId, n: int) -> list[PublishedForecast]:
        cursor = self._log.find({"job_id": job_id}).sort("generated_at", DESCENDING).limit(n)
        return [PublishedForecast.model_validate({k: v for k, v in d.items() if k != "_id"}) for d in cursor]


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
