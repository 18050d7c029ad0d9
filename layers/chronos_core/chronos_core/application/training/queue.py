"""The training queue: a training that cannot start now waits ``queued`` and starts, in order,
when a slot frees.

* **Limits** (:class:`TrainingQueueSettings`): at most ``global_limit`` trainings run at once,
  at most ``tenant_limit`` per FIWARE service (0: no limit). Every running job holds a slot from
  its admission until it ends, whatever its phase; in AWS, Batch's job queue and compute
  environment still bound the GPUs (a job waiting there shows ``queued`` in phase ``train``).
* **Admission** (:func:`enqueue`): every new job is inserted ``queued`` with its queue entry,
  then :func:`dispatch_queue` runs; with room it is admitted at once (``pending``, its execution
  started), otherwise it waits.
* **Dispatch** (:func:`dispatch_queue`) holds the queue's lease, so two dispatchers never admit
  past the limits: it admits the waiting jobs in order of arrival, each one whose tenant and the
  whole system have room (a tenant at its limit does not hold the others back), and starts their
  executions. It runs after every admission, after a cancel, on every reconciler run (every
  minute, and in AWS whenever an execution ends) and at the end of every retraining tick: slots
  free when a job ends, and the reconciler is where that is seen.
* **Cancel** of a waiting job ends it (``cancelled``): it leaves the queue.
* **Waits** (:func:`queue_snapshot`): positions, and estimated waits from the median of recent
  training durations (:func:`~chronos_core.domain.retraining.estimate_waits`).
"""

from __future__ import annotations

import statistics
import time
import uuid
from datetime import datetime
from typing import Final

from pydantic import BaseModel, Field

from chronos_core.application.training.deps import QueueDeps
from chronos_core.application.training.execution import start_execution
from chronos_core.domain.ids import JobId
from chronos_core.domain.model import UtcDateTime, utcnow
from chronos_core.domain.retraining import admit_in_order, estimate_waits
from chronos_core.domain.training_job import TrainingJob
from chronos_core.observability import logger

QUEUE_LEASE: Final = "training-queue"
POLL_SECONDS: Final = 0.1
#: Waiting jobs a dispatch looks at, and running jobs counted, per pass.
SCAN_LIMIT: Final = 1000


def dispatch_queue(deps: QueueDeps) -> list[JobId]:
    """Admit and start the waiting jobs that fit the limits, oldest first (see the module
    docstring); the ids started. A dispatcher that cannot get the lease within
    ``wait_seconds`` leaves the queue to the one that holds it (or to the next run)."""
    settings = deps.queue_settings
    holder = uuid.uuid4().hex
    deadline = time.monotonic() + settings.wait_seconds
    while not deps.leases.acquire(QUEUE_LEASE, holder, settings.lease_seconds):
        if time.monotonic() >= deadline:
            logger.info("Training queue busy: another dispatcher holds it")
            return []
        time.sleep(POLL_SECONDS)
    try:
        return _dispatch(deps)
    finally:
        deps.leases.release(QUEUE_LEASE, holder)


def _dispatch(deps: QueueDeps) -> list[JobId]:
    waiting = deps.jobs.waiting_jobs(SCAN_LIMIT)
    if not waiting:
        return []
    running: dict[str, int] = {}
    for job in deps.jobs.active_jobs(SCAN_LIMIT):
        running[job.fiware_service] = running.get(job.fiware_service, 0) + 1
    started: list[JobId] = []
    for index in admit_in_order([j.fiware_service for j in waiting], running, deps.queue_settings.limits):
        admitted = deps.jobs.admit(waiting[index].id, utcnow())
        if admitted is None:
            continue  # cancelled meanwhile
        try:
            start_execution(deps, admitted)
        except Exception:  # recorded on the job by start_execution; the others still start
            logger.exception("A queued training could not start", extra={"job_id": admitted.id})
            continue
        started.append(admitted.id)
    if started:
        logger.info("Training queue dispatched", extra={"started": len(started), "waiting": len(waiting)})
    return started


class QueuedJob(BaseModel):
    """A job waiting for a slot: its place, why it waits, and about how long."""

    training_job_id: str
    model_id: str
    fiware_service: str
    position: int = Field(description="1 for the next job to start.")
    enqueued_at: UtcDateTime
    blocked_by: str | None
    estimated_wait_seconds: float | None = Field(
        description="From the median of recent training durations; null without completed trainings."
    )


class RunningJob(BaseModel):
    training_job_id: str
    model_id: str
    fiware_service: str
    status: str
    started_at: UtcDateTime | None


class QueueSnapshot(BaseModel):
    """``GET /training-queue``: the limits, the jobs holding slots and the ones waiting."""

    global_limit: int = Field(description="Trainings that may run at once (0: no limit).")
    tenant_limit: int = Field(description="Trainings one tenant may run at once (0: no limit).")
    running: list[RunningJob]
    waiting: list[QueuedJob]
    typical_duration_seconds: float | None


def queue_snapshot(deps: QueueDeps, tenants: frozenset[str] | None = None) -> QueueSnapshot:
    """The queue as it stands (``tenants``: only those tenants' jobs are listed; positions and
    waits are computed over the whole queue)."""
    limits = deps.queue_settings.limits
    waiting = deps.jobs.waiting_jobs(SCAN_LIMIT)
    active = deps.jobs.active_jobs(SCAN_LIMIT)
    durations = deps.jobs.recent_durations(deps.queue_settings.duration_samples)
    typical = statistics.median(durations) if durations else None
    now = utcnow()
    elapsed = [(j.fiware_service, _elapsed(j, now)) for j in active]
    waits = estimate_waits(elapsed, [j.fiware_service for j in waiting], limits, typical)
    by_tenant: dict[str, int] = {}
    for job in active:
        by_tenant[job.fiware_service] = by_tenant.get(job.fiware_service, 0) + 1

    def visible(service: str) -> bool:
        return tenants is None or service in tenants

    return QueueSnapshot(
        global_limit=limits.global_limit,
        tenant_limit=limits.tenant_limit,
        running=[
            RunningJob(
                training_job_id=j.id,
                model_id=j.model_id,
                fiware_service=j.fiware_service,
                status=j.status.value,
                started_at=j.started_at or (j.queue.admitted_at if j.queue else None),
            )
            for j in active
            if visible(j.fiware_service)
        ],
        waiting=[
            QueuedJob(
                training_job_id=j.id,
                model_id=j.model_id,
                fiware_service=j.fiware_service,
                position=i + 1,
                enqueued_at=j.queue.enqueued_at if j.queue else j.created_at,
                blocked_by=limits.blocked_by(
                    j.fiware_service, len(active), by_tenant.get(j.fiware_service, 0)
                )
                or "waiting for an earlier job",
                estimated_wait_seconds=None if waits[i] is None else round(float(waits[i] or 0.0), 1),
            )
            for i, j in enumerate(waiting)
            if visible(j.fiware_service)
        ],
        typical_duration_seconds=round(typical, 1) if typical is not None else None,
    )


def queued_position(deps: QueueDeps, job: TrainingJob) -> QueuedJob | None:
    """The job's entry in :func:`queue_snapshot`, while it waits."""
    if not job.waiting_in_queue:
        return None
    return next((q for q in queue_snapshot(deps).waiting if q.training_job_id == job.id), None)


def _elapsed(job: TrainingJob, now: datetime) -> float:
    started = job.started_at or (job.queue.admitted_at if job.queue else None) or job.created_at
    return max(0.0, (now - started).total_seconds())
