"""Typed settings for every Chronos process, read once from the environment.

Variables use the ``CHRONOS_`` prefix (``CHRONOS_MONGODB_DATABASE``...). The conventional
``MONGODB_URI`` is honoured as well as ``CHRONOS_MONGODB_URI``.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from chronos_core.domain.fiware import DEFAULT_FORECAST_ENTITY_TYPE, DEFAULT_FORECAST_GROUP_RESOURCE


class Settings(BaseSettings):
    """Process configuration. Built once per container by :func:`get_settings`."""

    model_config = SettingsConfigDict(env_prefix="CHRONOS_", extra="ignore", frozen=True)

    environment: str = Field(default="local", description="Deployment name shown by /info.")

    mongodb_uri: SecretStr = Field(
        default=SecretStr("mongodb://127.0.0.1:27118/"),
        validation_alias=AliasChoices("CHRONOS_MONGODB_URI", "MONGODB_URI"),
    )
    mongodb_database: str = "chronos"
    mongodb_timeout_ms: int = Field(default=3000, ge=100)

    # AWS resources of the deployed stack (empty when a process does not use them).
    aws_endpoint_url: str | None = Field(
        default=None, validation_alias=AliasChoices("CHRONOS_AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL")
    )
    aws_region: str = Field(
        default="us-east-1", validation_alias=AliasChoices("CHRONOS_AWS_REGION", "AWS_REGION")
    )
    data_bucket: str | None = None
    training_state_machine_arn: str | None = None
    anomaly_state_machine_arn: str | None = None
    forecast_queue_url: str | None = None

    # FIWARE endpoints (tenant headers come from each model, never from here).
    sth_url: str | None = None
    orion_url: str | None = None
    iot_agent_url: str | None = None
    fiware_timeout_seconds: float = Field(default=15.0, gt=0)
    # Access token for FIWARE behind a PEP proxy (sent as X-Auth-Token). In AWS it comes from an
    # SSM SecureString named by ``fiware_auth_token_parameter``.
    fiware_auth_token: SecretStr | None = None
    fiware_auth_token_parameter: str | None = None
    fiware_max_attempts: int = Field(default=4, ge=1, le=10, description="Per FIWARE request.")
    sth_page_concurrency: int = Field(
        default=5,
        ge=1,
        le=64,
        description="Most STH pages in flight to the endpoint at once, shared by the chunks of a "
        "job that collect at the same time (STH's own database pool is 5 by default).",
    )
    sth_page_size: int = Field(
        default=100,
        ge=1,
        le=10_000,
        description="The largest page asked of STH; its MAX_PAGE_SIZE (100 by default) bounds it "
        "and a page refused for it is asked again smaller.",
    )
    sth_paging: Literal["time", "offset"] = Field(
        default="time",
        description="'time': after the first page, each page starts at the last reception time "
        "seen (dateFrom), so STH never skips far; 'offset': hOffset pages, several in flight.",
    )
    sth_adaptive: bool = Field(
        default=True,
        description="False: no STH flow control; each chunk keeps sth_page_concurrency pages in "
        "flight with the fixed fiware_timeout_seconds (for comparison, and as an escape hatch).",
    )
    sth_timeout_cap_seconds: float = Field(
        default=60.0, gt=0, description="The longest an STH request may take as its timeout grows."
    )
    # Chronos's own forecast devices (hidden from GET /devices/).
    fiware_forecast_entity_type: str = DEFAULT_FORECAST_ENTITY_TYPE
    fiware_forecast_group_resource: str = DEFAULT_FORECAST_GROUP_RESOURCE

    # Recurring forecasts (scheduler and forecast Lambdas).
    forecast_max_claims_per_tick: int = Field(default=5000, ge=1, le=100_000)
    #: Scheduler shards (a divisor of 1024); above 1 each tick fans out one message per shard
    #: to ``forecast_tick_queue_url``.
    forecast_scheduler_shards: int = Field(default=1, ge=1, le=1024)
    forecast_tick_queue_url: str | None = None
    forecast_batch_concurrency: int = Field(default=10, ge=1, le=64)
    forecast_send_concurrency: int = Field(default=8, ge=1, le=64, description="SQS batches in flight.")
    forecast_max_receive_count: int = Field(
        default=3, ge=1, le=1000, description="The queue's maxReceiveCount (marks the final attempt)."
    )
    forecast_retry_delay_seconds: int = Field(
        default=30, ge=0, le=43_200, description="Backoff before a failed forecast is received again."
    )
    forecast_lease_seconds: float = Field(default=120.0, gt=0, description="Run lease per (job, slot).")

    # Monitoring (alert evaluator, notification deliverer, the API's alert routes).
    alert_queue_url: str | None = None
    alert_notification_max_attempts: int = Field(
        default=5, ge=1, le=50, description="Attempts per notification before it is failed."
    )
    alert_retry_base_seconds: float = Field(
        default=2.0, ge=0, le=3600, description="First notification retry delay (doubles, with jitter)."
    )
    alert_retry_max_seconds: float = Field(
        default=900.0, gt=0, le=43_200, description="Longest notification retry delay (Retry-After included)."
    )
    alert_channel_max_failures: int = Field(
        default=5, ge=1, le=1000, description="Consecutive failed deliveries that disable a channel."
    )
    alert_evaluation_concurrency: int = Field(default=8, ge=1, le=64, description="Rules measured at once.")
    alert_webhook_allow_private: bool = Field(
        default=False, description="Webhooks may target loopback/private addresses (local stacks only)."
    )
    alert_forecast_log_per_job: int = Field(default=200, ge=10, le=5000)

    # Health checks.
    health_timeout_seconds: float = Field(default=2.0, gt=0)

    # Authentication: HS256 with a shared secret (local) or RS256/ES256 against a JWKS (OIDC).
    # In AWS the secret comes from SSM Parameter Store (``auth_jwt_secret_parameter``).
    auth_jwt_secret: SecretStr | None = None
    auth_jwt_secret_parameter: str | None = None
    auth_jwks_url: str | None = None
    auth_issuer: str = "chronos-local"
    auth_audience: str = "chronos"
    auth_roles_claim: str = "chronos:roles"
    auth_tenants_claim: str = "chronos:tenants"
    auth_leeway_seconds: int = Field(default=30, ge=0, le=300)
    auth_failure_threshold: int = Field(default=10, ge=1)
    auth_failure_window_seconds: int = Field(default=300, ge=1)

    # HTTP hardening.
    cors_allowed_origins: list[str] = Field(default_factory=list)
    max_request_bytes: int = Field(default=1_048_576, ge=1024)
    api_request_budget_seconds: float = Field(
        default=20.0,
        gt=0,
        le=900,
        description="Time a request's outbound calls may take in all; keep it below the API "
        "function's timeout (29 s behind API Gateway) so that a hanging dependency is answered "
        "503 with Retry-After.",
    )

    # Training pipeline.
    training_chunk_points: int = Field(default=10_000, ge=100, le=1_000_000)
    training_map_concurrency: int = Field(default=4, ge=1, le=40)

    # The training queue: trainings that may run at once (0: no limit), in all and per tenant.
    training_max_concurrent: int = Field(
        default=0, ge=0, le=10_000, description="Trainings running at once; more wait queued (0: no limit)."
    )
    training_max_concurrent_per_tenant: int = Field(
        default=0, ge=0, le=10_000, description="Trainings one FIWARE service runs at once (0: no limit)."
    )
    # Retraining: policies one scheduler tick reads at most.
    retraining_max_policies_per_tick: int = Field(default=10_000, ge=1, le=1_000_000)
    # Anomaly scans: points scored per Map item, Map items in parallel.
    anomaly_chunk_points: int = Field(default=20_000, ge=100, le=1_000_000)
    anomaly_map_concurrency: int = Field(default=4, ge=1, le=40)

    # Database resilience: attempts before a request answers 503.
    mongodb_attempts: int = Field(default=3, ge=1, le=5)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the process settings, validated on first use and cached for the container's life."""
    return Settings()
