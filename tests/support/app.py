"""The API in-process over the bootstrap's container: real MongoDB adapters on a test database,
in-memory fakes for the rest."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pymongo.database import Database

from chronos_core.adapters.artifact_store import GridFSArtifactStore
from chronos_core.adapters.mongo import (
    Document,
    MongoAuthFailureCounter,
    MongoHealthProbe,
    MongoModelRepository,
    MongoTrainingJobRepository,
)
from chronos_core.adapters.mongo.alert_rules import MongoAlertRules, MongoEvaluationLog, MongoRuleStates
from chronos_core.adapters.mongo.alerts import MongoAlertStore, MongoSilenceStore
from chronos_core.adapters.mongo.forecast_log import MongoForecastLog, MongoForecastRunHistory
from chronos_core.adapters.mongo.notifications import MongoChannelStore, MongoNotificationStore
from chronos_core.api.app import create_app
from chronos_core.bootstrap import Services
from chronos_core.config import Settings
from tests.support.fakes import fake_services


def monitoring_adapters(mongo_db: Database[Document]) -> dict[str, Any]:
    """The real MongoDB adapters of every monitoring port on ``mongo_db``."""
    return {
        "alert_rules": MongoAlertRules(mongo_db),
        "rule_states": MongoRuleStates(mongo_db),
        "alert_evaluations": MongoEvaluationLog(mongo_db),
        "alerts": MongoAlertStore(mongo_db),
        "silences": MongoSilenceStore(mongo_db),
        "notifications": MongoNotificationStore(mongo_db),
        "channels": MongoChannelStore(mongo_db),
        "forecast_log": MongoForecastLog(mongo_db),
        "forecast_runs": MongoForecastRunHistory(mongo_db),
    }


def mongo_services(
    mongo_db: Database[Document],
    *,
    settings: Settings | None = None,
    window_seconds: int = 300,
    **overrides: Any,
) -> Services:
    """Services whose models, jobs, artifacts, failure counter, health probe and monitoring
    stores are the real MongoDB adapters on ``mongo_db``; everything else is a fake
    (``overrides`` replace any)."""
    mongo: dict[str, Any] = {
        "models": MongoModelRepository(mongo_db),
        "jobs": MongoTrainingJobRepository(mongo_db),
        "artifacts": GridFSArtifactStore(mongo_db),
        "auth_failures": MongoAuthFailureCounter(mongo_db, window_seconds),
        "health_probes": [MongoHealthProbe(mongo_db.client)],
        "job_cleaners": [],
        **monitoring_adapters(mongo_db),
    }
    return fake_services(settings, **{**mongo, **overrides})


def build_app(
    mongo_db: Database[Document],
    *,
    settings: Settings | None = None,
    window_seconds: int = 300,
    **overrides: Any,
) -> FastAPI:
    """The real app over :func:`mongo_services`."""
    return create_app(mongo_services(mongo_db, settings=settings, window_seconds=window_seconds, **overrides))
