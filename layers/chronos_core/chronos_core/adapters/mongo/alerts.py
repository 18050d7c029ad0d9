"""Alerts (``alerts``, one document per episode, ``_id`` = alert id), their events
(``alert_events``) and silences (``alert_silences``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pymongo import DESCENDING
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import BulkWriteError

from chronos_core.adapters.mongo.client import ALERT_EVENTS, ALERT_SILENCES, ALERTS, Document, with_retries
from chronos_core.application.ports.models import Page
from chronos_core.application.ports.monitoring import AlertFilter
from chronos_core.domain.model import utcnow
from chronos_core.domain.monitoring import Alert, AlertEvent, AlertState, AlertStatus, Silence


def _without_id(doc: Document) -> Document:
    return {k: v for k, v in doc.items() if k != "_id"}


DUPLICATE_KEY = 11000


def _services(query: dict[str, Any], services: frozenset[str] | None) -> None:
    if services is not None:
        query["fiware_service"] = {"$in": sorted(services)}


class MongoAlertStore:
    """:class:`~chronos_core.application.ports.monitoring.AlertStore` on ``alerts`` and
    ``alert_events``."""

    def __init__(self, db: Database[Document], attempts: int = 3) -> None:
        self._alerts: Collection[Document] = db[ALERTS]
        self._events: Collection[Document] = db[ALERT_EVENTS]
        self._attempts = attempts

    @with_retries
    def add_alert(self, alert: Alert) -> None:
        self._alerts.replace_one({"_id": alert.id}, {"_id": alert.id, **alert.model_dump()}, upsert=True)

    def add_alerts(self, alerts: Sequence[Alert]) -> None:
        """One ``insert_many`` per thousand alerts; an alert stored already (a retried tick) is
        replaced."""
        for start in range(0, len(alerts), 1000):
            for alert in self._insert_new(alerts[start : start + 1000]):
                self.add_alert(alert)

    @with_retries
    def _insert_new(self, alerts: Sequence[Alert]) -> list[Alert]:
        try:
            self._alerts.insert_many([{"_id": a.id, **a.model_dump()} for a in alerts], ordered=False)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(error.get("code") != DUPLICATE_KEY for error in errors):
                raise
            return [alerts[int(error["index"])] for error in errors]
        return []

    @with_retries
    def save_alert(self, alert: Alert) -> None:
        self._alerts.replace_one({"_id": alert.id}, {"_id": alert.id, **alert.model_dump()}, upsert=True)

    @with_retries
    def get_alert(self, alert_id: str) -> Alert | None:
        doc = self._alerts.find_one({"_id": alert_id})
        return Alert.model_validate(_without_id(doc)) if doc else None

    @with_retries
    def get_alerts(self, alert_ids: Sequence[str]) -> dict[str, Alert]:
        if not alert_ids:
            return {}
        docs = self._alerts.find({"_id": {"$in": list(alert_ids)}})
        return {str(d["_id"]): Alert.model_validate(_without_id(d)) for d in docs}

    @with_retries
    def list_alerts(self, filters: AlertFilter, skip: int, limit: int) -> Page[Alert]:
        query: dict[str, Any] = {}
        _services(query, filters.services)
        if filters.status is not None:
            query["status"] = filters.status.value
        for name in ("rule_id", "model_id"):
            value = getattr(filters, name)
            if value is not None:
                query[name] = value
        if filters.severity is not None:
            query["severity"] = filters.severity.value
        total = self._alerts.count_documents(query)
        cursor = (
            self._alerts.find(query)
            .sort([("started_at", DESCENDING), ("_id", DESCENDING)])
            .skip(skip)
            .limit(limit)
        )
        return Page(
            items=[Alert.model_validate(_without_id(d)) for d in cursor], total=total, skip=skip, limit=limit
        )

    @with_retries
    def alerts_of_rule(self, rule_id: str, limit: int = 10_000) -> list[Alert]:
        cursor = self._alerts.find({"rule_id": rule_id}).sort("started_at", DESCENDING).limit(limit)
        return [Alert.model_validate(_without_id(d)) for d in cursor]

    @with_retries
    def undecided_outcomes(self, rule_id: str) -> list[Alert]:
        query = {"rule_id": rule_id, "outcome": None, "predicted": {"$ne": None}}
        return [Alert.model_validate(_without_id(d)) for d in self._alerts.find(query)]

    @with_retries
    def undecided_outcomes_of(self, rule_ids: Sequence[str]) -> dict[str, list[Alert]]:
        found: dict[str, list[Alert]] = {}
        ids = list(dict.fromkeys(rule_ids))
        for start in range(0, len(ids), 1000):
            query = {
                "rule_id": {"$in": ids[start : start + 1000]},
                "outcome": None,
                "predicted": {"$ne": None},
            }
            for doc in self._alerts.find(query):
                found.setdefault(str(doc["rule_id"]), []).append(Alert.model_validate(_without_id(doc)))
        return found

    @with_retries
    def active_with_fingerprint(self, fingerprint: str) -> Alert | None:
        doc = self._alerts.find_one({"fingerprint": fingerprint, "status": AlertStatus.FIRING.value})
        return Alert.model_validate(_without_id(doc)) if doc else None

    @with_retries
    def add_events(self, events: Sequence[AlertEvent]) -> None:
        if events:
            self._events.insert_many([{"_id": e.id, **e.model_dump()} for e in events], ordered=False)

    @with_retries
    def events(
        self, *, rule_id: str | None = None, alert_id: str | None = None, skip: int = 0, limit: int = 100
    ) -> Page[AlertEvent]:
        query: dict[str, Any] = {}
        if rule_id is not None:
            query["rule_id"] = rule_id
        if alert_id is not None:
            query["alert_id"] = alert_id
        total = self._events.count_documents(query)
        cursor = (
            self._events.find(query).sort([("at", DESCENDING), ("_id", DESCENDING)]).skip(skip).limit(limit)
        )
        items = [AlertEvent.model_validate(_without_id(d)) for d in cursor]
        return Page(items=items, total=total, skip=skip, limit=limit)

    @with_retries
    def forget_rule(self, rule_id: str) -> None:
        now = utcnow()
        for doc in self._alerts.find({"rule_id": rule_id, "status": AlertStatus.FIRING.value}):
            self._alerts.update_one(
                {"_id": doc["_id"]},
                {
                    "$set": {
                        "status": AlertStatus.RESOLVED.value,
                        "state": AlertState.OK.value,
                        "resolved_at": now,
                        "updated_at": now,
                        "message": "the rule was deleted",
                    }
                },
            )


class MongoSilenceStore:
    """:class:`~chronos_core.application.ports.monitoring.SilenceStore` on ``alert_silences``."""

    def __init__(self, db: Database[Document], attempts: int = 3) -> None:
        self._silences: Collection[Document] = db[ALERT_SILENCES]
        self._attempts = attempts

    @with_retries
    def add(self, silence: Silence) -> None:
        self._silences.insert_one({"_id": silence.id, **silence.model_dump()})

    @with_retries
    def get(self, silence_id: str) -> Silence | None:
        doc = self._silences.find_one({"_id": silence_id})
        return Silence.model_validate(_without_id(doc)) if doc else None

    @with_retries
    def delete(self, silence_id: str) -> bool:
        return self._silences.delete_one({"_id": silence_id}).deleted_count == 1

    @with_retries
    def active(self, fiware_service: str, at: datetime) -> list[Silence]:
        query = {"fiware_service": fiware_service, "ends_at": {"$gt": at}, "starts_at": {"$lte": at}}
        return [Silence.model_validate(_without_id(d)) for d in self._silences.find(query)]

    @with_retries
    def list(
        self, services: frozenset[str] | None, active_at: datetime | None, skip: int, limit: int
    ) -> Page[Silence]:
        query: dict[str, Any] = {}
        _services(query, services)
        if active_at is not None:
            query["ends_at"] = {"$gt": active_at}
        total = self._silences.count_documents(query)
        cursor = (
            self._silences.find(query)
            .sort([("ends_at", DESCENDING), ("_id", DESCENDING)])
            .skip(skip)
            .limit(limit)
        )
        return Page(
            items=[Silence.model_validate(_without_id(d)) for d in cursor],
            total=total,
            skip=skip,
            limit=limit,
        )
