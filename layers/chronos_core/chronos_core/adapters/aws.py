"""AWS adapters shared by several functions: client factory and health probes."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from chronos_core.application.ports.health import DependencyCheck

_CLIENT_CONFIG = Config(
    connect_timeout=2,
    read_timeout=5,
    retries={"max_attempts": 3, "mode": "standard"},
)


def create_client(service: str, region: str, endpoint_url: str | None) -> Any:
    """A boto3 client; ``endpoint_url`` points at LocalStack locally and is ``None`` in AWS."""
    return boto3.client(service, region_name=region, endpoint_url=endpoint_url, config=_CLIENT_CONFIG)


class AwsCallProbe:
    """Health probe that succeeds when one cheap, read-only AWS call succeeds."""

    def __init__(self, name: str, call: Callable[[], object], *, required: bool = True) -> None:
        self.name = name
        self.required = required
        self._call = call

    def check(self) -> DependencyCheck:
        started = time.perf_counter()
        try:
            self._call()
        except (BotoCoreError, ClientError) as exc:
            return DependencyCheck(
                name=self.name,
                status="down",
                latency_ms=round((time.perf_counter() - started) * 1000, 2),
                required=self.required,
                message=type(exc).__name__,
            )
        return DependencyCheck(
            name=self.name,
            status="up",
            latency_ms=round((time.perf_counter() - started) * 1000, 2),
            required=self.required,
        )
