"""Step "Train" for local runs: the trainer's code in a Lambda (AWS runs it on Batch).

TensorFlow is not in the layer; locally the executor runs this function in the project's
virtualenv, which has it. In AWS the state machine uses the Batch branch instead.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from chronos_core import wiring
from chronos_core.application import training_pipeline as pipeline
from chronos_core.observability import logger


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = pipeline.TrainEvent.model_validate(event)
    logger.set_correlation_id(request.job_id)
    return pipeline.train(
        wiring.training_job_repository(),
        wiring.model_repository(),
        wiring.object_store(),
        wiring.artifact_store(),
        request.job_id,
        request.dataset_key,
    )
