"""FIWARE clients (STH-Comet, Orion NGSI v2, IoT Agent): sync httpx, retries, typed errors."""

from __future__ import annotations

from chronos_core.adapters.fiware.errors import (
    FiwareAuthError,
    FiwareBadRequestError,
    FiwareConflictError,
    FiwareNotFoundError,
    FiwareProtocolError,
    FiwareRateLimitedError,
    FiwareServerError,
    FiwareUnavailableError,
    FiwareUpstreamError,
)
from chronos_core.adapters.fiware.http import RetryPolicy, build_path, encode_path_segment
from chronos_core.adapters.fiware.iot_agent import (
    DevicePage,
    IotAgentClient,
    IotAttribute,
    IotDevice,
    ServiceGroup,
    generate_api_key,
)
from chronos_core.adapters.fiware.orion import (
    OrionClient,
    forecast_attributes,
    forecast_series_attribute,
    notification_subscription,
)
from chronos_core.adapters.fiware.sth import SthCometClient, SthPage, SthPoint

__all__ = [
    "DevicePage",
    "FiwareAuthError",
    "FiwareBadRequestError",
    "FiwareConflictError",
    "FiwareNotFoundError",
    "FiwareProtocolError",
    "FiwareRateLimitedError",
    "FiwareServerError",
    "FiwareUnavailableError",
    "FiwareUpstreamError",
    "IotAgentClient",
    "IotAttribute",
    "IotDevice",
    "OrionClient",
    "RetryPolicy",
    "ServiceGroup",
    "SthCometClient",
    "SthPage",
    "SthPoint",
    "build_path",
    "encode_path_segment",
    "forecast_attributes",
    "forecast_series_attribute",
    "generate_api_key",
    "notification_subscription",
]
