"""FIWARE as the forecast use cases see it: publishing to Orion, provisioning a job's forecast
resources (IoT Agent group and device, Orion entity and subscription), and reading published
forecasts back from STH-Comet."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Protocol

from chronos_core.adapters.fiware.errors import FiwareConflictError, FiwareUpstreamError
from chronos_core.adapters.fiware.iot_agent import (
    IotAgentClient,
    IotAttribute,
    IotDevice,
    ServiceGroup,
    generate_api_key,
)
from chronos_core.adapters.fiware.orion import OrionClient, notification_subscription
from chronos_core.adapters.fiware.sth import SthCometClient
from chronos_core.domain.errors import ValidationError
from chronos_core.domain.fiware import (
    FEATURE_ATTRIBUTE,
    FORECAST_ATTRIBUTE,
    SOURCE_ENTITY_ATTRIBUTE,
    FiwareTenant,
    SeriesRef,
)
from chronos_core.domain.forecasting import ForecastSeries, PredictionConfig
from chronos_core.domain.ids import JobId


def tenant_of(config: PredictionConfig) -> FiwareTenant:
    return FiwareTenant(config.fiware_service, config.fiware_servicepath)


class TenantApiKeys(Protocol):
    """Where each tenant's forecast service-group API key is kept (created once, race-free)."""

    def api_key(self, tenant: FiwareTenant, generate: Callable[[], str]) -> str: ...


class OrionForecastPublisher:
    """:class:`~chronos_core.application.ports.forecasting.ForecastPublisher` on Orion: an
    ``options=upsert`` of the forecast entity with ``sourceEntity``, ``feature``,
    ``forecastSeries`` and ``forecastQuality``."""

    def __init__(self, orion: OrionClient) -> None:
        self._orion = orion

    def publish(self, config: PredictionConfig, series: ForecastSeries) -> None:
        self._orion.upsert_forecast(
            tenant_of(config),
            config.entity_id,
            config.entity_type,
            source_entity_id=config.source_entity_id,
            feature=config.feature,
            series=series,
        )

    def publish_many(
        self, items: Sequence[tuple[PredictionConfig, ForecastSeries]]
    ) -> list[Exception | None]:
        """One ``POST /v2/op/update`` (``append``) per tenant for the whole batch. An item that
        fails validation is left out of the request; when Orion rejects the request itself (4xx),
        each of its items is published alone, so that one bad entity costs only itself. A
        server error or an unreachable Orion fails every item of the request."""
        results: list[Exception | None] = [None] * len(items)
        groups: dict[FiwareTenant, list[tuple[int, dict[str, Any]]]] = {}
        for i, (config, series) in enumerate(items):
            try:
                entity = self._orion.forecast_entity(
                    config.entity_id,
                    config.entity_type,
                    source_entity_id=config.source_entity_id,
                    feature=config.feature,
                    series=series,
                )
                groups.setdefault(tenant_of(config), []).append((i, entity))
            except Exception as exc:  # noqa: BLE001 - reported per item
                results[i] = exc
        for tenant, members in groups.items():
            try:
                self._orion.batch_update(tenant, [entity for _, entity in members])
            except FiwareUpstreamError as exc:
                if not 400 <= exc.status_code < 500 or len(members) == 1:
                    for i, _ in members:
                        results[i] = exc
                    continue
                for i, entity in members:  # isolate the item Orion refused
                    try:
                        self._orion.upsert_entity(tenant, entity)
                    except Exception as alone:  # noqa: BLE001 - reported per item
                        results[i] = alone
            except Exception as exc:  # noqa: BLE001 - reported per item
                for i, _ in members:
                    results[i] = exc
        return results


class FiwareForecastProvisioner:
    """:class:`~chronos_core.application.ports.forecasting.ForecastProvisioner` on the IoT Agent
    and Orion. Every step is idempotent: an existing group, device or entity is kept.

    ``broker_url`` is the Orion URL the IoT Agent group forwards to (``cbHost``); ``sth_url`` is
    where subscriptions notify (STH-Comet's ``/notify``, ``attrsFormat: legacy``).
    """

    def __init__(
        self,
        iot_agent: IotAgentClient,
        orion: OrionClient,
        keys: TenantApiKeys,
        *,
        broker_url: str | None,
        sth_url: str | None,
        generate_key: Callable[[], str] = generate_api_key,
    ) -> None:
        self._iot_agent = iot_agent
        self._orion = orion
        self._keys = keys
        self._broker_url = broker_url
        self._sth_url = sth_url
        self._generate_key = generate_key

    def provision(self, config: PredictionConfig) -> None:
        tenant = tenant_of(config)
        apikey = self._keys.api_key(tenant, self._generate_key)
        self._iot_agent.create_group(
            tenant,
            ServiceGroup(
                apikey=apikey,
                resource=config.service_group_resource or "",
                entity_type=config.entity_type,
                cbHost=self._broker_url,
                description="Chronos forecasts",
            ),
            exist_ok=True,
        )
        if config.device_id:
            self._iot_agent.create_device(tenant, _device(config, apikey), exist_ok=True)
        if self._orion.find_entity(tenant, config.entity_id, entity_type=config.entity_type) is None:
            with contextlib.suppress(FiwareConflictError):  # created concurrently
                self._orion.create_entity(
                    tenant,
                    {
                        "id": config.entity_id,
                        "type": config.entity_type,
                        SOURCE_ENTITY_ATTRIBUTE: {"type": "Relationship", "value": config.source_entity_id},
                        FEATURE_ATTRIBUTE: {"type": "Text", "value": config.feature},
                    },
                )

    def subscribe(self, config: PredictionConfig, job_id: JobId) -> str:
        if not self._sth_url:
            raise ValidationError("STH-Comet is not configured; forecasts would have no history")
        return self._orion.create_subscription(
            tenant_of(config),
            notification_subscription(
                config.entity_id,
                config.entity_type,
                self._sth_url.rstrip("/") + "/notify",
                description=f"Chronos - forecasts of job {job_id}",
            ),
        )

    def unsubscribe(self, tenant: FiwareTenant, subscription_id: str) -> None:
        self._orion.delete_subscription(tenant, subscription_id, missing_ok=True)

    def remove(self, config: PredictionConfig) -> None:
        tenant = tenant_of(config)
        if config.subscription_id:
            self.unsubscribe(tenant, config.subscription_id)
        self._orion.delete_entity(tenant, config.entity_id, entity_type=config.entity_type, missing_ok=True)
        if config.device_id:
            self._iot_agent.delete_device(tenant, config.device_id, missing_ok=True)


def _device(config: PredictionConfig, apikey: str) -> IotDevice:
    assert config.device_id is not None
    return IotDevice(
        device_id=config.device_id,
        entity_name=config.entity_id,
        entity_type=config.entity_type,
        apikey=apikey,
        transport="HTTP",
        protocol="IoTA-JSON",
        attributes=[IotAttribute(object_id="fs", name=FORECAST_ATTRIBUTE, type="StructuredValue")],
    )


class SthForecastHistory:
    """:class:`~chronos_core.application.ports.forecasting.ForecastHistory` on STH-Comet's raw
    data (``count=true`` for the total, ``hLimit``/``hOffset`` pages)."""

    def __init__(self, sth: SthCometClient) -> None:
        self._sth = sth

    def count(self, tenant: FiwareTenant, series: SeriesRef) -> int:
        return self._sth.count(tenant, series)

    def read(
        self, tenant: FiwareTenant, series: SeriesRef, offset: int, limit: int
    ) -> list[tuple[datetime, Any]]:
        return [(p.recv_time, p.value) for p in self._sth.fetch_page(tenant, series, offset, limit).points]
