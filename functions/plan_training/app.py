"""Step "Plan": split the job's window of points into Map items."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from chronos_core import wiring
from chronos_core.application import training_pipeline as pipeline
from chronos_core.config import get_settings
from chronos_core.observability import logger


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = pipeline.JobEvent.model_validate(event)
    logger.set_correlation_id(request.job_id)
    settings = get_settings()
    result = pipeline.plan(
        wiring.training_job_repository(),
        request.job_id,
        settings.training_map_concurrency,
        settings.training_chunk_points,
    )
    return result.model_dump(mode="json")
