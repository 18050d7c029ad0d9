"""The FastAPI application. ``create_app`` assembles middleware, routers and error handlers
around the services it is given."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from chronos_core import __version__
from chronos_core.api.dashboard import DashboardConfig, dashboard_router
from chronos_core.api.deps import ApiServices
from chronos_core.api.errors import install_error_handlers
from chronos_core.api.middleware import BodySizeLimit, NulCharacters, RequestBudget
from chronos_core.api.routes import (
    alert_channels,
    alert_rules,
    alerts,
    anomaly_scans,
    devices,
    forecasts,
    models,
    retraining,
    silences,
    system,
    training_jobs,
    training_queue,
)


def create_app(services: ApiServices, *, dashboard: tuple[Path, DashboardConfig] | None = None) -> FastAPI:
    """The Chronos API over ``services`` (the bootstrap's in a Lambda, fakes in tests); with
    ``dashboard`` (the built app's folder and its sign-in settings) it also serves the web
    dashboard under ``/ui/`` (:mod:`chronos_core.api.dashboard`)."""
    settings = services.settings
    app = FastAPI(
        title="Chronos",
        version=__version__,
        description="Train LSTM/GRU forecasting models on FIWARE sensor history and publish forecasts.",
        # No redirect for a trailing slash: behind API Gateway it would drop the stage prefix and
        # reflect the Host header, before authentication. Such paths answer 404.
        redirect_slashes=False,
        # /openapi.json stays public (it describes the API, nothing of the deployment); no
        # Swagger UI or ReDoc, which load their assets from a public CDN.
        docs_url=None,
        redoc_url=None,
    )
    app.state.services = services
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
    app.add_middleware(NulCharacters)  # inside the size limit: it reads bodies already bounded
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_request_bytes)
    app.add_middleware(RequestBudget, seconds=settings.api_request_budget_seconds)
    for module in (
        system,
        models,
        training_jobs,
        training_queue,
        retraining,
        devices,
        forecasts,
        alert_rules,
        alerts,
        alert_channels,
        silences,
        anomaly_scans,
    ):
        app.include_router(module.router)
    if dashboard is not None:
        app.include_router(dashboard_router(*dashboard))
    return app
