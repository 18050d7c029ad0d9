"""The one place that builds adapters from settings. Each builder runs once per warm container."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from pymongo import MongoClient
from pymongo.database import Database

from chronos_core.adapters import aws, mongo
from chronos_core.application.ports import HealthProbe, ModelRepository
from chronos_core.config import Settings, get_settings


@lru_cache(maxsize=1)
def mongo_client() -> MongoClient[mongo.Document]:
    settings = get_settings()
    return mongo.create_client(settings.mongodb_uri.get_secret_value(), settings.mongodb_timeout_ms)


@lru_cache(maxsize=1)
def database() -> Database[mongo.Document]:
    """The Chronos database, with its indexes ensured once per container."""
    db = mongo_client()[get_settings().mongodb_database]
    mongo.ensure_indexes(db)
    return db


def model_repository() -> ModelRepository:
    return mongo.MongoModelRepository(database())


@lru_cache(maxsize=None)
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
    if settings.forecast_queue_url:
        url = settings.forecast_queue_url
        probes.append(
            aws.AwsCallProbe(
                "sqs",
                lambda: aws_client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"]),
            )
        )
    return probes
