"""The FastAPI application. ``create_app`` assembles routers and error handlers, nothing else."""

from __future__ import annotations

from fastapi import FastAPI

from chronos_core import __version__
from chronos_core.api.errors import install_error_handlers
from chronos_core.api.routes import models, system


def create_app() -> FastAPI:
    app = FastAPI(
        title="Chronos",
        version=__version__,
        description="Train LSTM/GRU forecasting models on FIWARE sensor history and publish forecasts.",
    )
    install_error_handlers(app)
    app.include_router(system.router)
    app.include_router(models.router)
    return app
