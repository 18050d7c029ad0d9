"""Routes for the training jobs of a model."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Response

from chronos_core.api.deps import JobIdPath, ModelIdPath, ServicesDep
from chronos_core.api.routing import AuthenticatedRoute
from chronos_core.api.schemas.errors import ErrorResponse
from chronos_core.api.schemas.training_jobs import TrainingJobPage, TrainingJobResponse, TrainingRequest
from chronos_core.api.security import Operator, Reader
from chronos_core.application.training import admission, control, queries, queue, removal
from chronos_core.application.training.commands import JobCommand, ListJobs, StartTraining

router = APIRouter(
    prefix="/models/{model_id}/training-jobs", tags=["Training"], route_class=AuthenticatedRoute
)

_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "No such model or job (for this caller)."},
    409: {"model": ErrorResponse, "description": "The job's or model's state forbids this."},
    422: {"model": ErrorResponse, "description": "Invalid input or not enough data."},
    502: {"model": ErrorResponse, "description": "STH-Comet answered with an error."},
    503: {"model": ErrorResponse, "description": "A dependency cannot be reached."},
}


@router.post("", status_code=202, response_model=TrainingJobResponse, responses=_ERRORS)
def start_training(
    principal: Operator,
    services: ServicesDep,
    response: Response,
    model_id: ModelIdPath,
    request: Annotated[TrainingRequest | None, Body()] = None,
) -> TrainingJobResponse:
    """Admit a training run; 202 with the job and its ``Location``. It starts at once (``pending``)
    or, with the concurrency limits reached, waits ``queued`` with its position and estimated wait."""
    last_n = request.last_n if request else None
    job = admission.start_training(
        services, StartTraining(principal=principal, model_id=model_id, last_n=last_n)
    )
    response.headers["Location"] = f"/models/{model_id}/training-jobs/{job.id}"
    return TrainingJobResponse.of(job, services.workflow, queue=queue.queued_position(services, job))


@router.get("", response_model=TrainingJobPage, responses={404: _ERRORS[404]})
def list_jobs(
    principal: Reader,
    services: ServicesDep,
    model_id: ModelIdPath,
    skip: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> TrainingJobPage:
    """The model's training jobs, newest first."""
    page = queries.list_jobs(
        services, ListJobs(principal=principal, model_id=model_id, skip=skip, limit=limit)
    )
    waiting = {}
    if any(j.waiting_in_queue for j in page.items):
        waiting = {q.training_job_id: q for q in queue.queue_snapshot(services).waiting}
    return TrainingJobPage(
        items=[TrainingJobResponse.of(j, queue=waiting.get(j.id)) for j in page.items],
        total=page.total,
        skip=page.skip,
        limit=page.limit,
    )


@router.get("/{job_id}", response_model=TrainingJobResponse, responses={404: _ERRORS[404]})
def get_job(
    principal: Reader, services: ServicesDep, model_id: ModelIdPath, job_id: JobIdPath
) -> TrainingJobResponse:
    """One job with its epoch history and a link to its execution."""
    job = queries.get_job(services, JobCommand(principal=principal, model_id=model_id, job_id=job_id))
    return TrainingJobResponse.of(
        job, services.workflow, with_history=True, queue=queue.queued_position(services, job)
    )


@router.post("/{job_id}/cancel", response_model=TrainingJobResponse, responses=_ERRORS)
def cancel_job(
    principal: Operator, services: ServicesDep, model_id: ModelIdPath, job_id: JobIdPath
) -> TrainingJobResponse:
    """Stop a running job (a queued one leaves the queue); 409 once it has finished."""
    job = control.cancel_job(services, JobCommand(principal=principal, model_id=model_id, job_id=job_id))
    return TrainingJobResponse.of(job, services.workflow)


@router.post("/{job_id}/retry", status_code=202, response_model=TrainingJobResponse, responses=_ERRORS)
def retry_job(
    principal: Operator, services: ServicesDep, model_id: ModelIdPath, job_id: JobIdPath
) -> TrainingJobResponse:
    """Resume a failed job from its checkpoints."""
    job = control.retry_job(services, JobCommand(principal=principal, model_id=model_id, job_id=job_id))
    return TrainingJobResponse.of(job, services.workflow)


@router.delete("/{job_id}", status_code=204, responses=_ERRORS)
def delete_job(
    principal: Operator, services: ServicesDep, model_id: ModelIdPath, job_id: JobIdPath
) -> Response:
    """Delete a finished job with its artifacts, checkpoints and FIWARE resources."""
    removal.delete_job(services, JobCommand(principal=principal, model_id=model_id, job_id=job_id))
    return Response(status_code=204)
