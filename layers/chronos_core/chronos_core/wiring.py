"""The one place that builds adapters from settings. Each builder runs once per warm container."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache, lru_cache
from typing import Any

from pydantic import SecretStr
from pymongo import MongoClient
from pymongo.database import Database

from chronos_core.adapters import aws, mongo
from chronos_core.adapters.artifact_store import GridFSArtifactStore
from chronos_core.adapters.fiware import IotAgentClient, OrionClient, SthCometClient
from chronos_core.adapters.forecast_schedule import MongoForecastSchedule, SqsForecastQueue
from chronos_core.adapters.jwt_verifier import JwtVerifier
from chronos_core.adapters.s3 import S3ObjectStore
from chronos_core.adapters.stepfunctions import StepFunctionsWorkflow
from chronos_core.adapters.sth_series import SthSeriesSource
from chronos_core.adapters.training_jobs import MongoTrainingJobRepository
from chronos_core.application import fiware_health
from chronos_core.application.forecasts import ForecastSettings, job_cleaner
from chronos_core.application.ports import DependencyCheck, HealthProbe, ModelRepository
from chronos_core.config import Settings, get_settings
from chronos_core.domain.errors import DependencyUnavailableError
from chronos_core.domain.training import TrainingJob


@lru_cache(maxsize=1)
def mongo_client() -> MongoClient[mongo.Document]:
    settings = get_settings()
    return mongo.create_client(settings.mongodb_uri.get_secret_value(), settings.mongodb_timeout_ms)


@lru_cache(maxsize=1)
def database() -> Database[mongo.Document]:
    """The Chronos database, with its indexes ensured once per container (retried; an
    unreachable server surfaces as DependencyUnavailableError, i.e. 503)."""
    db = mongo_client()[get_settings().mongodb_database]
    mongo.call_with_retries(lambda: mongo.ensure_indexes(db), get_settings().mongodb_attempts)
    return db


def model_repository() -> ModelRepository:
    return mongo.MongoModelRepository(database(), attempts=get_settings().mongodb_attempts)


@cache
def aws_client(service: str) -> Any:
    settings = get_settings()
    return aws.create_client(service, settings.aws_region, settings.aws_endpoint_url)


def health_probes(settings: Settings | None = None) -> list[HealthProbe]:
    """Probes for MongoDB and for every AWS resource this deployment is configured with."""
    settings = settings or get_settings()
    probes: list[HealthProbe] = [mongo.MongoHealthProbe(mongo_client())]
    if settings.data_bucket:
        bucket = settings.data_bucket
        probes.append(aws.AwsCallProbe("s3", lambda: aws_client("s3").head_bucket(Bucket=bucket)))
    if settings.training_state_machine_arn:
        arn = settings.training_state_machine_arn
        probes.append(
            aws.AwsCallProbe(
                "stepfunctions",
                lambda: aws_client("stepfunctions").describe_state_machine(stateMachineArn=arn),
            )
        )
    for name, url, probe in (
        ("orion", settings.orion_url, fiware_health.probe_orion),
        ("sth_comet", settings.sth_url, fiware_health.probe_sth),
        ("iot_agent", settings.iot_agent_url, fiware_health.probe_iot_agent),
    ):
        if url:
            probes.append(FiwareProbe(name, url, probe, settings.health_timeout_seconds))
    if settings.forecast_queue_url:
        url = settings.forecast_queue_url
        probes.append(
            aws.AwsCallProbe(
                "sqs",
                lambda: aws_client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"]),
            )
        )
    return probes


@lru_cache(maxsize=1)
def token_verifier() -> JwtVerifier:
    """The bearer-token verifier; the HS256 secret comes from SSM when a parameter is named."""
    settings = get_settings()
    secret: str | None = None
    if settings.auth_jwks_url is None:
        secret = _secret(settings.auth_jwt_secret_parameter, settings.auth_jwt_secret)
        if secret is None:
            raise RuntimeError(
                "No authentication configured: set CHRONOS_AUTH_JWKS_URL, CHRONOS_AUTH_JWT_SECRET "
                "or CHRONOS_AUTH_JWT_SECRET_PARAMETER"
            )
    return JwtVerifier(
        issuer=settings.auth_issuer,
        audience=settings.auth_audience,
        roles_claim=settings.auth_roles_claim,
        tenants_claim=settings.auth_tenants_claim,
        secret=secret,
        jwks_url=settings.auth_jwks_url,
        leeway_seconds=settings.auth_leeway_seconds,
    )


def auth_failure_counter() -> mongo.MongoAuthFailureCounter:
    settings = get_settings()
    return mongo.MongoAuthFailureCounter(
        database(), settings.auth_failure_window_seconds, attempts=settings.mongodb_attempts
    )


class FiwareProbe:
    """A FIWARE component as a (non-required) health dependency: when it is down the API still
    serves, so the system is ``degraded`` rather than ``down``."""

    required = False

    def __init__(
        self,
        name: str,
        url: str,
        probe: Callable[..., fiware_health.DependencyHealth],
        timeout: float,
    ) -> None:
        self.name = name
        self._url = url
        self._probe = probe
        self._timeout = timeout

    def check(self) -> DependencyCheck:
        result = self._probe(self._url, timeout=self._timeout)
        return DependencyCheck(
            name=self.name,
            status=result.status.value,
            latency_ms=result.latency_ms,
            required=False,
            message=None if result.status.value == "up" else result.message,
        )


@lru_cache(maxsize=1)
def fiware_auth_token() -> str | None:
    """The FIWARE access token, if configured: from SSM (decrypted, cached) or the environment."""
    settings = get_settings()
    return _secret(settings.fiware_auth_token_parameter, settings.fiware_auth_token)


def _secret(parameter: str | None, value: SecretStr | None) -> str | None:
    """A secret from the SSM parameter ``parameter`` (decrypted) when one is named, else ``value``."""
    if parameter:
        from aws_lambda_powertools.utilities import parameters

        return str(parameters.get_parameter(parameter, decrypt=True, max_age=300))
    return value.get_secret_value() if value is not None else None


@lru_cache(maxsize=1)
def sth_client() -> SthCometClient:
    settings = _require_url(get_settings().sth_url, "STH-Comet", "CHRONOS_STH_URL")
    return SthCometClient.from_settings(settings, auth_token=fiware_auth_token())


@lru_cache(maxsize=1)
def orion_client() -> OrionClient:
    settings = _require_url(get_settings().orion_url, "Orion", "CHRONOS_ORION_URL")
    return OrionClient.from_settings(settings, auth_token=fiware_auth_token())


@lru_cache(maxsize=1)
def iot_agent_client() -> IotAgentClient:
    settings = _require_url(get_settings().iot_agent_url, "The IoT Agent", "CHRONOS_IOT_AGENT_URL")
    return IotAgentClient.from_settings(settings, auth_token=fiware_auth_token())


def _require_url(url: str | None, what: str, variable: str) -> Settings:
    if not url:
        raise DependencyUnavailableError(f"{what} is not configured ({variable})")
    return get_settings()


def training_job_repository() -> MongoTrainingJobRepository:
    return MongoTrainingJobRepository(database(), attempts=get_settings().mongodb_attempts)


@lru_cache(maxsize=1)
def artifact_store() -> GridFSArtifactStore:
    store = GridFSArtifactStore(database())
    store.ensure_indexes()
    return store


def object_store() -> S3ObjectStore:
    settings = get_settings()
    if not settings.data_bucket:
        raise DependencyUnavailableError("The pipeline bucket is not configured (CHRONOS_DATA_BUCKET)")
    return S3ObjectStore(aws_client("s3"), settings.data_bucket)


def workflow() -> StepFunctionsWorkflow:
    settings = get_settings()
    if not settings.training_state_machine_arn:
        raise DependencyUnavailableError(
            "The training workflow is not configured (CHRONOS_TRAINING_STATE_MACHINE_ARN)"
        )
    return StepFunctionsWorkflow(
        aws_client("stepfunctions"),
        settings.training_state_machine_arn,
        settings.aws_region,
        local=settings.aws_endpoint_url is not None,
    )


def series_source() -> SthSeriesSource:
    return SthSeriesSource(sth_client(), get_settings().sth_page_concurrency)


def job_cleaners() -> list[Callable[[TrainingJob], None]]:
    """Removers of resources a job provisioned outside Chronos: the forecast subscription, entity
    and device (FIWARE clients built only when a job has them), then the job's forecast runs."""
    forecast_resources = job_cleaner(orion_client, iot_agent_client)

    def forecast_runs(job: TrainingJob) -> None:
        forecast_schedule().delete_runs(job.id)

    return [forecast_resources, forecast_runs]


@lru_cache(maxsize=1)
def forecast_schedule() -> MongoForecastSchedule:
    schedule = MongoForecastSchedule(database(), attempts=get_settings().mongodb_attempts)
    schedule.ensure_indexes()
    return schedule


def forecast_queue(correlation_id: str | None = None) -> SqsForecastQueue:
    settings = get_settings()
    if not settings.forecast_queue_url:
        raise DependencyUnavailableError("The forecast queue is not configured (CHRONOS_FORECAST_QUEUE_URL)")
    return SqsForecastQueue(
        aws_client("sqs"), settings.forecast_queue_url, correlation_id, settings.forecast_send_concurrency
    )


def forecast_settings() -> ForecastSettings:
    settings = get_settings()
    return ForecastSettings(
        entity_type=settings.fiware_forecast_entity_type,
        group_resource=settings.fiware_forecast_group_resource,
        orion_url=settings.orion_url,
        sth_url=settings.sth_url,
        max_receive_count=settings.forecast_max_receive_count,
        lease_seconds=settings.forecast_lease_seconds,
    )
