"""Catch target of every state: record the failure on the job and restore the model's status."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from chronos_core import wiring
from chronos_core.application import training_pipeline as pipeline
from chronos_core.observability import logger


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = pipeline.FailureEvent.model_validate(event)
    logger.set_correlation_id(request.job_id)
    return pipeline.record_failure(
        wiring.training_job_repository(),
        wiring.model_repository(),
        request.job_id,
        request.error,
        request.cause,
    )
