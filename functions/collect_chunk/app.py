"""Map item "CollectChunk": page one chunk out of STH-Comet into its S3 checkpoint, within the
function's time limit (what does not fit is continued by the next call)."""

from __future__ import annotations

from typing import Any, Final

from aws_lambda_powertools.utilities.typing import LambdaContext

from chronos_core.application.training.pipeline.collection import collect_chunk
from chronos_core.application.training.pipeline.events import ChunkEvent
from chronos_core.bootstrap import services
from chronos_core.deadlines import deadline_in
from chronos_core.observability import logger

#: Time kept back from the function's limit to write the checkpoint and record the chunk.
CHECKPOINT_MARGIN_SECONDS: Final = 20.0


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = ChunkEvent.model_validate(event)
    logger.set_correlation_id(request.job_id)
    logger.append_keys(offset=request.offset)
    budget = max(1.0, context.get_remaining_time_in_millis() / 1000 - CHECKPOINT_MARGIN_SECONDS)
    with deadline_in(budget):
        return collect_chunk(services(), request).model_dump(mode="json")
