"""Plux plugin registering the executor under ``localstack.lambda.runtime_executor``."""

from __future__ import annotations

from typing import Any

from localstack.services.lambda_.invocation.plugins import RuntimeExecutorPlugin

from chronos_lambda_executor import PLUGIN_NAME


class ChronosSubprocessExecutorPlugin(RuntimeExecutorPlugin):
    """``LAMBDA_RUNTIME_EXECUTOR=chronos-subprocess``: ``load()`` returns the executor class."""

    name = PLUGIN_NAME

    def load(self, *args: Any, **kwargs: Any) -> type:
        from chronos_lambda_executor import esm_concurrency
        from chronos_lambda_executor.executor import SubprocessRuntimeExecutor

        esm_concurrency.install()  # before any event source mapping starts

        return SubprocessRuntimeExecutor
