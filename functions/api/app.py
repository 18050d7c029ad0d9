"""API Lambda: API Gateway (REST, proxy) -> Mangum -> the Chronos FastAPI app."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from mangum import Mangum

from chronos_core.api.app import create_app
from chronos_core.api.dashboard import DashboardConfig
from chronos_core.bootstrap import services
from chronos_core.observability import logger

# The dashboard (web/, built by `make setup` into ./dashboard) ships with this function.
app = create_app(services(), dashboard=(Path(__file__).parent / "dashboard", DashboardConfig.from_env()))
_asgi = Mangum(app, lifespan="off")


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return _asgi(event, context)  # type: ignore[arg-type]
