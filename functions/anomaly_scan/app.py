"""The anomaly-scan state machine's steps (statemachines/anomaly_scan.asl.json), one thin handler
per state, all in one package: Plan, ScoreChunk (the Map item), RecordChunkFailure, Combine,
Publish and RecordFailure (the Catch target of every state). Each parses its payload, calls one
use case of ``chronos_core.application.anomaly.pipeline`` and returns its result as JSON."""

from __future__ import annotations

from typing import Any, Final

from aws_lambda_powertools.utilities.typing import LambdaContext

from chronos_core.application.anomaly.pipeline.combining import combine_scan
from chronos_core.application.anomaly.pipeline.events import (
    ChunkFailureEvent,
    ScanChunkEvent,
    ScanEvent,
    ScanFailureEvent,
)
from chronos_core.application.anomaly.pipeline.failure import record_scan_failure
from chronos_core.application.anomaly.pipeline.planning import plan_scan
from chronos_core.application.anomaly.pipeline.publishing import publish_scan
from chronos_core.application.anomaly.pipeline.scoring import record_chunk_failure, score_chunk
from chronos_core.bootstrap import services
from chronos_core.deadlines import deadline_in
from chronos_core.observability import logger

#: Time kept back from the function's limit to score the chunk and write its checkpoint.
SCORING_MARGIN_SECONDS: Final = 30.0


@logger.inject_lambda_context(clear_state=True)
def plan(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = ScanEvent.model_validate(event)
    logger.set_correlation_id(request.scan_id)
    return plan_scan(services(), request).model_dump(mode="json")


@logger.inject_lambda_context(clear_state=True)
def score(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = ScanChunkEvent.model_validate(event)
    logger.set_correlation_id(request.scan_id)
    logger.append_keys(offset=request.offset)
    budget = max(1.0, context.get_remaining_time_in_millis() / 1000 - SCORING_MARGIN_SECONDS)
    with deadline_in(budget):
        return score_chunk(services(), request).model_dump(mode="json")


@logger.inject_lambda_context(clear_state=True)
def record_chunk(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = ChunkFailureEvent.model_validate(event)
    logger.set_correlation_id(request.scan_id)
    return record_chunk_failure(services(), request).model_dump(mode="json")


@logger.inject_lambda_context(clear_state=True)
def combine(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = ScanEvent.model_validate(event)
    logger.set_correlation_id(request.scan_id)
    return combine_scan(services(), request).model_dump(mode="json")


@logger.inject_lambda_context(clear_state=True)
def publish(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = ScanEvent.model_validate(event)
    logger.set_correlation_id(request.scan_id)
    return publish_scan(services(), request).model_dump(mode="json")


@logger.inject_lambda_context(clear_state=True)
def record_failure(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = ScanFailureEvent.model_validate(event)
    logger.set_correlation_id(request.scan_id)
    return record_scan_failure(services(), request).model_dump(mode="json")
