"""The training workflow on AWS Step Functions."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chronos_core.application.ports.pipeline import ExecutionState
from chronos_core.domain.errors import ConflictError, DependencyUnavailableError


class StepFunctionsWorkflow:
    """:class:`~chronos_core.application.ports.pipeline.Workflow` for one state machine."""

    def __init__(self, client: Any, state_machine_arn: str, region: str, *, local: bool) -> None:
        self._sfn = client
        self._arn = state_machine_arn
        self._region = region
        self._local = local

    def start(self, name: str, payload: dict[str, Any]) -> str:
        try:
            response = self._sfn.start_execution(
                stateMachineArn=self._arn, name=name, input=json.dumps(payload)
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ExecutionAlreadyExists":
                raise ConflictError(f"An execution named {name} exists already") from exc
            raise DependencyUnavailableError("Step Functions refused to start the training workflow") from exc
        except BotoCoreError as exc:
            raise DependencyUnavailableError("Step Functions cannot be reached") from exc
        return str(response["executionArn"])

    def stop(self, execution_arn: str, cause: str) -> None:
        try:
            self._sfn.stop_execution(executionArn=execution_arn, cause=cause[:32768])
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code in ("ExecutionDoesNotExist", "ExecutionNotStopped", "ValidationException"):
                return
            raise DependencyUnavailableError("Step Functions refused to stop the execution") from exc
        except BotoCoreError as exc:
            raise DependencyUnavailableError("Step Functions cannot be reached") from exc

    def describe(self, execution_arn: str) -> ExecutionState | None:
        try:
            found = self._sfn.describe_execution(executionArn=execution_arn)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ExecutionDoesNotExist":
                return None
            raise DependencyUnavailableError("Step Functions refused to describe the execution") from exc
        except BotoCoreError as exc:
            raise DependencyUnavailableError("Step Functions cannot be reached") from exc
        return ExecutionState(
            status=str(found["status"]),
            error=found.get("error"),
            cause=found.get("cause"),
            stopped_at=found.get("stopDate"),
        )

    def console_url(self, execution_arn: str) -> str | None:
        if self._local:
            return None
        return (
            f"https://{self._region}.console.aws.amazon.com/states/home?region={self._region}"
            f"#/v2/executions/details/{execution_arn}"
        )
