"""In-memory fakes of every port, and :func:`fake_services`: the bootstrap's container built
with them.

Each fake keeps the contract its port documents (conditional writes on running jobs, one winner
per claim, runs admitted once per slot...), so a use case tested against the fakes behaves the
same against the real adapters; ``tests/integration`` checks the adapters against FerretDB.
"""

from __future__ import annotations

import itertools
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from chronos_core.adapters.artifact_store import InMemoryArtifactStore
from chronos_core.application.ports.forecasting import RunAdmission, RunOutcome
from chronos_core.application.ports.health import DependencyCheck
from chronos_core.application.ports.models import ModelFilter, Page
from chronos_core.application.ports.monitoring import AlertFilter, EvaluationRecord, RuleFilter
from chronos_core.application.ports.pipeline import (
    CollectedPart,
    ExecutionState,
    ProgressReporter,
    RawPoint,
    TimedPoint,
    TrainOptions,
)
from chronos_core.application.system.health import HealthCache
from chronos_core.bootstrap import Services, bootstrap
from chronos_core.config import Settings
from chronos_core.domain.artifacts import ArtifactRefs
from chronos_core.domain.errors import ConflictError, TrainingCancelledError, UpstreamError
from chronos_core.domain.evaluation import TrainingResult
from chronos_core.domain.fiware import FiwareTenant, SeriesRef
from chronos_core.domain.forecasting import (
    DueJob,
    ForecastMessage,
    ForecastQuality,
    ForecastResult,
    ForecastRunStatus,
    ForecastSeries,
    ForecastShard,
    LastForecast,
    PredictionConfig,
    run_key,
)
from chronos_core.domain.ids import JobId, ModelId
from chronos_core.domain.live_metrics import PublishedForecast
from chronos_core.domain.model import FiwareSource, Model, ModelStatus, ServingSummary, utcnow
from chronos_core.domain.monitoring import (
    Alert,
    AlertEvent,
    AlertRule,
    AlertStatus,
    RuleState,
    RuleType,
    Silence,
)
from chronos_core.domain.notifications import (
    Channel,
    ChannelStats,
    ChannelStatus,
    DeliveryOutcome,
    Notification,
    NotificationStatus,
)
from chronos_core.domain.retraining import ModelEvent, PromotionVerdict, RetrainingRun, StoredPolicy, Trigger
from chronos_core.domain.retraining import TrainingHistory as TriggerHistory
from chronos_core.domain.training_job import (
    RUNNING_STATUSES,
    ChunkSpec,
    CollectionPlan,
    DatasetSummary,
    EpochProgress,
    EpochRecord,
    ExecutionRef,
    JobError,
    Phase,
    PhaseTiming,
    TimeWindow,
    TrainingJob,
    TrainingStatus,
)

# ---------------------------------------------------------------------------------- models


class InMemoryModelRepository:
    """ModelRepository: models by id, and the one-training-at-a-time claim."""

    def __init__(self, *models: Model) -> None:
        self.models: dict[str, Model] = {m.id: m for m in models}
        self.claims: set[str] = set()  # deletions in progress
        self.versions: dict[str, int] = {}
        self._lock = threading.Lock()

    def add(self, model: Model) -> None:
        with self._lock:
            if model.id in self.models:
                raise ConflictError(f"Model {model.id} already exists")
            self.models[model.id] = model

    def get(self, model_id: ModelId) -> Model | None:
        return self.models.get(model_id)

    def list(self, filters: ModelFilter, skip: int, limit: int) -> Page[Model]:
        found = [
            m
            for m in self.models.values()
            if (filters.services is None or m.source.fiware_service in filters.services)
            and (filters.model_type is None or m.model_type == filters.model_type)
            and (filters.status is None or m.status == filters.status)
            and (filters.entity_id is None or m.source.entity_id == filters.entity_id)
            and (filters.feature is None or m.source.feature == filters.feature)
        ]
        found.sort(key=lambda m: (-m.created_at.timestamp(), m.id))
        return Page(items=found[skip : skip + limit], total=len(found), skip=skip, limit=limit)

    def replace_if_status(self, model: Model, expected_status: ModelStatus) -> bool:
        with self._lock:
            current = self.models.get(model.id)
            if current is None or current.status != expected_status:
                return False
            self.models[model.id] = model
            return True

    def delete(self, model_id: ModelId) -> bool:
        deleted = self.models.pop(model_id, None) is not None
        self.claims.discard(model_id)
        return deleted

    def claim_for_training(self, model_id: ModelId) -> bool:
        with self._lock:
            model = self.models.get(model_id)
            if model is None or model.status == ModelStatus.TRAINING or model_id in self.claims:
                return False
            self.models[model_id] = model.model_copy(update={"status": ModelStatus.TRAINING})
            return True

    def claim_for_deletion(self, model_id: ModelId) -> bool:
        with self._lock:
            model = self.models.get(model_id)
            if model is None or model.status == ModelStatus.TRAINING or model_id in self.claims:
                return False
            self.claims.add(model_id)
            return True

    def release_claim(self, model_id: ModelId) -> None:
        self.claims.discard(model_id)

    def release_after_training(
        self, model_id: ModelId, *, succeeded: bool, serving: ServingSummary | None = None
    ) -> None:
        with self._lock:
            model = self.models.get(model_id)
            if model is None:
                return
            if succeeded:
                update: dict[str, Any] = {"status": ModelStatus.TRAINED, "has_successful_training": True}
                if serving is not None:
                    update["serving"] = serving
            elif model.status == ModelStatus.TRAINING:
                update = {
                    "status": ModelStatus.TRAINED if model.has_successful_training else ModelStatus.DRAFT
                }
            else:
                return
            self.models[model_id] = model.model_copy(update=update)

    def reset_training_state(self, model_id: ModelId, *, has_success: bool) -> None:
        model = self.models.get(model_id)
        if model is None or model.status == ModelStatus.TRAINING:
            return
        update: dict[str, Any] = {
            "status": ModelStatus.TRAINED if has_success else ModelStatus.DRAFT,
            "has_successful_training": has_success,
        }
        if not has_success:
            update["serving"] = None
        self.models[model_id] = model.model_copy(update=update)

    def get_many(self, model_ids: Sequence[ModelId]) -> Sequence[Model]:
        return [m for i in model_ids if (m := self.models.get(i)) is not None]

    def get_batch(self, model_ids: Sequence[ModelId]) -> Sequence[Model]:
        return self.get_many(list(dict.fromkeys(model_ids)))

    def set_champion(
        self,
        model_id: ModelId,
        serving: ServingSummary | None,
        *,
        previous_champions: Sequence[str],
        pinned: bool,
        expected: str | None,
    ) -> bool:
        with self._lock:
            model = self.models.get(model_id)
            if model is None or model.champion_job_id != expected:
                return False
            self.models[model_id] = model.model_copy(
                update={
                    "serving": serving,
                    "previous_champions": list(previous_champions)[-20:],
                    "champion_pinned": pinned,
                }
            )
            return True

    def next_version(self, model_id: ModelId) -> int:
        with self._lock:
            self.versions[model_id] = self.versions.get(model_id, 0) + 1
            return self.versions[model_id]


# ---------------------------------------------------------------------------------- jobs


class InMemoryTrainingJobs:
    """Every job port: lifecycle, the pipeline journal, live progress, recurring forecasts.
    Writes for the pipeline apply only while the job runs, as the Mongo adapter's do."""

    def __init__(self, *jobs: TrainingJob) -> None:
        self.jobs: dict[str, TrainingJob] = {j.id: j for j in jobs}
        self.chunks: dict[str, dict[int, int]] = {}
        #: Points of chunks collected in part, per job and chunk offset.
        self.partial_chunks: dict[str, dict[int, int]] = {}
        self.live: dict[str, dict[str, Any]] = {}
        #: (status of last_forecast, next_prediction_at) at each record_last_forecast call.
        self.next_seen_by_record: list[tuple[str, datetime | None]] = []
        self.get_many_calls = 0
        self.due_reads = 0
        self._lock = threading.RLock()

    # reads
    def get(self, job_id: JobId) -> TrainingJob | None:
        job = self.jobs.get(job_id)
        if job is None:
            return None
        chunks = self.chunks.get(job_id, {})
        live = self.live.get(job_id, {})
        progress = job.progress.model_copy(
            update={
                "chunks_done": len(chunks),
                "points_collected": sum(chunks.values()) + sum(self.partial_chunks.get(job_id, {}).values()),
                **{k: v for k, v in live.items() if k != "history"},
            }
        )
        return job.model_copy(update={"progress": progress, "history": live.get("history", job.history)})

    def status_of(self, job_id: JobId) -> TrainingStatus | None:
        job = self.jobs.get(job_id)
        return job.status if job else None

    def list_for_model(self, model_id: ModelId, skip: int, limit: int) -> Page[TrainingJob]:
        found = sorted(
            (j for j in self.jobs.values() if j.model_id == model_id),
            key=lambda j: j.created_at,
            reverse=True,
        )
        items = [self.get(j.id) for j in found[skip : skip + limit]]
        return Page(items=[j for j in items if j], total=len(found), skip=skip, limit=limit)

    def has_completed(self, model_id: ModelId) -> bool:
        return any(
            j.model_id == model_id and j.status == TrainingStatus.COMPLETED for j in self.jobs.values()
        )

    def running_for_model(self, model_id: ModelId) -> TrainingJob | None:
        job = next((j for j in self.jobs.values() if j.model_id == model_id and j.status.running), None)
        return self.get(job.id) if job else None

    def ids_for_model(self, model_id: ModelId) -> list[JobId]:
        return [j.id for j in self.jobs.values() if j.model_id == model_id]

    def running_jobs(self, limit: int) -> list[TrainingJob]:
        running = sorted((j for j in self.jobs.values() if j.status.running), key=lambda j: j.updated_at)
        return [job for j in running[:limit] if (job := self.get(j.id)) is not None]

    def completed_chunks(self, job_id: JobId) -> dict[int, int]:
        return dict(self.chunks.get(job_id, {}))

    # lifecycle
    def add(self, job: TrainingJob) -> None:
        with self._lock:
            if job.id in self.jobs:
                raise ConflictError(f"Training job {job.id} already exists")
            self.jobs[job.id] = job

    def _update_running(self, job_id: JobId, **changes: Any) -> TrainingJob | None:
        with self._lock:
            job = self.jobs.get(job_id)
            if job is None or job.status not in RUNNING_STATUSES:
                return None
            self.jobs[job_id] = job.model_copy(update={**changes, "updated_at": utcnow()})
            return self.get(job_id)

    def attach_execution(self, job_id: JobId, arn: str, started_at: datetime) -> TrainingJob | None:
        job = self.jobs.get(job_id)
        if job is None or job.execution is None:
            return None
        return self._update_running(
            job_id, execution=job.execution.model_copy(update={"arn": arn, "started_at": started_at})
        )

    def reopen_for_retry(self, job_id: JobId, execution: ExecutionRef) -> TrainingJob | None:
        with self._lock:
            job = self.jobs.get(job_id)
            if job is None or job.status != TrainingStatus.FAILED:
                return None
            self.jobs[job_id] = job.model_copy(
                update={
                    "status": TrainingStatus.PENDING,
                    "error": None,
                    "ended_at": None,
                    "execution": execution,
                }
            )
            return self.get(job_id)

    def finish(
        self, job_id: JobId, status: TrainingStatus, *, error: JobError | None = None
    ) -> TrainingJob | None:
        with self._lock:
            job = self.jobs.get(job_id)
            if job is None or job.status not in RUNNING_STATUSES:
                return None
            now = utcnow()
            phases = {
                name: t.model_copy(update={"ended_at": now}) if t.started_at and not t.ended_at else t
                for name, t in job.phases.items()
            }
            changes: dict[str, Any] = {"status": status, "ended_at": now, "phases": phases}
            if error is not None:
                changes["error"] = error
            return self._update_running(job_id, **changes)

    def delete(self, job_id: JobId) -> bool:
        self.chunks.pop(job_id, None)
        self.partial_chunks.pop(job_id, None)
        self.live.pop(job_id, None)
        return self.jobs.pop(job_id, None) is not None

    # the pipeline's journal
    def _enter(
        self, job_id: JobId, phase: Phase, status: TrainingStatus | None = None, **fields: Any
    ) -> TrainingJob | None:
        with self._lock:
            job = self.jobs.get(job_id)
            if job is None or job.status not in RUNNING_STATUSES:
                return None
            now = utcnow()
            timing = job.phases.get(phase.value) or PhaseTiming()
            phases = {**job.phases, phase.value: PhaseTiming(started_at=timing.started_at or now)}
            changes: dict[str, Any] = {"phase": phase, "phases": phases, **fields}
            if status is not None:
                changes["status"] = status
            if job.started_at is None:
                changes["started_at"] = now
            return self._update_running(job_id, **changes)

    def _leave(self, job_id: JobId, phase: Phase, **fields: Any) -> TrainingJob | None:
        with self._lock:
            job = self.jobs.get(job_id)
            if job is None:
                return None
            timing = job.phases.get(phase.value) or PhaseTiming()
            phases = {**job.phases, phase.value: timing.model_copy(update={"ended_at": utcnow()})}
            return self._update_running(job_id, phases=phases, **fields)

    def start_collection(self, job_id: JobId, plan: CollectionPlan) -> TrainingJob | None:
        job = self.jobs.get(job_id)
        if job is None:
            return None
        progress = job.progress.model_copy(
            update={"chunks_total": plan.chunks_total, "points_expected": plan.points_expected}
        )
        return self._enter(
            job_id,
            Phase.COLLECT,
            TrainingStatus.COLLECTING_DATA,
            progress=progress,
            chunk_points=plan.chunk_points,
            time_window=plan.time_window,
        )

    def record_chunk(self, job_id: JobId, offset: int, points: int, *, complete: bool = True) -> bool:
        if self.status_of(job_id) not in RUNNING_STATUSES:
            return False
        partial = self.partial_chunks.setdefault(job_id, {})
        if complete:
            partial.pop(offset, None)
            self.chunks.setdefault(job_id, {})[offset] = points
        else:
            partial[offset] = points
        return True

    def start_preparation(self, job_id: JobId) -> TrainingJob | None:
        self._leave(job_id, Phase.COLLECT)
        return self._enter(job_id, Phase.PREPARE, TrainingStatus.PREPROCESSING)

    def record_dataset(self, job_id: JobId, summary: DatasetSummary) -> TrainingJob | None:
        return self._leave(
            job_id,
            Phase.PREPARE,
            status=TrainingStatus.QUEUED,
            data_quality=summary.data_quality,
            sampling_interval_seconds=summary.sampling_interval_seconds,
        )

    def start_training(self, job_id: JobId, batch_job_id: str | None) -> TrainingJob | None:
        fields = {"batch_job_id": batch_job_id} if batch_job_id else {}
        return self._enter(job_id, Phase.TRAIN, TrainingStatus.TRAINING, **fields)

    def record_result(self, job_id: JobId, result: TrainingResult) -> TrainingJob | None:
        return self._leave(
            job_id,
            Phase.TRAIN,
            artifacts=result.artifacts,
            serving=result.serving,
            selection=result.selection,
            metrics=result.metrics,
            result=result.summary,
            sampling_interval_seconds=result.sampling_interval_seconds,
            data_quality=result.data_quality,
            comparison=result.comparison,
            warm_start=result.warm_start,
        )

    def start_finalizing(self, job_id: JobId) -> TrainingJob | None:
        return self._enter(job_id, Phase.FINALIZE)

    def record_promotion(
        self, job_id: JobId, verdict: PromotionVerdict, model_version: int | None
    ) -> TrainingJob | None:
        return self._update_running(job_id, promotion=verdict, model_version=model_version)

    # the training queue and the retraining triggers
    def waiting_jobs(self, limit: int) -> list[TrainingJob]:
        waiting = sorted(
            (j for j in self.jobs.values() if j.waiting_in_queue),
            key=lambda j: (j.queue.enqueued_at if j.queue else j.created_at, j.created_at),
        )
        return [job for j in waiting[:limit] if (job := self.get(j.id)) is not None]

    def active_jobs(self, limit: int) -> list[TrainingJob]:
        active = [j for j in self.jobs.values() if j.status.running and not j.waiting_in_queue]
        return [job for j in active[:limit] if (job := self.get(j.id)) is not None]

    def admit(self, job_id: JobId, at: datetime) -> TrainingJob | None:
        with self._lock:
            job = self.jobs.get(job_id)
            if job is None or not job.waiting_in_queue or job.queue is None:
                return None
            self.jobs[job_id] = job.model_copy(
                update={
                    "status": TrainingStatus.PENDING,
                    "queue": job.queue.model_copy(update={"admitted_at": at}),
                    "updated_at": utcnow(),
                }
            )
            return self.get(job_id)

    def recent_durations(self, limit: int) -> list[float]:
        done = sorted(
            (
                j
                for j in self.jobs.values()
                if j.status == TrainingStatus.COMPLETED and j.started_at and j.ended_at
            ),
            key=lambda j: j.ended_at or j.created_at,
            reverse=True,
        )
        return [
            ((j.ended_at or j.created_at) - (j.started_at or j.created_at)).total_seconds()
            for j in done[:limit]
        ]

    def add_trigger(self, job_id: JobId, trigger: Trigger) -> bool:
        with self._lock:
            job = self.jobs.get(job_id)
            if job is None or not job.status.running:
                return False
            if all(t.key != trigger.key for t in job.triggers):
                self.jobs[job_id] = job.model_copy(update={"triggers": [*job.triggers, trigger]})
            return True

    def histories(self, model_ids: Sequence[ModelId], since: datetime) -> dict[ModelId, TriggerHistory]:
        out: dict[ModelId, TriggerHistory] = {}
        for model_id in model_ids:
            jobs = [j for j in self.jobs.values() if j.model_id == model_id]
            running = next((j.id for j in jobs if j.status.running), None)
            completed = sorted(
                (j for j in jobs if j.status == TrainingStatus.COMPLETED), key=lambda j: j.created_at
            )
            out[model_id] = TriggerHistory(
                running_job_id=running,
                recent_starts=[j.created_at for j in jobs if j.created_at >= since],
                last_completed_points=completed[-1].points_available if completed else None,
            )
        return out

    def latest_completed(self, model_id: ModelId) -> TrainingJob | None:
        completed = sorted(
            (
                j
                for j in self.jobs.values()
                if j.model_id == model_id and j.status == TrainingStatus.COMPLETED
            ),
            key=lambda j: j.created_at,
        )
        return self.get(completed[-1].id) if completed else None

    # live progress
    def record_training_phase(self, job_id: JobId, name: str) -> None:
        if self.status_of(job_id) in RUNNING_STATUSES:
            self.live.setdefault(job_id, {})["training_phase"] = name

    def record_epoch(self, job_id: JobId, record: EpochRecord, epochs: int) -> bool:
        if self.status_of(job_id) not in RUNNING_STATUSES:
            return False
        live = self.live.setdefault(job_id, {})
        live.update(epoch=record.epoch, epochs=epochs, loss=record.loss, val_loss=record.val_loss)
        live.setdefault("history", []).append(record)
        return True

    # recurring forecasts
    def get_batch(self, job_ids: Sequence[JobId]) -> dict[JobId, TrainingJob]:
        return self.get_many(job_ids)

    def get_many(self, job_ids: Sequence[JobId]) -> dict[JobId, TrainingJob]:
        self.get_many_calls += 1
        found = {job_id: self.get(job_id) for job_id in dict.fromkeys(job_ids)}
        return {job_id: job for job_id, job in found.items() if job is not None}

    def advance_forecast_slots(self, moves: Sequence[tuple[JobId, datetime, datetime]]) -> None:
        for job_id, slot, next_slot in moves:
            self.advance_forecast_slot(job_id, slot, next_slot)

    def record_last_forecasts(self, runs: Sequence[tuple[JobId, LastForecast]]) -> None:
        for job_id, run in runs:
            self.record_last_forecast(job_id, run)

    def due_for_forecast(
        self, now: datetime, limit: int, shard: ForecastShard | None = None
    ) -> Sequence[DueJob]:
        self.due_reads += 1
        due = [
            DueJob(
                job_id=j.id, slot=j.next_prediction_at, interval_seconds=j.prediction_config.interval_seconds
            )
            for j in self.jobs.values()
            if j.prediction_config is not None
            and j.prediction_config.enabled
            and j.next_prediction_at is not None
            and j.next_prediction_at <= now
            and (shard is None or shard.holds(j.id))
        ]
        return sorted(due, key=lambda d: d.slot)[:limit]

    def enable_forecasts(self, job_id: JobId, config: PredictionConfig, first_slot: datetime | None) -> None:
        with self._lock:
            job = self.jobs[job_id]
            changes: dict[str, Any] = {"prediction_config": config}
            if first_slot is not None:
                changes["next_prediction_at"] = first_slot
            self.jobs[job_id] = job.model_copy(update=changes)

    def attach_subscription(self, job_id: JobId, subscription_id: str) -> bool:
        with self._lock:
            job = self.jobs[job_id]
            config = job.prediction_config
            if config is None or config.subscription_id is not None:
                return False
            self.jobs[job_id] = job.model_copy(
                update={"prediction_config": config.model_copy(update={"subscription_id": subscription_id})}
            )
            return True

    def disable_forecasts(self, job_id: JobId) -> None:
        with self._lock:
            job = self.jobs[job_id]
            if job.prediction_config is None:
                return
            config = job.prediction_config.model_copy(
                update={"enabled": False, "subscription_id": None, "disabled_at": utcnow()}
            )
            self.jobs[job_id] = job.model_copy(
                update={"prediction_config": config, "next_prediction_at": None}
            )

    def advance_forecast_slot(self, job_id: JobId, slot: datetime, next_slot: datetime) -> bool:
        with self._lock:
            job = self.jobs.get(job_id)
            if (
                job is None
                or not job.forecasts_enabled
                or job.next_prediction_at is None
                or job.next_prediction_at > slot
            ):
                return False
            self.jobs[job_id] = job.model_copy(update={"next_prediction_at": next_slot})
            return True

    def record_last_forecast(self, job_id: JobId, run: LastForecast) -> None:
        with self._lock:
            job = self.jobs[job_id]
            self.next_seen_by_record.append((run.status.value, job.next_prediction_at))
            if job.last_forecast is None or job.last_forecast.slot <= run.slot:
                self.jobs[job_id] = job.model_copy(update={"last_forecast": run})


# ------------------------------------------------------------------------------- forecasts


class InMemoryForecastSchedule:
    """ForecastSchedule: a claim ticket per ``(job, slot)`` inserted once; runs admitted once
    per slot while running, again after a failure, never after a success."""

    def __init__(self) -> None:
        self.tickets: set[str] = set()
        self.runs: dict[str, dict[str, Any]] = {}
        self.begin_runs_calls = 0
        self._lock = threading.Lock()

    def claim_slots(self, items: Sequence[tuple[JobId, datetime]]) -> list[bool]:
        won = []
        with self._lock:
            for job_id, slot in items:
                key = run_key(job_id, slot)
                won.append(key not in self.tickets)
                self.tickets.add(key)
        return won

    def release(self, job_id: JobId, slot: datetime) -> bool:
        with self._lock:
            key = run_key(job_id, slot)
            if key in self.tickets:
                self.tickets.remove(key)
                return True
            return False

    def begin_run(self, job_id: JobId, slot: datetime, attempt: int, lease_seconds: float) -> RunAdmission:
        with self._lock:
            key = run_key(job_id, slot)
            run = self.runs.get(key)
            now = utcnow()
            expired = run is not None and run["status"] == "running" and run["lease_until"] < now
            if run is None or run["status"] == "failed" or expired:
                self.runs[key] = {
                    "job_id": job_id,
                    "status": "running",
                    "lease_until": now + timedelta(seconds=lease_seconds),
                }
                return "run"
            return "done" if run["status"] == "succeeded" else "busy"

    def finish_run(
        self, job_id: JobId, slot: datetime, *, status: ForecastRunStatus, error: str | None
    ) -> None:
        self.runs[run_key(job_id, slot)] = {"job_id": job_id, "status": status.value, "error": error}

    def begin_runs(
        self, items: Sequence[tuple[JobId, datetime, int]], lease_seconds: float
    ) -> list[RunAdmission]:
        self.begin_runs_calls += 1
        return [self.begin_run(job_id, slot, attempt, lease_seconds) for job_id, slot, attempt in items]

    def finish_runs(self, outcomes: Sequence[RunOutcome]) -> None:
        for o in outcomes:
            self.finish_run(o.job_id, o.slot, status=o.status, error=o.error)

    def delete_runs(self, job_id: JobId) -> int:
        keys = [k for k, v in self.runs.items() if v["job_id"] == job_id]
        for key in keys:
            del self.runs[key]
        return len(keys)


class FakeQueue:
    """ForecastQueue: keeps what was sent; ``fail`` picks messages it refuses."""

    def __init__(self, fail: Callable[[ForecastMessage], bool] = lambda m: False) -> None:
        self.sent: list[ForecastMessage] = []
        self.correlation_ids: set[str] = set()
        self.fail = fail
        self._lock = threading.Lock()

    def send(self, messages: Sequence[ForecastMessage], correlation_id: str) -> list[ForecastMessage]:
        failed = [m for m in messages if self.fail(m)]
        with self._lock:
            self.sent.extend(m for m in messages if not self.fail(m))
            self.correlation_ids.add(correlation_id)
        return failed


class FakeTickQueue:
    """TickQueue: keeps the shard ticks sent."""

    def __init__(self) -> None:
        self.sent: list[tuple[ForecastShard, datetime, str]] = []

    def send_shards(
        self, shards: Sequence[ForecastShard], now: datetime, correlation_id: str
    ) -> list[ForecastShard]:
        self.sent.extend((shard, now, correlation_id) for shard in shards)
        return []


class FakePublisher:
    """ForecastPublisher: keeps ``(config, series)`` of each publication; may fail."""

    def __init__(self, error: Exception | None = None, reject: frozenset[str] = frozenset()) -> None:
        self.published: list[tuple[PredictionConfig, ForecastSeries]] = []
        self.error = error
        self.reject = reject
        self.requests = 0

    def publish(self, config: PredictionConfig, series: ForecastSeries) -> None:
        if self.error is not None:
            raise self.error
        self.published.append((config, series))

    def publish_many(
        self, items: Sequence[tuple[PredictionConfig, ForecastSeries]]
    ) -> list[Exception | None]:
        """One request per call (``requests``); ``reject`` picks the entity ids Orion refuses."""
        self.requests += 1
        results: list[Exception | None] = []
        for config, series in items:
            if self.error is not None or config.entity_id in self.reject:
                results.append(self.error or UpstreamError(f"Orion refused {config.entity_id}"))
                continue
            self.published.append((config, series))
            results.append(None)
        return results


class FakeProvisioner:
    """ForecastProvisioner: records every call; subscriptions get ids ``sub-1``, ``sub-2``..."""

    def __init__(self) -> None:
        self.provisioned: list[PredictionConfig] = []
        self.subscriptions: dict[str, FiwareTenant] = {}
        self.removed: list[PredictionConfig] = []
        self._ids = itertools.count(1)
        #: Called inside subscribe, after the id is made (to interleave a concurrent enable).
        self.on_subscribe: Callable[[str], None] = lambda subscription_id: None

    def provision(self, config: PredictionConfig) -> None:
        self.provisioned.append(config)

    def subscribe(self, config: PredictionConfig, job_id: JobId) -> str:
        subscription_id = f"sub-{next(self._ids)}"
        self.subscriptions[subscription_id] = FiwareTenant(config.fiware_service, config.fiware_servicepath)
        self.on_subscribe(subscription_id)
        return subscription_id

    def unsubscribe(self, tenant: FiwareTenant, subscription_id: str) -> None:
        self.subscriptions.pop(subscription_id, None)

    def remove(self, config: PredictionConfig) -> None:
        if config.subscription_id:
            self.subscriptions.pop(config.subscription_id, None)
        self.removed.append(config)


class FakeForecastHistory:
    """ForecastHistory: stored values per ``(tenant, series)``, oldest first."""

    def __init__(self) -> None:
        self.values: dict[tuple[FiwareTenant, SeriesRef], list[tuple[datetime, Any]]] = {}

    def count(self, tenant: FiwareTenant, series: SeriesRef) -> int:
        return len(self.values.get((tenant, series), []))

    def read(
        self, tenant: FiwareTenant, series: SeriesRef, offset: int, limit: int
    ) -> list[tuple[datetime, Any]]:
        return self.values.get((tenant, series), [])[offset : offset + limit]


@dataclass
class FakeForecaster:
    """A forecaster needing ``context_length`` values; forecasts ``values`` one interval apart,
    with the given ``quality``."""

    context_length: int = 3
    values: tuple[float, ...] = (1.0, 2.0)
    interval_seconds: float = 60.0
    serving: str = "network"
    quality: ForecastQuality = field(default_factory=ForecastQuality)
    calls: list[int] = field(default_factory=list)

    @property
    def context_points(self) -> int:
        return self.context_length + 2

    def forecast_points(self, points: Sequence[TimedPoint]) -> ForecastResult:
        self.calls.append(len(points))
        last = points[-1][0]
        step = timedelta(seconds=self.interval_seconds)
        return ForecastResult(
            values=list(self.values),
            timestamps=[last + step * (k + 1) for k in range(len(self.values))],
            last_observation=last,
            interval_seconds=self.interval_seconds,
            serving=self.serving,  # type: ignore[arg-type]
            quality=self.quality,
        )


class FakeForecasterLoader:
    """ForecasterLoader: the same forecaster for every job; records the refs it loaded."""

    def __init__(self, forecaster: FakeForecaster | None = None) -> None:
        self.forecaster = forecaster or FakeForecaster()
        self.loaded: list[ArtifactRefs] = []

    def load(self, refs: ArtifactRefs) -> FakeForecaster:
        self.loaded.append(refs)
        return self.forecaster


# ------------------------------------------------------------------------------- pipeline


class FakeSeriesSource:
    """SeriesSource: points per entity id (oldest first), or an error to raise. With
    ``by_time`` it offers time windows; ``points_per_call`` caps what one ``collect`` returns
    (the rest comes back as ``rest``, as when a call runs out of time)."""

    def __init__(
        self,
        points: dict[str, list[TimedPoint]] | None = None,
        error: Exception | None = None,
        *,
        by_time: bool = False,
        points_per_call: int | None = None,
    ) -> None:
        self.points = points or {}
        self.error = error
        self.by_time = by_time
        self.points_per_call = points_per_call
        self.calls: list[tuple[str, str, int, int]] = []
        self.pages_in_flight: list[int] = []

    def _of(self, source: FiwareSource) -> list[TimedPoint]:
        if self.error is not None:
            raise self.error
        return self.points.get(source.entity_id, [])

    def count(self, source: FiwareSource) -> int:
        self.calls.append(("count", source.entity_id, 0, 0))
        return len(self._of(source))

    def time_window(self, source: FiwareSource, offset: int, count: int) -> TimeWindow | None:
        self.calls.append(("time_window", source.entity_id, offset, count))
        return self.bounds(source, offset, count) if self.by_time else None

    def bounds(self, source: FiwareSource, offset: int, count: int) -> TimeWindow | None:
        points = self._of(source)[offset : offset + count]
        if not points:
            return None
        return TimeWindow(first=points[0][0], last=points[-1][0])

    def count_between(self, source: FiwareSource, date_from: datetime, date_to: datetime) -> int:
        self.calls.append(("count_between", source.entity_id, 0, 0))
        return sum(1 for t, _ in self._of(source) if date_from <= t < date_to)

    def collect(self, source: FiwareSource, chunk: ChunkSpec, *, pages_in_flight: int = 1) -> CollectedPart:
        self.calls.append(("collect", source.entity_id, chunk.offset, chunk.count))
        self.pages_in_flight.append(pages_in_flight)
        points = self._of(source)
        if chunk.date_from is not None:
            upper = chunk.date_to
            wanted = [p for p in points if p[0] >= chunk.date_from and (upper is None or p[0] < upper)]
        else:
            wanted = points[chunk.offset : chunk.offset + chunk.count]
        cap = self.points_per_call
        if cap is None or len(wanted) <= cap:
            return CollectedPart(points=wanted)
        taken = wanted[:cap]
        if chunk.date_from is not None:  # as STH paging by time: whole milliseconds only
            cursor = wanted[cap][0]
            taken = [p for p in taken if p[0] < cursor]
            if not taken:
                return CollectedPart(points=wanted)
            rest = chunk.model_copy(update={"date_from": cursor})
        else:
            rest = ChunkSpec(offset=chunk.offset + cap, count=chunk.count - cap)
        return CollectedPart(points=taken, rest=rest)

    def last_n(self, source: FiwareSource, n: int) -> list[TimedPoint]:
        self.calls.append(("last_n", source.entity_id, 0, n))
        return self._of(source)[-n:]


class InMemoryObjectStore:
    """ObjectStore: JSON documents in a dict."""

    def __init__(self) -> None:
        self.objects: dict[str, Any] = {}

    def exists(self, key: str) -> bool:
        return key in self.objects

    def put_json(self, key: str, document: Any) -> None:
        self.objects[key] = document

    def get_json(self, key: str) -> Any:
        return self.objects[key]

    def list_keys(self, prefix: str) -> list[str]:
        return sorted(k for k in self.objects if k.startswith(prefix))

    def delete_prefix(self, prefix: str) -> int:
        keys = self.list_keys(prefix)
        for key in keys:
            del self.objects[key]
        return len(keys)


class FakeWorkflow:
    """Workflow: records started and stopped executions; ``error`` makes starts fail;
    ``states`` answers :meth:`describe` (an execution it does not hold is running)."""

    def __init__(self, error: Exception | None = None) -> None:
        self.started: list[tuple[str, dict[str, Any]]] = []
        self.stopped: list[str] = []
        self.states: dict[str, ExecutionState | None] = {}
        self.error = error

    def start(self, name: str, payload: dict[str, Any]) -> str:
        if self.error is not None:
            raise self.error
        if any(started == name for started, _ in self.started):
            raise ConflictError(f"An execution named {name} exists already")
        self.started.append((name, payload))
        return f"arn:aws:states:local:000000000000:execution:training:{name}"

    def stop(self, execution_arn: str, cause: str) -> None:
        self.stopped.append(execution_arn)

    def console_url(self, execution_arn: str) -> str | None:
        return None

    def describe(self, execution_arn: str) -> ExecutionState | None:
        return self.states.get(execution_arn, ExecutionState(status="RUNNING"))


class FakeDatasetPreparer:
    """DatasetPreparer: answers ``summary`` (or raises ``error``); records the points it saw."""

    def __init__(self, summary: DatasetSummary | None = None, error: Exception | None = None) -> None:
        self.summary = summary
        self.error = error
        self.seen: list[list[RawPoint]] = []

    def summarize(self, points: Sequence[RawPoint], model: Model) -> DatasetSummary:
        self.seen.append(list(points))
        if self.error is not None:
            raise self.error
        assert self.summary is not None, "give the fake a summary"
        return self.summary


class FakeTrainer:
    """Trainer: reports ``epochs`` epochs to the progress reporter, then answers ``result``.
    Stops with TrainingCancelledError when the reporter asks to."""

    def __init__(
        self, result: TrainingResult | None = None, epochs: int = 2, error: Exception | None = None
    ) -> None:
        self.result = result
        self.epochs = epochs
        self.error = error
        self.on_epoch: Callable[[int], None] = lambda epoch: None
        #: The options of every call (the champion scored next to it, warm start).
        self.options: list[TrainOptions | None] = []

    def train(
        self,
        points: Sequence[RawPoint],
        model: Model,
        job_id: JobId,
        progress: ProgressReporter,
        options: TrainOptions | None = None,
    ) -> TrainingResult:
        self.options.append(options)
        progress.phase("training")
        for epoch in range(1, self.epochs + 1):
            progress.epoch(
                EpochProgress(
                    epoch=epoch,
                    epochs=self.epochs,
                    loss=1.0 / epoch,
                    val_loss=None,
                    learning_rate=None,
                    elapsed_seconds=0,
                )
            )
            self.on_epoch(epoch)
            if progress.should_stop():
                raise TrainingCancelledError("Training was cancelled.")
        if self.error is not None:
            raise self.error
        assert self.result is not None, "give the fake a result"
        progress.phase("saving")
        return self.result


# ------------------------------------------------------------------------------- devices, edges


@dataclass(frozen=True)
class FakeAttribute:
    name: str
    type: str = "Number"
    object_id: str | None = None


@dataclass(frozen=True)
class FakeDevice:
    device_id: str
    entity_name: str | None = None
    entity_type: str | None = None
    apikey: str | None = None
    attributes: tuple[FakeAttribute, ...] = ()


@dataclass(frozen=True)
class FakeGroup:
    apikey: str
    resource: str
    entity_type: str | None = None


class FakeDeviceDirectory:
    """DeviceDirectory: devices and groups per tenant service."""

    def __init__(self, devices: Sequence[FakeDevice] = (), groups: Sequence[FakeGroup] = ()) -> None:
        self.devices = list(devices)
        self.groups = list(groups)
        self.tenants: list[FiwareTenant] = []

    def iter_devices(self, tenant: FiwareTenant, *, page_size: int = 100) -> Iterator[FakeDevice]:
        self.tenants.append(tenant)
        yield from self.devices

    def list_groups(self, tenant: FiwareTenant) -> Sequence[FakeGroup]:
        return self.groups


class InMemoryLeases:
    """Leases: one holder per name until released (no expiry: tests release or never do)."""

    def __init__(self) -> None:
        self.holders: dict[str, str] = {}
        self._lock = threading.Lock()

    def acquire(self, name: str, holder: str, seconds: float) -> bool:
        with self._lock:
            if name in self.holders:
                return False
            self.holders[name] = holder
            return True

    def release(self, name: str, holder: str) -> None:
        with self._lock:
            if self.holders.get(name) == holder:
                del self.holders[name]


class InMemoryRetrainingPolicies:
    """RetrainingPolicies: one policy per model id."""

    def __init__(self) -> None:
        self.policies: dict[str, StoredPolicy] = {}

    def put(self, stored: StoredPolicy) -> None:
        self.policies[stored.model_id] = stored

    def get(self, model_id: ModelId) -> StoredPolicy | None:
        return self.policies.get(model_id)

    def delete(self, model_id: ModelId) -> bool:
        return self.policies.pop(model_id, None) is not None

    def scheduled(self, limit: int) -> list[StoredPolicy]:
        found = [p for p in self.policies.values() if p.policy.enabled and p.policy.schedule is not None]
        return sorted(found, key=lambda p: p.created_at)[:limit]


class InMemoryRetrainingRuns:
    """RetrainingRuns: runs by key; a claim inserts once (one winner per key)."""

    def __init__(self) -> None:
        self.runs: dict[str, RetrainingRun] = {}
        self._lock = threading.Lock()

    def claim(self, runs: Sequence[RetrainingRun]) -> list[bool]:
        won = []
        with self._lock:
            for run in runs:
                won.append(run.key not in self.runs)
                self.runs.setdefault(run.key, run)
        return won

    def existing(self, keys: Sequence[str]) -> set[str]:
        return {k for k in keys if k in self.runs}

    def record(self, run: RetrainingRun) -> None:
        self.runs[run.key] = run

    def list_for_model(self, model_id: ModelId, skip: int, limit: int) -> Page[RetrainingRun]:
        found = sorted(
            (r for r in self.runs.values() if r.model_id == model_id), key=lambda r: r.at, reverse=True
        )
        return Page(items=found[skip : skip + limit], total=len(found), skip=skip, limit=limit)

    def delete_for_model(self, model_id: ModelId) -> int:
        keys = [k for k, r in self.runs.items() if r.model_id == model_id]
        for key in keys:
            del self.runs[key]
        return len(keys)


class InMemoryModelEvents:
    """ModelEvents: a list, newest first when listed."""

    def __init__(self) -> None:
        self.events: list[ModelEvent] = []

    def add(self, event: ModelEvent) -> None:
        self.events.append(event)

    def list_for_model(self, model_id: ModelId, skip: int, limit: int) -> Page[ModelEvent]:
        found = sorted((e for e in self.events if e.model_id == model_id), key=lambda e: e.at, reverse=True)
        return Page(items=found[skip : skip + limit], total=len(found), skip=skip, limit=limit)

    def delete_for_model(self, model_id: ModelId) -> int:
        before = len(self.events)
        self.events = [e for e in self.events if e.model_id != model_id]
        return before - len(self.events)


class RecordingRetrainTrigger:
    """RetrainTrigger: records each firing and answers a ``started`` run (``error``: raises)."""

    def __init__(self, error: Exception | None = None) -> None:
        self.firings: list[Any] = []
        self.error = error

    def trigger(self, firing: Any) -> RetrainingRun:
        self.firings.append(firing)
        if self.error is not None:
            raise self.error
        return RetrainingRun(
            key=f"{firing.model_id}|rule|{firing.event_id}",
            model_id=firing.model_id,
            kind="rule",
            at=firing.at or utcnow(),
            rule_id=firing.rule_id,
            reason=firing.reason,
            outcome="started",
        )


class InMemoryFailureCounter:
    """FailureCounter: failures per client in one endless window."""

    def __init__(self, window_seconds: int = 300) -> None:
        self.counts: dict[str, int] = {}
        self.window_seconds = window_seconds

    def record_failure(self, client: str) -> tuple[int, int]:
        self.counts[client] = self.counts.get(client, 0) + 1
        return self.counts[client], self.window_seconds


@dataclass
class FakeProbe:
    """HealthProbe answering ``status``."""

    name: str
    status: str = "up"
    required: bool = True
    calls: int = 0

    def check(self) -> DependencyCheck:
        self.calls += 1
        return DependencyCheck(name=self.name, status=self.status, latency_ms=1.0, required=self.required)


# ------------------------------------------------------------------------------- monitoring


def _page[T](items: list[T], skip: int, limit: int) -> Page[T]:
    return Page(items=items[skip : skip + limit], total=len(items), skip=skip, limit=limit)


class InMemoryAlertRules:
    """AlertRules: rules by id."""

    def __init__(self, *rules: AlertRule) -> None:
        self.rules: dict[str, AlertRule] = {r.id: r for r in rules}

    def add(self, rule: AlertRule) -> None:
        if rule.id in self.rules:
            raise ConflictError(f"Alert rule {rule.id} already exists")
        self.rules[rule.id] = rule

    def get(self, rule_id: str) -> AlertRule | None:
        return self.rules.get(rule_id)

    def replace(self, rule: AlertRule) -> bool:
        if rule.id not in self.rules:
            return False
        self.rules[rule.id] = rule
        return True

    def delete(self, rule_id: str) -> bool:
        return self.rules.pop(rule_id, None) is not None

    def enabled(self, limit: int) -> list[AlertRule]:
        return [r for r in self.rules.values() if r.enabled][:limit]

    def for_model(self, model_id: ModelId, types: Sequence[RuleType]) -> list[AlertRule]:
        return [r for r in self.rules.values() if r.enabled and r.model_id == model_id and r.type in types]

    def using_channel(self, channel_id: str) -> list[str]:
        return [r.id for r in self.rules.values() if channel_id in r.channels]

    def list(self, filters: RuleFilter, skip: int, limit: int) -> Page[AlertRule]:
        found = [
            r
            for r in self.rules.values()
            if (filters.services is None or r.fiware_service in filters.services)
            and (filters.model_id is None or r.model_id == filters.model_id)
            and (filters.job_id is None or r.job_id == filters.job_id)
            and (filters.type is None or r.type == filters.type)
            and (filters.enabled is None or r.enabled == filters.enabled)
        ]
        found.sort(key=lambda r: r.created_at, reverse=True)
        return _page(found, skip, limit)


class InMemoryRuleStates:
    def __init__(self) -> None:
        self.states: dict[str, RuleState] = {}
        self.saves = 0

    def get(self, rule_id: str) -> RuleState | None:
        return self.states.get(rule_id)

    def get_many(self, rule_ids: Sequence[str]) -> dict[str, RuleState]:
        return {i: self.states[i] for i in rule_ids if i in self.states}

    def save(self, state: RuleState) -> None:
        self.saves += 1
        self.states[state.rule_id] = state

    def save_many(self, states: Sequence[RuleState]) -> None:
        for state in states:
            self.save(state)

    def delete(self, rule_id: str) -> None:
        self.states.pop(rule_id, None)


class InMemoryEvaluationLog:
    """EvaluationLog: claim keys inserted once; every evaluation kept."""

    def __init__(self) -> None:
        self.keys: set[str] = set()
        self.records: list[EvaluationRecord] = []
        self._lock = threading.Lock()

    def claim(self, keys: Sequence[str]) -> list[bool]:
        with self._lock:
            won = [k not in self.keys for k in keys]
            self.keys.update(keys)
        return won

    def record(self, evaluations: Sequence[EvaluationRecord]) -> None:
        self.records.extend(evaluations)

    def latest(self, rule_id: str) -> EvaluationRecord | None:
        mine = [r for r in self.records if r.rule_id == rule_id]
        return max(mine, key=lambda r: r.at) if mine else None


class InMemoryAlertStore:
    def __init__(self) -> None:
        self.alerts: dict[str, Alert] = {}
        self.events_: list[AlertEvent] = []

    def add_alert(self, alert: Alert) -> None:
        self.alerts[alert.id] = alert

    def add_alerts(self, alerts: Sequence[Alert]) -> None:
        for alert in alerts:
            self.add_alert(alert)

    def save_alert(self, alert: Alert) -> None:
        self.alerts[alert.id] = alert

    def get_alert(self, alert_id: str) -> Alert | None:
        return self.alerts.get(alert_id)

    def get_alerts(self, alert_ids: Sequence[str]) -> dict[str, Alert]:
        return {i: self.alerts[i] for i in alert_ids if i in self.alerts}

    def list_alerts(self, filters: AlertFilter, skip: int, limit: int) -> Page[Alert]:
        found = [
            a
            for a in self.alerts.values()
            if (filters.services is None or a.fiware_service in filters.services)
            and (filters.status is None or a.status == filters.status)
            and (filters.rule_id is None or a.rule_id == filters.rule_id)
            and (filters.model_id is None or a.model_id == filters.model_id)
            and (filters.severity is None or a.severity == filters.severity)
        ]
        found.sort(key=lambda a: a.started_at, reverse=True)
        return _page(found, skip, limit)

    def alerts_of_rule(self, rule_id: str, limit: int = 10_000) -> list[Alert]:
        return [a for a in self.alerts.values() if a.rule_id == rule_id][:limit]

    def undecided_outcomes(self, rule_id: str) -> list[Alert]:
        return [a for a in self.alerts.values() if a.rule_id == rule_id and a.predicted and a.outcome is None]

    def undecided_outcomes_of(self, rule_ids: Sequence[str]) -> dict[str, list[Alert]]:
        found: dict[str, list[Alert]] = {}
        for a in self.alerts.values():
            if a.rule_id in rule_ids and a.predicted and a.outcome is None:
                found.setdefault(a.rule_id, []).append(a)
        return found

    def active_with_fingerprint(self, fingerprint: str) -> Alert | None:
        return next((a for a in self.alerts.values() if a.fingerprint == fingerprint and a.active), None)

    def add_events(self, events: Sequence[AlertEvent]) -> None:
        self.events_.extend(events)

    def events(
        self, *, rule_id: str | None = None, alert_id: str | None = None, skip: int = 0, limit: int = 100
    ) -> Page[AlertEvent]:
        found = [
            e
            for e in reversed(self.events_)
            if (rule_id is None or e.rule_id == rule_id) and (alert_id is None or e.alert_id == alert_id)
        ]
        return _page(found, skip, limit)

    def forget_rule(self, rule_id: str) -> None:
        for alert in list(self.alerts.values()):
            if alert.rule_id == rule_id and alert.active:
                self.alerts[alert.id] = alert.model_copy(
                    update={"status": AlertStatus.RESOLVED, "resolved_at": utcnow()}
                )


class InMemoryNotificationStore:
    def __init__(self) -> None:
        self.notifications: dict[str, Notification] = {}
        self.attempts: set[str] = set()

    def add_many(self, notifications: Sequence[Notification]) -> None:
        for n in notifications:
            self.notifications[n.id] = n

    def get(self, notification_id: str) -> Notification | None:
        return self.notifications.get(notification_id)

    def save(self, notification: Notification) -> None:
        self.notifications[notification.id] = notification

    def for_alert(self, alert_id: str) -> list[Notification]:
        return sorted(
            (n for n in self.notifications.values() if n.alert_id == alert_id), key=lambda n: n.created_at
        )

    def claim_attempt(self, notification_id: str, attempt: int) -> bool:
        key = f"{notification_id}#{attempt}"
        if key in self.attempts:
            return False
        self.attempts.add(key)
        return True

    def unsent(self, created_before: datetime, limit: int) -> list[Notification]:
        return [
            n
            for n in self.notifications.values()
            if n.status == NotificationStatus.PENDING and n.attempts == 0 and n.created_at < created_before
        ][:limit]

    def delivered_channels(self, alert_id: str) -> set[str]:
        return {
            n.channel_id
            for n in self.notifications.values()
            if n.alert_id == alert_id and n.status == NotificationStatus.DELIVERED and n.kind != "resolved"
        }


class FakeNotificationQueue:
    """NotificationQueue: keeps the ids sent; ``fail`` refuses some."""

    def __init__(self, fail: Callable[[str], bool] = lambda i: False) -> None:
        self.sent: list[str] = []
        self.fail = fail

    def send(self, notification_ids: Sequence[str], correlation_id: str) -> list[str]:
        failed = [i for i in notification_ids if self.fail(i)]
        self.sent.extend(i for i in notification_ids if not self.fail(i))
        return failed


class InMemoryChannelStore:
    def __init__(self, *channels: Channel) -> None:
        self.channels: dict[str, Channel] = {c.id: c for c in channels}

    def add(self, channel: Channel) -> None:
        self.channels[channel.id] = channel

    def get(self, channel_id: str) -> Channel | None:
        return self.channels.get(channel_id)

    def get_many(self, channel_ids: Sequence[str]) -> dict[str, Channel]:
        return {i: self.channels[i] for i in channel_ids if i in self.channels}

    def save(self, channel: Channel) -> None:
        stored = self.channels.get(channel.id)
        stats = stored.stats if stored else channel.stats
        stats = stats.model_copy(update={"consecutive_failures": channel.stats.consecutive_failures})
        self.channels[channel.id] = channel.model_copy(update={"stats": stats})

    def delete(self, channel_id: str) -> bool:
        return self.channels.pop(channel_id, None) is not None

    def active_in(self, fiware_service: str) -> list[Channel]:
        return [c for c in self.channels.values() if c.fiware_service == fiware_service and c.active]

    def record_delivery(self, channel_id: str, outcome: DeliveryOutcome, at: datetime) -> ChannelStats | None:
        channel = self.channels.get(channel_id)
        if channel is None:
            return None
        s = channel.stats
        if outcome.ok:
            stats = s.model_copy(
                update={
                    "times_sent": s.times_sent + 1,
                    "delivered": s.delivered + 1,
                    "last_notification": at,
                    "last_success": at,
                    "last_success_code": outcome.status_code,
                    "consecutive_failures": 0,
                }
            )
        else:
            stats = s.model_copy(
                update={
                    "times_sent": s.times_sent + 1,
                    "failed": s.failed + 1,
                    "last_notification": at,
                    "last_failure": at,
                    "last_failure_reason": outcome.reason,
                    "consecutive_failures": s.consecutive_failures + 1,
                }
            )
        self.channels[channel_id] = channel.model_copy(update={"stats": stats})
        return stats

    def disable(self, channel_id: str, reason: str, at: datetime) -> bool:
        channel = self.channels.get(channel_id)
        if channel is None or not channel.active:
            return False
        self.channels[channel_id] = channel.model_copy(
            update={"status": ChannelStatus.DISABLED, "disabled_at": at, "disabled_reason": reason}
        )
        return True

    def list(self, services: frozenset[str] | None, skip: int, limit: int) -> Page[Channel]:
        found = [c for c in self.channels.values() if services is None or c.fiware_service in services]
        return _page(found, skip, limit)


class InMemorySilenceStore:
    def __init__(self) -> None:
        self.silences: dict[str, Silence] = {}

    def add(self, silence: Silence) -> None:
        self.silences[silence.id] = silence

    def get(self, silence_id: str) -> Silence | None:
        return self.silences.get(silence_id)

    def delete(self, silence_id: str) -> bool:
        return self.silences.pop(silence_id, None) is not None

    def active(self, fiware_service: str, at: datetime) -> list[Silence]:
        return [
            s
            for s in self.silences.values()
            if s.fiware_service == fiware_service and s.starts_at <= at < s.ends_at
        ]

    def list(
        self, services: frozenset[str] | None, active_at: datetime | None, skip: int, limit: int
    ) -> Page[Silence]:
        found = [
            s
            for s in self.silences.values()
            if (services is None or s.fiware_service in services)
            and (active_at is None or s.ends_at > active_at)
        ]
        return _page(found, skip, limit)


class InMemoryForecastLog:
    def __init__(self) -> None:
        self.forecasts: dict[str, list[PublishedForecast]] = {}

    def record(self, forecast: PublishedForecast) -> None:
        kept = [f for f in self.forecasts.get(forecast.job_id, []) if f.generated_at != forecast.generated_at]
        self.forecasts[forecast.job_id] = sorted([*kept, forecast], key=lambda f: f.generated_at)

    def recent(self, job_id: JobId, n: int) -> list[PublishedForecast]:
        return list(reversed(self.forecasts.get(job_id, [])))[:n]

    def forget(self, job_id: JobId) -> None:
        self.forecasts.pop(job_id, None)

    def recent_many(
        self, wanted: Mapping[JobId, int], newer_than: datetime | None = None
    ) -> dict[JobId, list[PublishedForecast]]:
        return {job_id: self.recent(job_id, n) for job_id, n in wanted.items()}


class FakeForecastRunHistory:
    """ForecastRunHistory: statuses per job, newest first."""

    def __init__(self) -> None:
        self.statuses: dict[str, list[str]] = {}

    def recent_statuses(self, job_id: JobId, n: int) -> list[str]:
        return self.statuses.get(job_id, [])[:n]

    def recent_statuses_many(
        self, wanted: Mapping[JobId, int], newer_than: datetime | None = None
    ) -> dict[JobId, list[str]]:
        return {job_id: self.statuses.get(job_id, [])[:n] for job_id, n in wanted.items()}


class FakeObservedSeries:
    """ObservedSeries: points per entity id (oldest first), or an error to raise."""

    def __init__(
        self, points: dict[str, list[TimedPoint]] | None = None, error: Exception | None = None
    ) -> None:
        self.points = points or {}
        self.error = error
        self.calls: list[tuple[str, str]] = []

    def _of(self, source: FiwareSource, call: str) -> list[TimedPoint]:
        self.calls.append((call, source.entity_id))
        if self.error is not None:
            raise self.error
        return self.points.get(source.entity_id, [])

    def recent(self, source: FiwareSource, n: int) -> list[TimedPoint]:
        return self._of(source, "recent")[-n:]

    def between(
        self, source: FiwareSource, date_from: datetime, date_to: datetime | None
    ) -> list[TimedPoint]:
        return [
            p
            for p in self._of(source, "between")
            if p[0] >= date_from and (date_to is None or p[0] < date_to)
        ]

    def before(self, source: FiwareSource, date_to: datetime, n: int) -> list[TimedPoint]:
        return [p for p in self._of(source, "before") if p[0] <= date_to][-n:]


class FakeNotifier:
    """Notifier: answers each delivery from ``outcomes`` (per channel id, in order; the last one
    repeats), delivered by default; records every attempt."""

    def __init__(self, outcomes: dict[str, list[DeliveryOutcome]] | None = None) -> None:
        self.outcomes = outcomes or {}
        self.sent: list[tuple[str, Notification]] = []

    def deliver(self, channel: Channel, notification: Notification) -> DeliveryOutcome:
        self.sent.append((channel.id, notification))
        queue = self.outcomes.get(channel.id)
        if not queue:
            return DeliveryOutcome(ok=True, status_code=200)
        return queue.pop(0) if len(queue) > 1 else queue[0]


# ------------------------------------------------------------------------------- anomaly scans


class InMemoryAnomalyScans:
    """The scan ports (:class:`AnomalyScans` and :class:`ScanJournal`): pipeline writes apply
    only while the scan runs, and progress is derived from the chunk records, as the Mongo
    adapter does (it shares :func:`document_to_scan`)."""

    def __init__(self) -> None:
        self.docs: dict[str, dict[str, Any]] = {}
        self.records: dict[str, dict[int, Any]] = {}
        self.recorded: list[tuple[str, Any]] = []
        self._lock = threading.RLock()

    def _of(self, scan_id: str) -> Any:
        from chronos_core.adapters.mongo.anomaly_scans import document_to_scan

        doc = self.docs.get(scan_id)
        if doc is None:
            return None
        return document_to_scan(doc, list(self.records.get(scan_id, {}).values()))

    def get(self, scan_id: Any) -> Any:
        return self._of(scan_id)

    def status_of(self, scan_id: Any) -> Any:
        scan = self._of(scan_id)
        return scan.status if scan else None

    def add(self, scan: Any) -> None:
        if scan.id in self.docs:
            raise ConflictError(f"Anomaly scan {scan.id} already exists")
        self.docs[scan.id] = scan.model_dump(exclude={"failed_chunks"})

    def list_for_model(self, model_id: ModelId, skip: int, limit: int) -> Page[Any]:
        found = sorted(
            (self._of(i) for i, d in self.docs.items() if d["model_id"] == model_id),
            key=lambda s: s.created_at,
            reverse=True,
        )
        return Page(items=found[skip : skip + limit], total=len(found), skip=skip, limit=limit)

    def running_scans(self, limit: int) -> list[Any]:
        running = [self._of(i) for i in self.docs if self._running(i)]
        return sorted(running, key=lambda s: s.updated_at)[:limit]

    def _running(self, scan_id: str) -> bool:
        from chronos_core.domain.anomaly import ScanStatus

        doc = self.docs.get(scan_id)
        return doc is not None and ScanStatus(doc["status"]).running

    def _update(self, scan_id: str, changes: dict[str, Any]) -> Any:
        with self._lock:
            if not self._running(scan_id):
                return None
            doc = self.docs[scan_id]
            for key, value in changes.items():
                target = doc
                *path, last = key.split(".")
                for part in path:
                    if not isinstance(target.get(part), dict):
                        target[part] = {}
                    target = target[part]
                target[last] = value
            doc["updated_at"] = utcnow()
            return self._of(scan_id)

    def attach_execution(self, scan_id: Any, arn: str, started_at: datetime) -> Any:
        fields: dict[str, Any] = {"execution.arn": arn, "execution.started_at": started_at}
        if self.docs.get(scan_id, {}).get("status") == "pending":
            fields["status"] = "queued"
        return self._update(scan_id, fields)

    def reopen_for_retry(self, scan_id: Any, execution: ExecutionRef) -> Any:
        with self._lock:
            doc = self.docs.get(scan_id)
            if doc is None or doc["status"] not in ("failed", "completed_with_failures"):
                return None
            doc.update(
                status="pending", error=None, summary=None, ended_at=None, execution=execution.model_dump()
            )
            self.records[scan_id] = {
                o: r for o, r in self.records.get(scan_id, {}).items() if r.state != "failed"
            }
            return self._of(scan_id)

    def _closing(self, scan_id: str, now: datetime, keep: str | None = None) -> dict[str, Any]:
        phases = self.docs[scan_id].get("phases") or {}
        return {
            f"phases.{name}.ended_at": now
            for name, t in phases.items()
            if name != keep and t.get("started_at") is not None and t.get("ended_at") is None
        }

    def finish(self, scan_id: Any, status: Any, *, error: JobError | None = None) -> Any:
        with self._lock:
            if not self._running(scan_id):
                return None
            now = utcnow()
            changes = {"status": status.value, "ended_at": now, **self._closing(scan_id, now)}
            if error is not None:
                changes["error"] = error.model_dump()
            return self._update(scan_id, changes)

    def start_scoring(self, scan_id: Any, plan: Any) -> Any:
        return self._enter(
            scan_id,
            "score",
            {
                "status": "running",
                "window": plan.window.model_dump(),
                "points_expected": plan.points_expected,
                "chunk_points": plan.chunk_points,
                "context_seconds": plan.context_seconds,
                "context_points": plan.context_points,
                "interval_seconds": plan.interval_seconds,
                "progress.chunks_total": plan.chunks_total,
                "progress.points_expected": plan.points_expected,
            },
        )

    def enter_phase(self, scan_id: Any, phase: Any) -> Any:
        return self._enter(scan_id, phase.value, {})

    def _enter(self, scan_id: str, phase: str, fields: dict[str, Any]) -> Any:
        with self._lock:
            if not self._running(scan_id):
                return None
            now = utcnow()
            doc = self.docs[scan_id]
            timing = (doc.get("phases") or {}).get(phase) or {}
            changes = {"phase": phase, **self._closing(scan_id, now, keep=phase), **fields}
            changes[f"phases.{phase}.started_at"] = timing.get("started_at") or now
            changes[f"phases.{phase}.ended_at"] = None
            if doc.get("started_at") is None:
                changes["started_at"] = now
            return self._update(scan_id, changes)

    def record_chunk(self, scan_id: Any, record: Any) -> bool:
        with self._lock:
            if not self._running(scan_id):
                return False
            self.records.setdefault(scan_id, {})[record.offset] = record
            self.recorded.append((scan_id, record))
            return True

    def chunk_records(self, scan_id: Any) -> dict[int, Any]:
        return dict(self.records.get(scan_id, {}))

    def record_summary(self, scan_id: Any, summary: Any) -> Any:
        return self._update(scan_id, {"summary": summary.model_dump()})


class InMemoryAnomalyFindings:
    """AnomalyFindings: each scan's events and data-quality issues, replaced as a whole."""

    def __init__(self) -> None:
        self.events_of: dict[str, list[Any]] = {}
        self.issues_of: dict[str, list[Any]] = {}

    def replace(self, scan_id: Any, events: Sequence[Any], issues: Sequence[Any]) -> None:
        self.events_of[scan_id] = list(events)
        self.issues_of[scan_id] = list(issues)

    def events(self, scan_id: Any, skip: int, limit: int) -> Page[Any]:
        found = self.events_of.get(scan_id, [])
        return Page(items=found[skip : skip + limit], total=len(found), skip=skip, limit=limit)

    def issues(self, scan_id: Any, skip: int, limit: int) -> Page[Any]:
        found = self.issues_of.get(scan_id, [])
        return Page(items=found[skip : skip + limit], total=len(found), skip=skip, limit=limit)


class FakeAnomalyPublisher:
    """AnomalyPublisher: records what it published (by target and event), or raises ``error``."""

    def __init__(self, error: Exception | None = None) -> None:
        self.published: list[tuple[Any, list[Any]]] = []
        self.error = error

    def publish(self, target: Any, events: Sequence[Any]) -> int:
        if self.error is not None:
            raise self.error
        self.published.append((target, list(events)))
        return len(events)


class FakeScorerLoader:
    """ScorerLoader: one scorer for every job (a real :class:`ForecastScorer` in most tests)."""

    def __init__(self, scorer: Any = None) -> None:
        self.scorer = scorer
        self.loaded: list[tuple[ArtifactRefs, int]] = []

    def load(self, refs: ArtifactRefs, steps: int) -> Any:
        self.loaded.append((refs, steps))
        if self.scorer is None:
            raise AssertionError("FakeScorerLoader has no scorer")
        return self.scorer


# ------------------------------------------------------------------------------- the container


def fake_services(settings: Settings | None = None, **overrides: Any) -> Services:
    """The bootstrap's :class:`Services` with an in-memory fake for every port (``overrides``
    replace any of them by attribute name). No network, no database."""
    from tests.support.auth import verifier

    artifacts = InMemoryArtifactStore()
    defaults: dict[str, Any] = {
        "models": InMemoryModelRepository(),
        "jobs": InMemoryTrainingJobs(),
        "schedule": InMemoryForecastSchedule(),
        "artifacts": artifacts,
        "auth_failures": InMemoryFailureCounter(),
        "leases": InMemoryLeases(),
        "policies": InMemoryRetrainingPolicies(),
        "runs": InMemoryRetrainingRuns(),
        "events": InMemoryModelEvents(),
        "objects": InMemoryObjectStore(),
        "workflow": FakeWorkflow(),
        "queue": FakeQueue(),
        "tick_queue": FakeTickQueue(),
        "series": FakeSeriesSource(),
        "history": FakeForecastHistory(),
        "publisher": FakePublisher(),
        "provisioner": FakeProvisioner(),
        "devices": FakeDeviceDirectory(),
        "forecasters": FakeForecasterLoader(),
        "preparer": FakeDatasetPreparer(),
        "trainer": FakeTrainer(),
        "token_verifier": verifier(),
        "health_probes": [FakeProbe("mongodb")],
        "health_cache": HealthCache(ttl_seconds=0),
        "alert_rules": InMemoryAlertRules(),
        "rule_states": InMemoryRuleStates(),
        "alert_evaluations": InMemoryEvaluationLog(),
        "alerts": InMemoryAlertStore(),
        "notifications": InMemoryNotificationStore(),
        "notification_queue": FakeNotificationQueue(),
        "channels": InMemoryChannelStore(),
        "silences": InMemorySilenceStore(),
        "forecast_log": InMemoryForecastLog(),
        "forecast_runs": FakeForecastRunHistory(),
        "observed_series": FakeObservedSeries(),
        "notifier": FakeNotifier(),
        "scans": InMemoryAnomalyScans(),
        "findings": InMemoryAnomalyFindings(),
        "anomaly_publisher": FakeAnomalyPublisher(),
        "scan_workflow": FakeWorkflow(),
        "scorers": FakeScorerLoader(),
    }
    defaults.update(overrides)
    if "prediction_stamps" not in overrides:
        defaults["prediction_stamps"] = FakePredictionStamps(defaults["models"], defaults["jobs"])
    return bootstrap(settings or Settings(), **defaults)


class FakePredictionStamps:
    """PredictionStamps over the in-memory repositories: the stored objects themselves (a
    changed model or job compares unequal); counts its reads."""

    def __init__(self, models: Any, jobs: Any) -> None:
        self._models = models
        self._jobs = jobs
        self.reads = 0

    def model_stamp(self, model_id: ModelId) -> object | None:
        self.reads += 1
        return self._models.models.get(model_id)

    def job_stamp(self, job_id: JobId) -> object | None:
        self.reads += 1
        return self._jobs.jobs.get(job_id)

    def stamps(self, model_id: ModelId, job_id: JobId) -> tuple[object | None, object | None]:
        return self.model_stamp(model_id), self.job_stamp(job_id)


def new_id() -> str:
    return str(uuid.uuid4())
