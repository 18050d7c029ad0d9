"""The FastAPI application. ``create_app`` assembles middleware, routers and error handlers."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from chronos_core import __version__
from chronos_core.api.errors import install_error_handlers
from chronos_core.api.middleware import BodySizeLimit
from chronos_core.api.routes import devices, models, predictions, system, training
from chronos_core.config import Settings, get_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(
        title="Chronos",
        version=__version__,
        description="Train LSTM/GRU forecasting models on FIWARE sensor history and publish forecasts.",
    )
    install_error_handlers(app)
    origins = settings.cors_allowed_origins
    if origins:
        wildcard = "*" in origins
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_credentials=not wildcard,  # never a wildcard together with credentials
            allow_methods=["GET", "POST", "PATCH", "DELETE", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type"],
            max_age=600,
        )
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_request_bytes)
    app.include_router(system.router)
    app.include_router(models.router)
    app.include_router(training.router)
    app.include_router(devices.router)
    app.include_router(predictions.router)
    return app
