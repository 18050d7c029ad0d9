"""Orion Context Broker (NGSI v2) client (``fiware-contract.md`` §2).

Contract followed:

* Entities: ``POST /v2/entities`` → 201 + ``Location``; with ``options=upsert`` → **204** whether
  created or updated; an existing entity without upsert → 422 (:class:`FiwareConflictError`).
  ``POST /v2/entities/{id}/attrs`` (update-or-append) → 204. ``GET /v2/entities/{id}`` → 200 /
  404 / 409 (several types: always pass ``type`` when known).
* Subscriptions: ``POST /v2/subscriptions`` → 201 with the id as the last segment of ``Location``;
  ``DELETE`` → 204 / 404. ``subject.entities`` must be non-empty.
* Tenant headers come from each call's :class:`FiwareTenant` (validated: service ≤ 50 of
  ``[A-Za-z0-9_]``, lowercased; one service path). Ids, types, attribute and metadata names, and
  string values (forbidden ``< > " ' = ; ( )``) are validated **before** sending
  (:mod:`chronos_core.domain.fiware`), raising :class:`ValidationError`.
* Timestamps sent are UTC ``YYYY-MM-DDThh:mm:ss.sssZ``; ``TimeInstant`` is a ``DateTime`` metadata.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final, Literal

from chronos_core.adapters.fiware.http import FiwareClient, build_path
from chronos_core.domain.errors import ValidationError
from chronos_core.domain.fiware import (
    FEATURE_ATTRIBUTE,
    FORECAST_ATTRIBUTE,
    FORECAST_QUALITY_ATTRIBUTE,
    GENERAL_FORBIDDEN_CHARS,
    SOURCE_ENTITY_ATTRIBUTE,
    FiwareTenant,
    validate_attribute_name,
    validate_attributes,
    validate_entity,
    validate_ngsi_id,
)
from chronos_core.domain.forecasting import ForecastQuality, ForecastSeries
from chronos_core.domain.model import iso_z

COMPONENT: Final = "Orion"
MAX_LIST_LIMIT: Final = 1000
_RESERVED_FORECAST_ATTRS: Final = frozenset(
    {FORECAST_ATTRIBUTE, FORECAST_QUALITY_ATTRIBUTE, SOURCE_ENTITY_ATTRIBUTE, FEATURE_ATTRIBUTE}
)

BatchAction = Literal["append", "appendStrict", "update", "delete", "replace"]
AttrsFormat = Literal[
    "normalized", "keyValues", "values", "simplifiedNormalized", "simplifiedKeyValues", "legacy"
]


def forecast_series_attribute(series: ForecastSeries) -> dict[str, Any]:
    """``forecastSeries`` as a normalized attribute: ``{"type": "StructuredValue", "value":
    {generatedAt, horizon, points[step, value, targetTimestamp, lower?, upper?], serving?,
    trainingJobId?, modelVersion?},
    "metadata": {"TimeInstant": {"type": "DateTime", "value": generatedAt}}}``."""
    generated = iso_z(series.generated_at)
    return {
        "type": "StructuredValue",
        "value": {
            "generatedAt": generated,
            "horizon": series.horizon,
            "points": [
                {
                    "step": point.step,
                    "value": point.value,
                    "targetTimestamp": iso_z(point.target_timestamp),
                    **({"lower": point.lower, "upper": point.upper} if point.lower else {}),
                }
                for point in series.points
            ],
            **({"serving": series.serving} if series.serving else {}),
            **({"trainingJobId": series.training_job_id} if series.training_job_id else {}),
            **({"modelVersion": series.model_version} if series.model_version is not None else {}),
        },
        "metadata": {"TimeInstant": {"type": "DateTime", "value": generated}},
    }


def forecast_quality_attribute(quality: ForecastQuality, generated_at: datetime) -> dict[str, Any]:
    """``forecastQuality`` as a normalized attribute: ``{"type": "StructuredValue", "value":
    {status, interpolatedPoints, reason?}, "metadata": {"TimeInstant": generatedAt}}``. The
    reason loses any character Orion forbids in values (it is written without them)."""
    value: dict[str, Any] = {"status": quality.status, "interpolatedPoints": quality.interpolated_points}
    if quality.reason:
        value["reason"] = "".join(" " if c in GENERAL_FORBIDDEN_CHARS else c for c in quality.reason)
    return {
        "type": "StructuredValue",
        "value": value,
        "metadata": {"TimeInstant": {"type": "DateTime", "value": iso_z(generated_at)}},
    }


def to_ngsi_attribute(value: Any) -> dict[str, Any]:
    """Wrap a plain value as a normalized attribute.

    A mapping with ``type`` and ``value`` passes through; other mappings and lists become
    ``StructuredValue``; ``bool`` → ``Boolean``; ``int``/``float`` → ``Number``; ``datetime`` →
    ``DateTime``; anything else → ``Text`` (``str(value)``).
    """
    if isinstance(value, Mapping) and "type" in value and "value" in value:
        return dict(value)
    if isinstance(value, Mapping | list | tuple):
        return {"type": "StructuredValue", "value": value}
    if isinstance(value, bool):
        return {"type": "Boolean", "value": value}
    if isinstance(value, int | float):
        return {"type": "Number", "value": value}
    if isinstance(value, datetime):
        return {"type": "DateTime", "value": iso_z(value)}
    return {"type": "Text", "value": str(value)}


def forecast_attributes(
    source_entity_id: str,
    feature: str,
    series: ForecastSeries,
    extra_attributes: Mapping[str, Any] | None = None,
) -> dict[str, dict[str, Any]]:
    """The attributes written on every forecast: ``sourceEntity`` (Relationship), ``feature``
    (Text), ``forecastSeries`` (StructuredValue + TimeInstant), ``forecastQuality`` when the
    series carries one (StructuredValue + TimeInstant, :func:`forecast_quality_attribute`), plus
    ``extra_attributes`` (wrapped with :func:`to_ngsi_attribute`; they may not replace the
    reserved ones)."""
    attributes: dict[str, dict[str, Any]] = {}
    for name, value in (extra_attributes or {}).items():
        if name in _RESERVED_FORECAST_ATTRS:
            raise ValidationError(
                f"attribute {name!r} is reserved for the forecast",
                details=[{"field": f"metadata.{name}", "message": "reserved attribute name"}],
            )
        attributes[name] = to_ngsi_attribute(value)
    attributes[SOURCE_ENTITY_ATTRIBUTE] = {"type": "Relationship", "value": source_entity_id}
    attributes[FEATURE_ATTRIBUTE] = {"type": "Text", "value": feature}
    attributes[FORECAST_ATTRIBUTE] = forecast_series_attribute(series)
    if series.quality is not None:
        attributes[FORECAST_QUALITY_ATTRIBUTE] = forecast_quality_attribute(
            series.quality, series.generated_at
        )
    return attributes


def notification_subscription(
    entity_id: str,
    entity_type: str,
    notify_url: str,
    attrs: Sequence[str] = (FORECAST_ATTRIBUTE,),
    *,
    description: str = "Chronos - forecast updates",
    attrs_format: AttrsFormat = "legacy",
    throttling: int | None = None,
) -> dict[str, Any]:
    """A subscription notifying ``notify_url`` when ``attrs`` of one entity change.

    ``attrs_format="legacy"`` is what STH-Comet's ``/notify`` understands; real Orion ≥ 4.0
    rejects it (400), so against Orion 4.x route through Cygnus and pass ``"normalized"``.
    """
    validate_ngsi_id("entity_id", entity_id)
    validate_ngsi_id("entity_type", entity_type)
    for name in attrs:
        validate_attribute_name("attrs", name)
    subscription: dict[str, Any] = {
        "description": description,
        "subject": {
            "entities": [{"id": entity_id, "type": entity_type}],
            "condition": {"attrs": list(attrs)},
        },
        "notification": {
            "http": {"url": notify_url},
            "attrs": list(attrs),
            "attrsFormat": attrs_format,
        },
    }
    if throttling is not None:
        subscription["throttling"] = throttling
    return subscription


def _entity_params(entity_id: str, entity_type: str | None) -> dict[str, str | int]:
    """Validate an entity id (and optional type); the ``type`` query parameter when given."""
    validate_ngsi_id("entity_id", entity_id)
    return {} if entity_type is None else {"type": validate_ngsi_id("entity_type", entity_type)}


class OrionClient(FiwareClient):
    """Synchronous NGSI v2 client for entities, attributes and subscriptions. Thread-safe."""

    component = COMPONENT
    url_setting = "orion_url"

    def version(self) -> dict[str, Any]:
        """``GET /version`` → ``{"orion": {"version": ..., ...}}`` (no tenant headers)."""
        return self._get_object("/version", "version")

    # ------------------------------------------------------------------ entities

    def get_entity(
        self,
        tenant: FiwareTenant,
        entity_id: str,
        *,
        entity_type: str | None = None,
        attrs: Sequence[str] | None = None,
    ) -> dict[str, Any]:
        """The normalized entity. Raises :class:`FiwareNotFoundError` (404) or
        :class:`FiwareConflictError` (409, same id with several types and no ``entity_type``)."""
        params = _entity_params(entity_id, entity_type)
        if attrs:
            params["attrs"] = ",".join(validate_attribute_name("attrs", a) for a in attrs)
        return self._get_object(
            build_path("/v2/entities/{}", ("entity_id", entity_id)),
            "get entity",
            params=params,
            headers=tenant.headers(),
        )

    def find_entity(
        self, tenant: FiwareTenant, entity_id: str, *, entity_type: str | None = None
    ) -> dict[str, Any] | None:
        """Like :meth:`get_entity`, but ``None`` when the entity does not exist."""
        params = _entity_params(entity_id, entity_type)
        response = self._http.request(
            "GET",
            build_path("/v2/entities/{}", ("entity_id", entity_id)),
            operation="get entity",
            params=params,
            headers=tenant.headers(),
            ok=(200, 404),
        )
        if response.status_code == 404:
            return None
        body = response.json()
        return body if isinstance(body, dict) else None

    def list_entities(
        self,
        tenant: FiwareTenant,
        *,
        entity_type: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of entities and the total (``options=count`` → ``Fiware-Total-Count``)."""
        if not 1 <= limit <= MAX_LIST_LIMIT or offset < 0:
            raise ValidationError(
                f"limit must be within 1..{MAX_LIST_LIMIT} and offset >= 0",
                details=[{"field": "limit"}, {"field": "offset"}],
            )
        params: dict[str, str | int] = {"limit": limit, "offset": offset, "options": "count"}
        if entity_type is not None:
            params["type"] = validate_ngsi_id("entity_type", entity_type)
        response = self._http.request(
            "GET", "/v2/entities", operation="list entities", params=params, headers=tenant.headers()
        )
        body = response.json()
        if not isinstance(body, list):
            raise self._http.protocol_error(response, "list entities", "body is not a JSON array")
        try:
            total = int(response.headers.get("fiware-total-count", len(body)))
        except ValueError:
            total = len(body)
        return body, total

    def create_entity(self, tenant: FiwareTenant, entity: Mapping[str, Any]) -> None:
        """Create a new entity (201). An existing one raises :class:`FiwareConflictError` (422)."""
        validate_entity(entity)
        self._http.request(
            "POST",
            "/v2/entities",
            operation="create entity",
            headers=tenant.headers(),
            json=dict(entity),
            ok=(201,),
            idempotent=False,
        )

    def upsert_entity(self, tenant: FiwareTenant, entity: Mapping[str, Any]) -> None:
        """Create or update an entity with ``options=upsert`` (Orion answers 204 in both cases)."""
        validate_entity(entity)
        self._http.request(
            "POST",
            "/v2/entities",
            operation="upsert entity",
            params={"options": "upsert"},
            headers=tenant.headers(),
            json=dict(entity),
            ok=(204,),
        )

    def update_attributes(
        self,
        tenant: FiwareTenant,
        entity_id: str,
        attributes: Mapping[str, Any],
        *,
        entity_type: str | None = None,
    ) -> None:
        """Update-or-append attributes of an existing entity (204; 404 if the entity is missing)."""
        params = _entity_params(entity_id, entity_type)
        validate_attributes(attributes)
        self._http.request(
            "POST",
            build_path("/v2/entities/{}/attrs", ("entity_id", entity_id)),
            operation="update attributes",
            params=params,
            headers=tenant.headers(),
            json=dict(attributes),
            ok=(204,),
        )

    def delete_entity(
        self,
        tenant: FiwareTenant,
        entity_id: str,
        *,
        entity_type: str | None = None,
        missing_ok: bool = True,
    ) -> bool:
        """Delete an entity: ``True`` if deleted, ``False`` if it was missing and ``missing_ok``."""
        params = _entity_params(entity_id, entity_type)
        response = self._http.request(
            "DELETE",
            build_path("/v2/entities/{}", ("entity_id", entity_id)),
            operation="delete entity",
            params=params,
            headers=tenant.headers(),
            ok=(204, 404) if missing_ok else (204,),
        )
        return response.status_code == 204

    @staticmethod
    def forecast_entity(
        entity_id: str, entity_type: str, *, source_entity_id: str, feature: str, series: ForecastSeries
    ) -> dict[str, Any]:
        """The forecast entity :meth:`upsert_forecast` writes, validated."""
        entity: dict[str, Any] = {"id": entity_id, "type": entity_type}
        entity.update(forecast_attributes(source_entity_id, feature, series))
        validate_entity(entity)
        return entity

    def upsert_forecast(
        self,
        tenant: FiwareTenant,
        entity_id: str,
        entity_type: str,
        *,
        source_entity_id: str,
        feature: str,
        series: ForecastSeries,
        extra_attributes: Mapping[str, Any] | None = None,
    ) -> None:
        """Publish a forecast batch: upsert the forecast entity with :func:`forecast_attributes`."""
        entity: dict[str, Any] = {"id": entity_id, "type": entity_type}
        entity.update(forecast_attributes(source_entity_id, feature, series, extra_attributes))
        self.upsert_entity(tenant, entity)

    def batch_update(
        self, tenant: FiwareTenant, entities: Sequence[Mapping[str, Any]], *, action: BatchAction = "append"
    ) -> None:
        """``POST /v2/op/update`` ``{"actionType": action, "entities": [...]}`` → 204 (contract
        §2.6): ``append`` creates each entity or updates-or-appends its attributes, as an upsert
        does. Every entity is validated first; an empty list sends nothing. Orion's 422
        (``PartialUpdate``, ``Unprocessable``) and 404 raise :class:`FiwareUpstreamError`
        subclasses (the batch is not atomic: the items before a failure may be written)."""
        if not entities:
            return
        for entity in entities:
            validate_entity(entity)
        self._http.request(
            "POST",
            "/v2/op/update",
            operation="batch update",
            headers=tenant.headers(),
            json={"actionType": action, "entities": [dict(e) for e in entities]},
            ok=(204,),
        )

    # ------------------------------------------------------------------ subscriptions

    def create_subscription(self, tenant: FiwareTenant, subscription: Mapping[str, Any]) -> str:
        """Create a subscription (201) and return its id, the last segment of ``Location``.

        Not retried after the request may have reached Orion (a retry could duplicate it).
        """
        entities = (subscription.get("subject") or {}).get("entities")
        if not entities:
            raise ValidationError(
                "a subscription needs a non-empty subject.entities",
                details=[{"field": "subject.entities", "message": "required, non-empty"}],
            )
        response = self._http.request(
            "POST",
            "/v2/subscriptions",
            operation="create subscription",
            headers=tenant.headers(),
            json=dict(subscription),
            ok=(201,),
            idempotent=False,
        )
        location = response.headers.get("location", "")
        subscription_id = location.rstrip("/").rsplit("/", 1)[-1] if location else ""
        if not subscription_id or "?" in subscription_id:
            raise self._http.protocol_error(
                response, "create subscription", "201 without a usable Location header"
            )
        return subscription_id

    def get_subscription(self, tenant: FiwareTenant, subscription_id: str) -> dict[str, Any]:
        """The subscription as Orion renders it (404 → :class:`FiwareNotFoundError`)."""
        validate_ngsi_id("subscription_id", subscription_id)
        return self._get_object(
            build_path("/v2/subscriptions/{}", ("subscription_id", subscription_id)),
            "get subscription",
            headers=tenant.headers(),
        )

    def delete_subscription(
        self, tenant: FiwareTenant, subscription_id: str, *, missing_ok: bool = True
    ) -> bool:
        """Delete a subscription: ``True`` if deleted, ``False`` if it was already gone."""
        validate_ngsi_id("subscription_id", subscription_id)
        response = self._http.request(
            "DELETE",
            build_path("/v2/subscriptions/{}", ("subscription_id", subscription_id)),
            operation="delete subscription",
            headers=tenant.headers(),
            ok=(204, 404) if missing_ok else (204,),
        )
        return response.status_code == 204
