"""The job, model (and so artifact) references of on-demand forecasts, kept per warm container.

A cached pair is served again only while the stored documents still carry the stamps read when
it was cached (the model's ``updated_at``, serving and status; the job's status, artifacts,
serving, version and metrics: everything a prediction uses), so a retrained, promoted, rolled
back or deleted job or model is read afresh on the next call. A hit costs two small projected
reads instead of the model read plus the four reads of a whole job.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Final

from chronos_core.application.ports.forecasting import PredictionStamps
from chronos_core.application.ports.models import ModelRepository
from chronos_core.application.ports.training_jobs import JobLookup
from chronos_core.domain.auth import Principal
from chronos_core.domain.errors import NotFoundError
from chronos_core.domain.ids import JobId, ModelId
from chronos_core.domain.model import Model
from chronos_core.domain.training_job import TrainingJob

MAX_ENTRIES: Final = 512
_UNREAD: Final = object()  # a stamp the caller did not read


class PredictionRefCache:
    """Models and jobs by id with the stamps they were read under (thread-safe, LRU)."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self._max = max_entries
        self._models: OrderedDict[ModelId, tuple[object, Model]] = OrderedDict()
        self._jobs: OrderedDict[JobId, tuple[object, TrainingJob]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def model(
        self,
        stamps: PredictionStamps,
        models: ModelRepository,
        principal: Principal,
        model_id: ModelId,
        stamp: object | None = _UNREAD,
    ) -> Model:
        """The model, checked against its stored stamp (``stamp`` when the caller read it).
        Raises NotFoundError (also for another tenant's model)."""
        if stamp is _UNREAD:
            stamp = stamps.model_stamp(model_id)
        if stamp is None:
            self._forget(self._models, model_id)
            raise NotFoundError(f"Model {model_id} not found")
        model = self._valid(self._models, model_id, stamp)
        if model is None:
            model = models.get(model_id)
            if model is None:
                raise NotFoundError(f"Model {model_id} not found")
            self._keep(self._models, model_id, stamp, model)
        principal.require_tenant(model.source.fiware_service, resource=f"Model {model_id}")
        return model

    def job(
        self,
        stamps: PredictionStamps,
        jobs: JobLookup,
        model: Model,
        job_id: JobId,
        stamp: object | None = _UNREAD,
    ) -> TrainingJob:
        """The job of ``model``, checked against its stored stamp (``stamp`` when the caller read
        it). Raises NotFoundError."""
        if stamp is _UNREAD:
            stamp = stamps.job_stamp(job_id)
        job = self._valid(self._jobs, job_id, stamp) if stamp is not None else None
        if job is None and stamp is not None:
            job = jobs.get(job_id)
            if job is not None:
                self._keep(self._jobs, job_id, stamp, job)
        if job is None or job.model_id != model.id:
            raise NotFoundError(f"Training job {job_id} not found for model {model.id}")
        return job

    def _valid[K, V](self, cache: OrderedDict[K, tuple[object, V]], key: K, stamp: object) -> V | None:
        with self._lock:
            entry = cache.get(key)
            if entry is not None and entry[0] == stamp:
                cache.move_to_end(key)
                self.hits += 1
                return entry[1]
            self.misses += 1
            return None

    def _keep[K, V](self, cache: OrderedDict[K, tuple[object, V]], key: K, stamp: object, value: V) -> None:
        with self._lock:
            cache[key] = (stamp, value)
            cache.move_to_end(key)
            while len(cache) > self._max:
                cache.popitem(last=False)

    def _forget[K, V](self, cache: OrderedDict[K, tuple[object, V]], key: K) -> None:
        with self._lock:
            cache.pop(key, None)
