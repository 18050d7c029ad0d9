"""Routes for the training jobs of a model."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Response
from pydantic import BaseModel, Field, field_serializer

from chronos_core.api.deps import (
    ArtifactStoreDep,
    JobCleanersDep,
    ModelRepositoryDep,
    ObjectStoreDep,
    SeriesSourceDep,
    TrainingJobsDep,
    WorkflowDep,
)
from chronos_core.api.schemas import ErrorResponse, JobId, ModelId
from chronos_core.api.security import Operator, Reader
from chronos_core.application import training as use_cases
from chronos_core.application.training import TrainingRequest
from chronos_core.domain.model import iso_z
from chronos_core.domain.training import EpochRecord, JobError, Progress, TrainingJob, TrainingStatus

router = APIRouter(prefix="/models/{model_id}/training-jobs", tags=["Training"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "No such model or job (for this caller)."},
    409: {"model": ErrorResponse, "description": "The job's or model's state forbids this."},
    422: {"model": ErrorResponse, "description": "Invalid input or not enough data."},
    502: {"model": ErrorResponse, "description": "STH-Comet answered with an error."},
    503: {"model": ErrorResponse, "description": "A dependency cannot be reached."},
}


class PhaseTimingResponse(BaseModel):
    started_at: datetime | None
    ended_at: datetime | None
    seconds: float | None

    @field_serializer("started_at", "ended_at")
    def _utc(self, value: datetime | None) -> str | None:
        return iso_z(value) if value else None


class ProgressResponse(Progress):
    percent: float


class ExecutionResponse(BaseModel):
    name: str
    arn: str | None
    attempt: int
    console_url: str | None


class TrainingJobResponse(BaseModel):
    """A training job: status, phase, progress, timings, outcome."""

    id: str
    model_id: str
    status: TrainingStatus
    phase: str | None
    last_n: int
    points_available: int
    progress: ProgressResponse
    phases: dict[str, PhaseTimingResponse]
    data_quality: dict[str, Any] | None
    sampling_interval_seconds: float | None
    metrics: dict[str, Any] | None
    serving: str | None = None
    selection: dict[str, Any] | None = None
    artifacts: dict[str, str] | None
    error: JobError | None
    execution: ExecutionResponse | None
    history: list[EpochRecord] | None = None
    prediction_config: dict[str, Any] | None = None
    next_prediction_at: datetime | None = Field(
        default=None,
        description="The first slot of the forecast grid not yet forecast; in the past while that "
        "slot's forecast is queued or being retried.",
    )
    last_forecast: dict[str, Any] | None = None
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    duration_seconds: float | None

    @field_serializer("created_at", "updated_at", "started_at", "ended_at", "next_prediction_at")
    def _utc(self, value: datetime | None) -> str | None:
        return iso_z(value) if value else None

    @classmethod
    def of(
        cls, job: TrainingJob, workflow: Any | None = None, *, with_history: bool = False
    ) -> TrainingJobResponse:
        p = job.progress
        if job.status == TrainingStatus.COMPLETED:
            percent = 100.0
        elif p.epochs:
            percent = 50.0 + 50.0 * p.epoch / p.epochs
        elif p.points_expected:
            percent = 50.0 * min(p.points_collected, p.points_expected) / p.points_expected
        else:
            percent = 0.0
        execution = None
        if job.execution is not None:
            console = workflow.console_url(job.execution.arn) if workflow and job.execution.arn else None
            execution = ExecutionResponse(
                name=job.execution.name,
                arn=job.execution.arn,
                attempt=job.execution.attempt,
                console_url=console,
            )
        end = job.ended_at
        return cls(
            id=job.id,
            model_id=job.model_id,
            status=job.status,
            phase=job.phase.value if job.phase else None,
            last_n=job.last_n,
            points_available=job.points_available,
            progress=ProgressResponse(**p.model_dump(), percent=round(percent, 1)),
            phases={
                name: PhaseTimingResponse(started_at=t.started_at, ended_at=t.ended_at, seconds=t.seconds)
                for name, t in job.phases.items()
            },
            data_quality=job.data_quality,
            sampling_interval_seconds=job.sampling_interval_seconds,
            metrics=job.metrics,
            serving=job.serving,
            selection=job.selection,
            artifacts=job.artifacts,
            error=job.error,
            execution=execution,
            history=job.history if with_history else None,
            prediction_config=job.prediction_config,
            next_prediction_at=job.next_prediction_at,
            last_forecast=job.last_forecast,
            created_at=job.created_at,
            updated_at=job.updated_at,
            started_at=job.started_at,
            ended_at=job.ended_at,
            duration_seconds=(end - job.started_at).total_seconds() if end and job.started_at else None,
        )


class TrainingJobPage(BaseModel):
    items: list[TrainingJobResponse]
    total: int
    skip: int
    limit: int


@router.post("", status_code=202, response_model=TrainingJobResponse, responses=_ERRORS)
def start_training(
    principal: Operator,
    response: Response,
    models: ModelRepositoryDep,
    jobs: TrainingJobsDep,
    series: SeriesSourceDep,
    workflow: WorkflowDep,
    model_id: ModelId,
    request: Annotated[TrainingRequest | None, Body()] = None,
) -> TrainingJobResponse:
    """Admit a training run and start the pipeline; 202 with the job and its ``Location``."""
    job = use_cases.start_training(
        models, jobs, series, workflow, principal, model_id, request or TrainingRequest()
    )
    response.headers["Location"] = f"/models/{model_id}/training-jobs/{job.id}"
    return TrainingJobResponse.of(job, workflow)


@router.get("", response_model=TrainingJobPage, responses={404: _ERRORS[404]})
def list_jobs(
    principal: Reader,
    models: ModelRepositoryDep,
    jobs: TrainingJobsDep,
    model_id: ModelId,
    skip: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> TrainingJobPage:
    """The model's training jobs, newest first."""
    page = use_cases.list_jobs(models, jobs, principal, model_id, skip, limit)
    return TrainingJobPage(
        items=[TrainingJobResponse.of(j) for j in page.items],
        total=page.total,
        skip=page.skip,
        limit=page.limit,
    )


@router.get("/{job_id}", response_model=TrainingJobResponse, responses={404: _ERRORS[404]})
def get_job(
    principal: Reader,
    models: ModelRepositoryDep,
    jobs: TrainingJobsDep,
    workflow: WorkflowDep,
    model_id: ModelId,
    job_id: JobId,
) -> TrainingJobResponse:
    """One job with its epoch history and a link to its execution."""
    job = use_cases.get_job(models, jobs, principal, model_id, job_id)
    return TrainingJobResponse.of(job, workflow, with_history=True)


@router.post("/{job_id}/cancel", response_model=TrainingJobResponse, responses=_ERRORS)
def cancel_job(
    principal: Operator,
    models: ModelRepositoryDep,
    jobs: TrainingJobsDep,
    workflow: WorkflowDep,
    model_id: ModelId,
    job_id: JobId,
) -> TrainingJobResponse:
    """Stop a running job; 409 once it has finished."""
    return TrainingJobResponse.of(
        use_cases.cancel_job(models, jobs, workflow, principal, model_id, job_id), workflow
    )


@router.post("/{job_id}/retry", status_code=202, response_model=TrainingJobResponse, responses=_ERRORS)
def retry_job(
    principal: Operator,
    models: ModelRepositoryDep,
    jobs: TrainingJobsDep,
    workflow: WorkflowDep,
    model_id: ModelId,
    job_id: JobId,
) -> TrainingJobResponse:
    """Resume a failed job from its checkpoints."""
    return TrainingJobResponse.of(
        use_cases.retry_job(models, jobs, workflow, principal, model_id, job_id), workflow
    )


@router.delete("/{job_id}", status_code=204, responses=_ERRORS)
def delete_job(
    principal: Operator,
    models: ModelRepositoryDep,
    jobs: TrainingJobsDep,
    artifacts: ArtifactStoreDep,
    objects: ObjectStoreDep,
    cleaners: JobCleanersDep,
    model_id: ModelId,
    job_id: JobId,
) -> Response:
    """Delete a finished job with its artifacts, checkpoints and FIWARE resources."""
    use_cases.delete_job(models, jobs, artifacts, objects, cleaners, principal, model_id, job_id)
    return Response(status_code=204)
