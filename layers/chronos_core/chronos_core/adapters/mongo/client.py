"""The MongoDB client, retries of transient errors, and the indexes of every collection.

Documents keep ids as UUID strings in ``id`` (``_id`` stays Mongo's own) and datetimes as BSON
dates in UTC. The code uses only features that FerretDB v1 also implements, so any real MongoDB
works unchanged.
"""

from __future__ import annotations

import functools
import random
import time
from collections.abc import Callable
from datetime import UTC
from typing import Any, Concatenate, cast

from pymongo import ASCENDING, DESCENDING, MongoClient
from pymongo.database import Database
from pymongo.errors import (
    AutoReconnect,
    ConnectionFailure,
    ExecutionTimeout,
    OperationFailure,
    ServerSelectionTimeoutError,
)

from chronos_core.domain.errors import DependencyUnavailableError

Document = dict[str, Any]

MODELS = "models"
#: One document per model while it trains (``_id`` = model id). Inserting a unique ``_id`` is
#: atomic on every MongoDB implementation; a conditional update is not on FerretDB v1.
TRAINING_LOCKS = "training_locks"
TRAINING_JOBS = "training_jobs"
#: One document per collected chunk of a job (``_id`` = ``<job_id>|<offset>``).
TRAINING_CHUNKS = "training_chunks"
#: Live training progress (epochs, losses, history), one document per job, written only by the
#: trainer; the job document itself changes only on state transitions.
TRAINING_PROGRESS = "training_progress"
#: One document per forecast run of ``(job, slot)``.
FORECAST_RUNS = "forecast_runs"
#: One claim ticket per ``(job, slot)``.
FORECAST_CLAIMS = "forecast_claims"
#: The random IoT Agent API key of each tenant's forecast service group.
FORECAST_SERVICE_GROUPS = "forecast_service_groups"
AUTH_FAILURES = "auth_failures"
#: Short exclusive leases (``_id`` = the lease's name).
LEASES = "leases"
#: Monitoring: rule definitions, their states (``_id`` = rule id), evaluation claim tickets
#: (``_id`` = ``<rule>|<slot>``) and the evaluation log.
ALERT_RULES = "alert_rules"
ALERT_STATES = "alert_states"
ALERT_CLAIMS = "alert_claims"
ALERT_EVALUATIONS = "alert_evaluations"
#: Alerts (one per episode) and their transition events.
ALERTS = "alerts"
ALERT_EVENTS = "alert_events"
#: Notifications, the claim of each delivery attempt (``_id`` = ``<notification>#<n>``),
#: channels and silences.
ALERT_NOTIFICATIONS = "alert_notifications"
NOTIFICATION_ATTEMPTS = "notification_attempts"
ALERT_CHANNELS = "alert_channels"
ALERT_SILENCES = "alert_silences"
#: Forecasts published by recurring runs, a bounded number per job (``_id`` =
#: ``<job>|<generated_at>``).
FORECAST_LOG = "forecast_log"
#: Triggers attached to a running training (``_id`` = job id and trigger key; inserted once).
TRAINING_TRIGGERS = "training_triggers"
#: One retraining policy per model (``_id`` = model id).
RETRAINING_POLICIES = "retraining_policies"
#: The log of retraining triggers (``_id`` = the trigger's key; inserting it claims it).
RETRAINING_RUNS = "retraining_runs"
#: Informational events about a model's serving (promotions, challengers kept, pins, rollbacks).
MODEL_EVENTS = "model_events"
#: Anomaly scans; one record per scored (or failed, or partly read) chunk of a scan
#: (``_id`` = ``<scan_id>|<offset>``); a scan's findings (events and data-quality issues).
ANOMALY_SCANS = "anomaly_scans"
ANOMALY_CHUNKS = "anomaly_chunks"
ANOMALY_FINDINGS = "anomaly_findings"

#: Errors that mean "the server is unreachable or overloaded": worth a retry, then a 503.
TRANSIENT_ERRORS = (AutoReconnect, ConnectionFailure, ServerSelectionTimeoutError, ExecutionTimeout)


def call_with_retries[R](operation: Callable[[], R], attempts: int) -> R:
    """Run ``operation``, retrying transient errors ``attempts`` times in all (backoff with
    jitter), then raise DependencyUnavailableError (the API answers 503 with Retry-After)."""
    for attempt in range(1, attempts + 1):
        try:
            return operation()
        except TRANSIENT_ERRORS as exc:
            if attempt == attempts:
                raise DependencyUnavailableError("The database is unavailable; retry later") from exc
            time.sleep(min(0.1 * 2**attempt, 1.0) * random.uniform(0.5, 1.0))  # noqa: S311
    raise AssertionError("attempts must be >= 1")


def with_retries[**P, R](
    method: Callable[Concatenate[Any, P], R],
) -> Callable[Concatenate[Any, P], R]:
    """Decorate a repository method with :func:`call_with_retries` (``self._attempts`` tries)."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: P.args, **kwargs: P.kwargs) -> R:
        return call_with_retries(lambda: method(self, *args, **kwargs), getattr(self, "_attempts", 3))

    return cast("Callable[Concatenate[Any, P], R]", wrapper)


# (collection, keys, options) — created idempotently by ensure_indexes.
INDEXES: list[tuple[str, list[tuple[str, int]], dict[str, Any]]] = [
    (MODELS, [("id", ASCENDING)], {"unique": True, "name": "id_unique"}),
    (MODELS, [("created_at", DESCENDING)], {"name": "created_at"}),
    (MODELS, [("status", ASCENDING)], {"name": "status"}),
    (MODELS, [("model_type", ASCENDING)], {"name": "model_type"}),
    (MODELS, [("entity_id", ASCENDING)], {"name": "entity_id"}),
    (MODELS, [("feature", ASCENDING)], {"name": "feature"}),
    (MODELS, [("model_type", ASCENDING), ("status", ASCENDING)], {"name": "model_type_status"}),
    (MODELS, [("entity_id", ASCENDING), ("feature", ASCENDING)], {"name": "entity_id_feature"}),
    (TRAINING_JOBS, [("id", ASCENDING)], {"unique": True, "name": "id_unique"}),
    (TRAINING_JOBS, [("model_id", ASCENDING), ("created_at", DESCENDING)], {"name": "model_id_created_at"}),
    (TRAINING_JOBS, [("prediction_config.enabled", ASCENDING)], {"name": "prediction_enabled"}),
    (TRAINING_JOBS, [("next_prediction_at", ASCENDING)], {"name": "next_prediction_at"}),
    (
        TRAINING_JOBS,
        [("forecast_bucket", ASCENDING), ("next_prediction_at", ASCENDING)],
        {"name": "forecast_bucket_next_prediction_at"},
    ),
    (TRAINING_JOBS, [("status", ASCENDING), ("updated_at", ASCENDING)], {"name": "status_updated_at"}),
    (AUTH_FAILURES, [("client", ASCENDING), ("at", ASCENDING)], {"name": "client_at"}),
    (TRAINING_CHUNKS, [("job_id", ASCENDING)], {"name": "job_id"}),
    (FORECAST_RUNS, [("job_id", ASCENDING)], {"name": "job_id"}),
    (FORECAST_CLAIMS, [("claimed_at", ASCENDING)], {"name": "claimed_at"}),
    (FORECAST_RUNS, [("job_id", ASCENDING), ("slot", DESCENDING)], {"name": "job_id_slot"}),
    (ALERT_RULES, [("id", ASCENDING)], {"unique": True, "name": "id_unique"}),
    (ALERT_RULES, [("fiware_service", ASCENDING), ("created_at", DESCENDING)], {"name": "service_created"}),
    (ALERT_RULES, [("model_id", ASCENDING)], {"name": "model_id"}),
    (ALERT_RULES, [("enabled", ASCENDING)], {"name": "enabled"}),
    (ALERT_RULES, [("channels", ASCENDING)], {"name": "channels"}),
    (ALERT_CLAIMS, [("claimed_at", ASCENDING)], {"name": "claimed_at"}),
    (ALERT_EVALUATIONS, [("rule_id", ASCENDING), ("at", DESCENDING)], {"name": "rule_at"}),
    (ALERT_EVALUATIONS, [("at", ASCENDING)], {"name": "at"}),
    (ALERTS, [("id", ASCENDING)], {"unique": True, "name": "id_unique"}),
    (ALERTS, [("fingerprint", ASCENDING), ("status", ASCENDING)], {"name": "fingerprint_status"}),
    (ALERTS, [("rule_id", ASCENDING), ("started_at", DESCENDING)], {"name": "rule_started"}),
    (ALERTS, [("status", ASCENDING), ("started_at", DESCENDING)], {"name": "status_started"}),
    (ALERT_EVENTS, [("rule_id", ASCENDING), ("at", DESCENDING)], {"name": "rule_at"}),
    (ALERT_EVENTS, [("alert_id", ASCENDING), ("at", DESCENDING)], {"name": "alert_at"}),
    (ALERT_NOTIFICATIONS, [("id", ASCENDING)], {"unique": True, "name": "id_unique"}),
    (ALERT_NOTIFICATIONS, [("alert_id", ASCENDING)], {"name": "alert_id"}),
    (ALERT_NOTIFICATIONS, [("status", ASCENDING), ("created_at", ASCENDING)], {"name": "status_created"}),
    (ALERT_CHANNELS, [("id", ASCENDING)], {"unique": True, "name": "id_unique"}),
    (ALERT_CHANNELS, [("fiware_service", ASCENDING)], {"name": "fiware_service"}),
    (ALERT_SILENCES, [("id", ASCENDING)], {"unique": True, "name": "id_unique"}),
    (ALERT_SILENCES, [("fiware_service", ASCENDING), ("ends_at", ASCENDING)], {"name": "service_ends"}),
    (FORECAST_LOG, [("job_id", ASCENDING), ("generated_at", DESCENDING)], {"name": "job_generated"}),
    (TRAINING_JOBS, [("queue.enqueued_at", ASCENDING)], {"name": "queue_enqueued_at"}),
    (TRAINING_TRIGGERS, [("job_id", ASCENDING)], {"name": "job_id"}),
    (RETRAINING_RUNS, [("model_id", ASCENDING), ("at", DESCENDING)], {"name": "model_id_at"}),
    (MODEL_EVENTS, [("model_id", ASCENDING), ("at", DESCENDING)], {"name": "model_id_at"}),
    (ANOMALY_SCANS, [("id", ASCENDING)], {"unique": True, "name": "id_unique"}),
    (ANOMALY_SCANS, [("model_id", ASCENDING), ("created_at", DESCENDING)], {"name": "model_id_created_at"}),
    (ANOMALY_SCANS, [("status", ASCENDING), ("updated_at", ASCENDING)], {"name": "status_updated_at"}),
    (ANOMALY_CHUNKS, [("scan_id", ASCENDING)], {"name": "scan_id"}),
    (
        ANOMALY_FINDINGS,
        [("scan_id", ASCENDING), ("category", ASCENDING), ("seq", ASCENDING)],
        {"name": "scan_category_seq"},
    ),
]

# Expiry indexes: FerretDB v1 does not implement them, so expired documents are also deleted
# by the code that owns them; on a real MongoDB the server removes them too.
TTL_INDEXES: list[tuple[str, str]] = [(AUTH_FAILURES, "expires_at")]


def create_client(uri: str, timeout_ms: int) -> MongoClient[Document]:
    """A client that returns timezone-aware UTC datetimes and fails fast when the server is away."""
    return MongoClient(
        uri,
        tz_aware=True,
        tzinfo=UTC,
        serverSelectionTimeoutMS=timeout_ms,
        connectTimeoutMS=timeout_ms,
        socketTimeoutMS=max(timeout_ms * 5, 10_000),
        maxPoolSize=10,
        uuidRepresentation="standard",
        appname="chronos",
    )


def ensure_indexes(db: Database[Document]) -> None:
    """Create every index in :data:`INDEXES`; safe to call on every cold start."""
    for collection, keys, options in INDEXES:
        db[collection].create_index(keys, **options)
    for collection, field in TTL_INDEXES:
        try:
            db[collection].create_index([(field, ASCENDING)], expireAfterSeconds=0, name=f"{field}_ttl")
        except OperationFailure as exc:
            if exc.code != 238:  # NotImplemented (FerretDB v1)
                raise
