"""Map item "CollectChunk": page one chunk out of STH-Comet into its S3 checkpoint."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from chronos_core.application.training.pipeline.collection import collect_chunk
from chronos_core.application.training.pipeline.events import ChunkEvent
from chronos_core.bootstrap import services
from chronos_core.observability import logger


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = ChunkEvent.model_validate(event)
    logger.set_correlation_id(request.job_id)
    logger.append_keys(offset=request.offset)
    return collect_chunk(services(), request).model_dump(mode="json")
