"""Stamps of models and jobs for the on-demand forecast cache: one projected ``find_one`` each,
the two of a prediction run concurrently."""

from __future__ import annotations

from typing import Any, Final

from pymongo.collection import Collection
from pymongo.database import Database

from chronos_core.adapters.mongo.client import MODELS, TRAINING_JOBS, Document, with_retries
from chronos_core.adapters.mongo.point_reads import shared_pool
from chronos_core.domain.ids import JobId, ModelId

#: Every model field a prediction reads that can change after creation.
MODEL_STAMP: Final = {"_id": 0, "updated_at": 1, "status": 1, "serving": 1, "source": 1}
#: Every job field a prediction reads that can change after the job completes.
JOB_STAMP: Final = {
    "_id": 0,
    "model_id": 1,
    "status": 1,
    "artifacts": 1,
    "serving": 1,
    "model_version": 1,
    "metrics": 1,
    "updated_at": 1,
}


class MongoPredictionStamps:
    """:class:`~chronos_core.application.ports.forecasting.PredictionStamps` on MongoDB.

    A model or job read once is read again by its ``_id`` (it never changes): FerretDB on
    PostgreSQL answers ``_id`` equality from its index and scans the whole table for ``id``."""

    def __init__(self, db: Database[Document], attempts: int = 3) -> None:
        self._models: Collection[Document] = db[MODELS]
        self._jobs: Collection[Document] = db[TRAINING_JOBS]
        self._attempts = attempts
        self._oids: dict[tuple[str, str], Any] = {}

    def _stamp(self, collection: Collection[Document], key: str, projection: Document) -> object | None:
        oid = self._oids.get((collection.name, key))
        query: Document = {"_id": oid} if oid is not None else {"id": key}
        doc = collection.find_one(query, {**projection, "_id": 1})
        if doc is None:
            self._oids.pop((collection.name, key), None)
            return None
        self._oids[(collection.name, key)] = doc.pop("_id")
        return doc

    @with_retries
    def model_stamp(self, model_id: ModelId) -> object | None:
        return self._stamp(self._models, model_id, MODEL_STAMP)

    @with_retries
    def job_stamp(self, job_id: JobId) -> object | None:
        return self._stamp(self._jobs, job_id, JOB_STAMP)

    def stamps(self, model_id: ModelId, job_id: JobId) -> tuple[object | None, object | None]:
        job = shared_pool().submit(self.job_stamp, job_id)
        return self.model_stamp(model_id), job.result()
