"""FastAPI dependencies: the services the app was created with, and path parameters.

:func:`chronos_core.api.app.create_app` stores its services on ``app.state.services``; routes
receive them through :data:`ServicesDep`. Tests create the app with fake services instead of
overriding dependencies one by one.
"""

from __future__ import annotations

from typing import Annotated, Protocol, cast

from fastapi import Depends, Path, Request

from chronos_core.application.anomaly.deps import ScanControlDeps
from chronos_core.application.devices.listing import DevicesDeps
from chronos_core.application.forecasting.deps import HistoryDeps, PredictionDeps, ProvisioningDeps
from chronos_core.application.monitoring.deps import (
    AlertQueryDeps,
    ChannelAdminDeps,
    RuleAdminDeps,
    SilenceDeps,
)
from chronos_core.application.ports.training_jobs import ForecastingJobs
from chronos_core.application.retraining.deps import ChampionDeps, RetrainDeps
from chronos_core.application.system.auth import AuthDeps
from chronos_core.application.system.health import HealthDeps
from chronos_core.application.training.deps import JobRemovalDeps, TrainingControlDeps
from chronos_core.config import Settings
from chronos_core.domain.ids import JobId, ModelId, ScanId


class ApiServices(
    RetrainDeps,
    ChampionDeps,
    ScanControlDeps,
    TrainingControlDeps,
    JobRemovalDeps,
    PredictionDeps,
    ProvisioningDeps,
    HistoryDeps,
    DevicesDeps,
    AuthDeps,
    HealthDeps,
    RuleAdminDeps,
    ChannelAdminDeps,
    SilenceDeps,
    AlertQueryDeps,
    Protocol,
):
    """Everything the API's use cases depend on (:class:`chronos_core.bootstrap.Services` is one)."""

    @property
    def jobs(self) -> ForecastingJobs: ...

    @property
    def settings(self) -> Settings: ...


def services(request: Request) -> ApiServices:
    return cast("ApiServices", request.app.state.services)


def settings(request: Request) -> Settings:
    return services(request).settings


ServicesDep = Annotated[ApiServices, Depends(services)]
SettingsDep = Annotated[Settings, Depends(settings)]

#: Path parameters shared by the routes.
ModelIdPath = Annotated[ModelId, Path(description="Model id (UUID).", min_length=1, max_length=64)]
JobIdPath = Annotated[JobId, Path(description="Training job id (UUID).", min_length=1, max_length=64)]
ScanIdPath = Annotated[ScanId, Path(description="Anomaly scan id (UUID).", min_length=1, max_length=64)]
