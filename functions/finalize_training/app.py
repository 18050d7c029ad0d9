"""Step "Finalize": the job becomes ``completed`` and the model ``trained``."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from chronos_core.application.training.pipeline.completion import finalize
from chronos_core.application.training.pipeline.events import JobEvent
from chronos_core.bootstrap import services
from chronos_core.observability import logger


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = JobEvent.model_validate(event)
    logger.set_correlation_id(request.job_id)
    return finalize(services(), request).model_dump(mode="json")
