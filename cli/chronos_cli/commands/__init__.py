"""The command groups, one module per resource of the API.

Each module has ``register(app)``, which adds its commands (usually one ``typer.Typer`` group)
to the root application. A new capability gets its own module here and one line in
:data:`MODULES`, for instance ``alerts`` (alerts and rules), ``retraining`` (retraining
policies) and ``anomalies`` (anomaly scans) once their API routes exist.
"""

from __future__ import annotations

from types import ModuleType

import typer

from chronos_cli.commands import (
    alerts,
    auth,
    champion,
    config,
    devices,
    forecasts,
    jobs,
    models,
    predict,
    queue,
    retraining,
    scans,
    system,
    train,
)

MODULES: tuple[ModuleType, ...] = (
    config,
    auth,
    system,
    devices,
    models,
    train,
    jobs,
    predict,
    forecasts,
    retraining,
    champion,
    queue,
    alerts,
    scans,
)


def register_all(app: typer.Typer) -> None:
    for module in MODULES:
        module.register(app)
