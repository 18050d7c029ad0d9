"""Map item "CollectChunk": page one chunk out of STH-Comet into its S3 checkpoint."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from chronos_core import wiring
from chronos_core.application import training_pipeline as pipeline
from chronos_core.domain.training import ChunkSpec
from chronos_core.observability import logger


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = pipeline.ChunkEvent.model_validate(event)
    logger.set_correlation_id(request.job_id)
    logger.append_keys(offset=request.offset)
    result = pipeline.collect_chunk(
        wiring.training_job_repository(),
        wiring.model_repository(),
        wiring.series_source(),
        wiring.object_store(),
        request.job_id,
        ChunkSpec(offset=request.offset, count=request.count),
    )
    return result.model_dump(mode="json")
