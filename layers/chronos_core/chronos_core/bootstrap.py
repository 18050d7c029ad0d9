"""The one place that builds adapters: :class:`Services`, from typed settings.

Every entry point uses it: the Lambda handlers and the trainer call :func:`services` (built once
per warm container), the API reads the same object from ``app.state``. Each adapter is built on
first use and then kept, so a function never connects to what it does not use (the forecast
worker never builds the Step Functions client; a skipped forecast never builds Orion's).

Tests build a :class:`Services` with in-memory fakes: ``bootstrap(settings, models=fake, ...)``
sets any adapter by name (``tests/support/fakes.py`` has one for every port).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any, cast

from pydantic import SecretStr
from pymongo import MongoClient
from pymongo.database import Database

from chronos_core.adapters import aws
from chronos_core.adapters import mongo as mongo_adapters
from chronos_core.adapters.artifact_store import GridFSArtifactStore
from chronos_core.adapters.fiware.alerts import OrionAlertPublisher
from chronos_core.adapters.fiware.anomalies import OrionAnomalyPublisher
from chronos_core.adapters.fiware.forecasts import (
    FiwareForecastProvisioner,
    OrionForecastPublisher,
    SthForecastHistory,
)
from chronos_core.adapters.fiware.health import fiware_probes
from chronos_core.adapters.fiware.iot_agent import IotAgentClient
from chronos_core.adapters.fiware.orion import OrionClient
from chronos_core.adapters.fiware.series_source import SthObservedSeries, SthSeriesSource
from chronos_core.adapters.fiware.sth import SthCometClient
from chronos_core.adapters.jwt_verifier import JwtVerifier
from chronos_core.adapters.mongo import (
    MongoAnomalyFindings,
    MongoAnomalyScanRepository,
    MongoAuthFailureCounter,
    MongoForecastSchedule,
    MongoHealthProbe,
    MongoLeases,
    MongoModelEvents,
    MongoModelRepository,
    MongoRetrainingPolicies,
    MongoRetrainingRuns,
    MongoServiceGroupKeys,
    MongoTrainingJobRepository,
)
from chronos_core.adapters.mongo.alert_rules import MongoAlertRules, MongoEvaluationLog, MongoRuleStates
from chronos_core.adapters.mongo.alerts import MongoAlertStore, MongoSilenceStore
from chronos_core.adapters.mongo.forecast_log import MongoForecastLog, MongoForecastRunHistory
from chronos_core.adapters.mongo.notifications import MongoChannelStore, MongoNotificationStore
from chronos_core.adapters.mongo.prediction_stamps import MongoPredictionStamps
from chronos_core.adapters.notify.notifier import ChannelNotifier, Sender
from chronos_core.adapters.notify.sns import SnsSender
from chronos_core.adapters.notify.webhook import WebhookSender
from chronos_core.adapters.s3 import S3ObjectStore
from chronos_core.adapters.sqs import SqsForecastQueue, SqsNotificationQueue, SqsTickQueue
from chronos_core.adapters.stepfunctions import StepFunctionsWorkflow
from chronos_core.application.forecasting.cleanup import forecast_cleaners
from chronos_core.application.forecasting.refs import PredictionRefCache
from chronos_core.application.forecasting.settings import ForecastSettings
from chronos_core.application.monitoring.cleanup import monitoring_cleaners
from chronos_core.application.monitoring.hooks import MonitoringForecastListener
from chronos_core.application.monitoring.model_events import MonitoringModelEventAlerts
from chronos_core.application.monitoring.settings import MonitoringSettings
from chronos_core.application.ports.forecasting import ForecastListener
from chronos_core.application.ports.health import HealthProbe
from chronos_core.application.ports.retraining import ModelEventListener, RetrainTrigger
from chronos_core.application.retraining.deps import RetrainingSettings
from chronos_core.application.retraining.rule_trigger import RuleRetrainTrigger
from chronos_core.application.system.health import HealthCache
from chronos_core.application.training.deps import JobResourceCleaner
from chronos_core.application.training.pipeline.deps import PipelineSettings
from chronos_core.application.training.settings import TrainingQueueSettings
from chronos_core.config import Settings, get_settings
from chronos_core.domain.errors import DependencyUnavailableError
from chronos_core.domain.notifications import ChannelType
from chronos_core.domain.retraining import ConcurrencyLimits
from chronos_core.ml.anomaly import ScorerCache
from chronos_core.ml.inference import ForecasterCache
from chronos_core.ml.trainer import DatasetCheck, NetworkTrainer

if TYPE_CHECKING:
    from chronos_core.adapters.fiware.http import FiwareClient

#: How long ``/health`` keeps a result: an unauthenticated route must not fan out on every call.
HEALTH_CACHE_SECONDS = 5.0


class Services:
    """Every adapter Chronos uses, built from ``settings`` on first use and kept for the life of
    the container. The attributes are named after the ports they serve; the capability
    packages' ``deps`` Protocols name the subsets each use case sees."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    # ------------------------------------------------------------------ settings per capability

    @cached_property
    def forecast_settings(self) -> ForecastSettings:
        s = self.settings
        return ForecastSettings(
            entity_type=s.fiware_forecast_entity_type,
            group_resource=s.fiware_forecast_group_resource,
            max_receive_count=s.forecast_max_receive_count,
            lease_seconds=s.forecast_lease_seconds,
            max_claims_per_tick=s.forecast_max_claims_per_tick,
            scheduler_shards=s.forecast_scheduler_shards,
            batch_concurrency=s.forecast_batch_concurrency,
        )

    @cached_property
    def monitoring_settings(self) -> MonitoringSettings:
        s = self.settings
        return MonitoringSettings(
            notification_max_attempts=s.alert_notification_max_attempts,
            retry_base_seconds=s.alert_retry_base_seconds,
            retry_max_seconds=s.alert_retry_max_seconds,
            channel_max_consecutive_failures=s.alert_channel_max_failures,
            evaluation_concurrency=s.alert_evaluation_concurrency,
            webhook_allow_private=s.alert_webhook_allow_private,
            forecast_log_per_job=s.alert_forecast_log_per_job,
        )

    @cached_property
    def pipeline_settings(self) -> PipelineSettings:
        return PipelineSettings(
            chunk_points=self.settings.training_chunk_points,
            map_concurrency=self.settings.training_map_concurrency,
            # Without flow control every chunk keeps sth_page_concurrency pages in flight.
            page_ceiling=self.settings.sth_page_concurrency
            * (1 if self.settings.sth_adaptive else self.settings.training_map_concurrency),
        )

    @cached_property
    def queue_settings(self) -> TrainingQueueSettings:
        s = self.settings
        return TrainingQueueSettings(
            limits=ConcurrencyLimits(
                global_limit=s.training_max_concurrent, tenant_limit=s.training_max_concurrent_per_tenant
            )
        )

    @cached_property
    def retraining_settings(self) -> RetrainingSettings:
        return RetrainingSettings(max_policies_per_tick=self.settings.retraining_max_policies_per_tick)

    @cached_property
    def scan_pipeline_settings(self) -> PipelineSettings:
        """How anomaly scans chunk their window (the same kind of settings as the training's)."""
        return PipelineSettings(
            chunk_points=self.settings.anomaly_chunk_points,
            map_concurrency=self.settings.anomaly_map_concurrency,
            page_ceiling=self.settings.sth_page_concurrency
            * (1 if self.settings.sth_adaptive else self.settings.anomaly_map_concurrency),
        )

    @cached_property
    def auth_failure_threshold(self) -> int:
        return self.settings.auth_failure_threshold

    # ------------------------------------------------------------------ MongoDB

    @cached_property
    def mongo_client(self) -> MongoClient[mongo_adapters.Document]:
        s = self.settings
        return mongo_adapters.create_client(s.mongodb_uri.get_secret_value(), s.mongodb_timeout_ms)

    @cached_property
    def database(self) -> Database[mongo_adapters.Document]:
        """The Chronos database, its indexes ensured once per container (retried; an unreachable
        server surfaces as DependencyUnavailableError, i.e. 503)."""
        db = self.mongo_client[self.settings.mongodb_database]
        mongo_adapters.call_with_retries(
            lambda: mongo_adapters.ensure_indexes(db), self.settings.mongodb_attempts
        )
        return db

    @cached_property
    def models(self) -> MongoModelRepository:
        return MongoModelRepository(self.database, attempts=self.settings.mongodb_attempts)

    @cached_property
    def prediction_stamps(self) -> MongoPredictionStamps:
        return MongoPredictionStamps(self.database, attempts=self.settings.mongodb_attempts)

    @cached_property
    def prediction_refs(self) -> PredictionRefCache:
        """Models and jobs of on-demand forecasts, per warm container (checked against stamps)."""
        return PredictionRefCache()

    @cached_property
    def jobs(self) -> MongoTrainingJobRepository:
        return MongoTrainingJobRepository(self.database, attempts=self.settings.mongodb_attempts)

    @cached_property
    def schedule(self) -> MongoForecastSchedule:
        return MongoForecastSchedule(self.database, attempts=self.settings.mongodb_attempts)

    @cached_property
    def scans(self) -> MongoAnomalyScanRepository:
        return MongoAnomalyScanRepository(self.database, attempts=self.settings.mongodb_attempts)

    @cached_property
    def findings(self) -> MongoAnomalyFindings:
        return MongoAnomalyFindings(self.database, attempts=self.settings.mongodb_attempts)

    @cached_property
    def artifacts(self) -> GridFSArtifactStore:
        store = GridFSArtifactStore(self.database)
        store.ensure_indexes()
        return store

    @cached_property
    def leases(self) -> MongoLeases:
        return MongoLeases(self.database, attempts=self.settings.mongodb_attempts)

    # ------------------------------------------------------------------ monitoring

    @cached_property
    def alert_rules(self) -> MongoAlertRules:
        return MongoAlertRules(self.database, attempts=self.settings.mongodb_attempts)

    @cached_property
    def rule_states(self) -> MongoRuleStates:
        return MongoRuleStates(self.database, attempts=self.settings.mongodb_attempts)

    @cached_property
    def alert_evaluations(self) -> MongoEvaluationLog:
        return MongoEvaluationLog(self.database, attempts=self.settings.mongodb_attempts)

    @cached_property
    def alerts(self) -> MongoAlertStore:
        return MongoAlertStore(self.database, attempts=self.settings.mongodb_attempts)

    @cached_property
    def silences(self) -> MongoSilenceStore:
        return MongoSilenceStore(self.database, attempts=self.settings.mongodb_attempts)

    @cached_property
    def notifications(self) -> MongoNotificationStore:
        return MongoNotificationStore(self.database, attempts=self.settings.mongodb_attempts)

    @cached_property
    def channels(self) -> MongoChannelStore:
        return MongoChannelStore(self.database, attempts=self.settings.mongodb_attempts)

    @cached_property
    def forecast_log(self) -> MongoForecastLog:
        s = self.settings
        return MongoForecastLog(self.database, keep=s.alert_forecast_log_per_job, attempts=s.mongodb_attempts)

    @cached_property
    def forecast_runs(self) -> MongoForecastRunHistory:
        return MongoForecastRunHistory(self.database, attempts=self.settings.mongodb_attempts)

    @cached_property
    def forecast_listeners(self) -> Sequence[ForecastListener]:
        """Told of every published recurring forecast: monitoring logs it and evaluates its
        predicted-crossing rules."""
        return [MonitoringForecastListener(self)]

    @cached_property
    def model_event_listeners(self) -> Sequence[ModelEventListener]:
        """Told of every recorded model event: monitoring raises an informational alert for a
        kept challenger."""
        return [MonitoringModelEventAlerts(self)]

    @cached_property
    def policies(self) -> MongoRetrainingPolicies:
        return MongoRetrainingPolicies(self.database, attempts=self.settings.mongodb_attempts)

    @cached_property
    def runs(self) -> MongoRetrainingRuns:
        return MongoRetrainingRuns(self.database, attempts=self.settings.mongodb_attempts)

    @cached_property
    def events(self) -> MongoModelEvents:
        return MongoModelEvents(self.database, attempts=self.settings.mongodb_attempts)

    @cached_property
    def retrain_trigger(self) -> RetrainTrigger:
        """What monitoring calls when a drift or live-error rule fires (a ``rule`` trigger)."""
        return RuleRetrainTrigger(self)

    @cached_property
    def auth_failures(self) -> MongoAuthFailureCounter:
        s = self.settings
        return MongoAuthFailureCounter(
            self.database, s.auth_failure_window_seconds, attempts=s.mongodb_attempts
        )

    # ------------------------------------------------------------------ AWS

    def aws_client(self, service: str) -> Any:
        """One boto3 client per service, kept."""
        clients: dict[str, Any] = self.__dict__.setdefault("_aws_clients", {})
        if service not in clients:
            clients[service] = aws.create_client(
                service, self.settings.aws_region, self.settings.aws_endpoint_url
            )
        return clients[service]

    @cached_property
    def objects(self) -> S3ObjectStore:
        bucket = _required(self.settings.data_bucket, "The pipeline bucket", "CHRONOS_DATA_BUCKET")
        return S3ObjectStore(self.aws_client("s3"), bucket)

    @cached_property
    def workflow(self) -> StepFunctionsWorkflow:
        s = self.settings
        arn = _required(
            s.training_state_machine_arn, "The training workflow", "CHRONOS_TRAINING_STATE_MACHINE_ARN"
        )
        return StepFunctionsWorkflow(
            self.aws_client("stepfunctions"), arn, s.aws_region, local=s.aws_endpoint_url is not None
        )

    @cached_property
    def scan_workflow(self) -> StepFunctionsWorkflow:
        s = self.settings
        arn = _required(
            s.anomaly_state_machine_arn, "The anomaly-scan workflow", "CHRONOS_ANOMALY_STATE_MACHINE_ARN"
        )
        return StepFunctionsWorkflow(
            self.aws_client("stepfunctions"), arn, s.aws_region, local=s.aws_endpoint_url is not None
        )

    @cached_property
    def queue(self) -> SqsForecastQueue:
        s = self.settings
        url = _required(s.forecast_queue_url, "The forecast queue", "CHRONOS_FORECAST_QUEUE_URL")
        return SqsForecastQueue(
            self.aws_client("sqs"), url, s.forecast_send_concurrency, s.forecast_retry_delay_seconds
        )

    @cached_property
    def tick_queue(self) -> SqsTickQueue:
        url = _required(
            self.settings.forecast_tick_queue_url,
            "The scheduler's shard queue",
            "CHRONOS_FORECAST_TICK_QUEUE_URL",
        )
        return SqsTickQueue(self.aws_client("sqs"), url)

    @cached_property
    def notification_queue(self) -> SqsNotificationQueue:
        url = _required(
            self.settings.alert_queue_url, "The alert notification queue", "CHRONOS_ALERT_QUEUE_URL"
        )
        return SqsNotificationQueue(self.aws_client("sqs"), url, self.settings.forecast_send_concurrency)

    @cached_property
    def notifier(self) -> ChannelNotifier:
        """Webhooks, SNS and Orion ``Alert`` entities; each sender is built on first use."""
        factories: dict[ChannelType, Any] = {
            ChannelType.WEBHOOK: lambda: WebhookSender(
                allow_private=self.settings.alert_webhook_allow_private
            ),
            ChannelType.SNS: lambda: SnsSender(self.aws_client("sns")),
            ChannelType.ORION: lambda: OrionAlertPublisher(self.orion),
        }
        return ChannelNotifier(cast("dict[ChannelType, Callable[[], Sender]]", factories))

    # ------------------------------------------------------------------ FIWARE

    @cached_property
    def fiware_auth_token(self) -> str | None:
        """The FIWARE access token, if configured: from SSM (decrypted) or the environment."""
        return _secret(self.settings.fiware_auth_token_parameter, self.settings.fiware_auth_token)

    def _fiware[C: FiwareClient](self, client: type[C], url: str | None, what: str, variable: str) -> C:
        _required(url, what, variable)
        return client.from_settings(self.settings, auth_token=self.fiware_auth_token)

    @cached_property
    def sth(self) -> SthCometClient:
        return self._fiware(SthCometClient, self.settings.sth_url, "STH-Comet", "CHRONOS_STH_URL")

    @cached_property
    def orion(self) -> OrionClient:
        return self._fiware(OrionClient, self.settings.orion_url, "Orion", "CHRONOS_ORION_URL")

    @cached_property
    def devices(self) -> IotAgentClient:
        return self._fiware(
            IotAgentClient, self.settings.iot_agent_url, "The IoT Agent", "CHRONOS_IOT_AGENT_URL"
        )

    @cached_property
    def series(self) -> SthSeriesSource:
        return SthSeriesSource(self.sth, paging=self.settings.sth_paging)

    @cached_property
    def observed_series(self) -> SthObservedSeries:
        return SthObservedSeries(self.sth)

    @cached_property
    def history(self) -> SthForecastHistory:
        return SthForecastHistory(self.sth)

    @cached_property
    def publisher(self) -> OrionForecastPublisher:
        return OrionForecastPublisher(self.orion)

    @cached_property
    def anomaly_publisher(self) -> OrionAnomalyPublisher:
        return OrionAnomalyPublisher(self.orion)

    @cached_property
    def provisioner(self) -> FiwareForecastProvisioner:
        return FiwareForecastProvisioner(
            self.devices,
            self.orion,
            MongoServiceGroupKeys(self.database, attempts=self.settings.mongodb_attempts),
            broker_url=self.settings.orion_url,
            sth_url=self.settings.sth_url,
        )

    @cached_property
    def job_cleaners(self) -> Sequence[JobResourceCleaner]:
        return [*forecast_cleaners(self), *monitoring_cleaners(self)]

    # ------------------------------------------------------------------ the forecasting library

    @cached_property
    def forecasters(self) -> ForecasterCache:
        return ForecasterCache(self.artifacts)

    @cached_property
    def scorers(self) -> ScorerCache:
        return ScorerCache(self.forecasters)

    @cached_property
    def preparer(self) -> DatasetCheck:
        return DatasetCheck()

    @cached_property
    def trainer(self) -> NetworkTrainer:
        return NetworkTrainer(self.artifacts)

    # ------------------------------------------------------------------ the API's edges

    @cached_property
    def token_verifier(self) -> JwtVerifier:
        """The bearer-token verifier; the HS256 secret comes from SSM when a parameter is named."""
        s = self.settings
        secret: str | None = None
        if s.auth_jwks_url is None:
            secret = _secret(s.auth_jwt_secret_parameter, s.auth_jwt_secret)
            if secret is None:
                raise RuntimeError(
                    "No authentication configured: set CHRONOS_AUTH_JWKS_URL, CHRONOS_AUTH_JWT_SECRET "
                    "or CHRONOS_AUTH_JWT_SECRET_PARAMETER"
                )
        return JwtVerifier(
            issuer=s.auth_issuer,
            audience=s.auth_audience,
            roles_claim=s.auth_roles_claim,
            tenants_claim=s.auth_tenants_claim,
            secret=secret,
            jwks_url=s.auth_jwks_url,
            leeway_seconds=s.auth_leeway_seconds,
        )

    @cached_property
    def health_probes(self) -> Sequence[HealthProbe]:
        """MongoDB and every AWS resource and FIWARE component this deployment is configured with."""
        s = self.settings
        probes: list[HealthProbe] = [MongoHealthProbe(self.mongo_client)]
        calls: list[tuple[str, str | None, str, dict[str, Any]]] = [
            ("s3", s.data_bucket, "head_bucket", {"Bucket": s.data_bucket}),
            (
                "stepfunctions",
                s.training_state_machine_arn,
                "describe_state_machine",
                {"stateMachineArn": s.training_state_machine_arn},
            ),
        ]
        for service, configured, method, kwargs in calls:
            if configured:
                probes.append(aws.AwsCallProbe(service, self._aws_call(service, method, kwargs)))
        probes.extend(fiware_probes(s))
        if s.forecast_queue_url:
            kwargs = {"QueueUrl": s.forecast_queue_url, "AttributeNames": ["QueueArn"]}
            probes.append(aws.AwsCallProbe("sqs", self._aws_call("sqs", "get_queue_attributes", kwargs)))
        return probes

    def _aws_call(self, service: str, method: str, kwargs: dict[str, Any]) -> Any:
        return lambda: getattr(self.aws_client(service), method)(**kwargs)

    @cached_property
    def health_cache(self) -> HealthCache:
        return HealthCache(ttl_seconds=HEALTH_CACHE_SECONDS)


def bootstrap(settings: Settings | None = None, **overrides: Any) -> Services:
    """A new :class:`Services`; each keyword replaces the adapter of that name (tests pass fakes).
    Raises TypeError for a name :class:`Services` does not have."""
    built = Services(settings or get_settings())
    for name, value in overrides.items():
        if not hasattr(Services, name):
            raise TypeError(f"Services has no adapter named {name!r}")
        built.__dict__[name] = value
    return built


_current: Services | None = None


def services() -> Services:
    """The services of this warm container, built on the first call."""
    global _current
    if _current is None:
        _current = bootstrap()
    return _current


def reset() -> None:
    """Forget the container's services and settings (tests that change the environment)."""
    global _current
    _current = None
    get_settings.cache_clear()


def _required(value: str | None, what: str, variable: str) -> str:
    if not value:
        raise DependencyUnavailableError(f"{what} is not configured ({variable})")
    return value


def _secret(parameter: str | None, value: SecretStr | None) -> str | None:
    """A secret from the SSM parameter ``parameter`` (decrypted) when one is named, else ``value``."""
    if parameter:
        from aws_lambda_powertools.utilities import parameters

        return str(parameters.get_parameter(parameter, decrypt=True, max_age=300))
    return value.get_secret_value() if value is not None else None


if TYPE_CHECKING:
    from chronos_core.api.deps import ApiServices
    from chronos_core.application.anomaly.deps import CombineDeps, PublishDeps, ScanControlDeps
    from chronos_core.application.anomaly.reconciliation import ScanReconcileDeps
    from chronos_core.application.forecasting.deps import CleanupDeps, SchedulerDeps, WorkerDeps
    from chronos_core.application.monitoring.deps import DeliveryDeps, EvaluationDeps
    from chronos_core.application.retraining.deps import ChampionDeps, PromotionDeps, RetrainDeps
    from chronos_core.application.training.pipeline.deps import CompletionDeps, PipelineDeps, TrainStepDeps
    from chronos_core.application.training.reconciliation import ReconcileDeps

    def _services_serve_every_entry_point(s: Services) -> None:
        """mypy checks here that :class:`Services` satisfies every dependency bundle."""
        api: ApiServices = s
        pipeline: PipelineDeps = s
        train_step: TrainStepDeps = s
        completion: CompletionDeps = s
        scheduler: SchedulerDeps = s
        worker: WorkerDeps = s
        cleanup: CleanupDeps = s
        reconcile: ReconcileDeps = s
        evaluation: EvaluationDeps = s
        delivery: DeliveryDeps = s
        retrain: RetrainDeps = s
        promotion: PromotionDeps = s
        champion: ChampionDeps = s
        scan_control: ScanControlDeps = s
        scan_combine: CombineDeps = s
        scan_publish: PublishDeps = s
        scan_reconcile: ScanReconcileDeps = s
        del api, pipeline, train_step, completion, scheduler, worker, cleanup, reconcile, evaluation, delivery
        del retrain, promotion, champion
        del scan_control, scan_combine, scan_publish, scan_reconcile
