"""Step "Prepare": merge checkpoints, check the data and write the dataset to S3."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from chronos_core import wiring
from chronos_core.application import training_pipeline as pipeline
from chronos_core.observability import logger


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = pipeline.JobEvent.model_validate(event)
    logger.set_correlation_id(request.job_id)
    result = pipeline.prepare(
        wiring.training_job_repository(), wiring.model_repository(), wiring.object_store(), request.job_id
    )
    return result.model_dump(mode="json")
