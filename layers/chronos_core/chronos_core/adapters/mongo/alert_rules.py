"""Alert rules (``alert_rules``), their states (``alert_states``, ``_id`` = rule id), the
evaluation claims (``alert_claims``) and the evaluation log (``alert_evaluations``).

**The claim is an insert**, as for forecast slots: a ticket ``_id = "<rule>|<slot>"`` inserted in
one unordered ``insert_many`` per batch; a duplicate means another evaluator has the slot. The
evaluation log is insert-only too, so a tick over a thousand rules costs a handful of writes
when nothing changes (on FerretDB v1 one update costs milliseconds, and a bulk of more than about
fifty updates stalls). Tickets and log entries older than a day are pruned now and then (no TTL
indexes on FerretDB v1).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any, Final

from pymongo import DESCENDING
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import BulkWriteError, DuplicateKeyError

from chronos_core.adapters.mongo.client import (
    ALERT_CLAIMS,
    ALERT_EVALUATIONS,
    ALERT_RULES,
    ALERT_STATES,
    Document,
    with_retries,
)
from chronos_core.application.ports.models import Page
from chronos_core.application.ports.monitoring import EvaluationRecord, RuleFilter
from chronos_core.domain.errors import ConflictError
from chronos_core.domain.ids import ModelId
from chronos_core.domain.model import utcnow
from chronos_core.domain.monitoring import AlertRule, RuleState, RuleType

DUPLICATE_KEY: Final = 11000
KEEP_FOR: Final = timedelta(days=1)
PRUNE_EVERY_SECONDS: Final = 600.0


def _without_id(doc: Document) -> Document:
    return {k: v for k, v in doc.items() if k != "_id"}


class MongoAlertRules:
    """:class:`~chronos_core.application.ports.monitoring.AlertRules` on ``alert_rules``."""

    def __init__(self, db: Database[Document], attempts: int = 3) -> None:
        self._rules: Collection[Document] = db[ALERT_RULES]
        self._attempts = attempts

    @with_retries
    def add(self, rule: AlertRule) -> None:
        try:
            self._rules.insert_one({"_id": rule.id, **rule.model_dump()})
        except DuplicateKeyError as exc:
            raise ConflictError(f"Alert rule {rule.id} already exists") from exc

    @with_retries
    def get(self, rule_id: str) -> AlertRule | None:
        doc = self._rules.find_one({"_id": rule_id})
        return AlertRule.model_validate(_without_id(doc)) if doc else None

    @with_retries
    def replace(self, rule: AlertRule) -> bool:
        return (
            self._rules.replace_one({"_id": rule.id}, {"_id": rule.id, **rule.model_dump()}).matched_count
            == 1
        )

    @with_retries
    def delete(self, rule_id: str) -> bool:
        return self._rules.delete_one({"_id": rule_id}).deleted_count == 1

    @with_retries
    def enabled(self, limit: int) -> list[AlertRule]:
        return [
            AlertRule.model_validate(_without_id(d)) for d in self._rules.find({"enabled": True}).limit(limit)
        ]

    @with_retries
    def for_model(self, model_id: ModelId, types: Sequence[RuleType]) -> list[AlertRule]:
        query = {"model_id": model_id, "enabled": True, "type": {"$in": [t.value for t in types]}}
        return [AlertRule.model_validate(_without_id(d)) for d in self._rules.find(query)]

    @with_retries
    def using_channel(self, channel_id: str) -> list[str]:
        return [str(d["_id"]) for d in self._rules.find({"channels": channel_id}, {"_id": 1})]

    @with_retries
    def list(self, filters: RuleFilter, skip: int, limit: int) -> Page[AlertRule]:
        query: dict[str, Any] = {}
        if filters.services is not None:
            query["fiware_service"] = {"$in": sorted(filters.services)}
        for name in ("model_id", "job_id", "enabled"):
            value = getattr(filters, name)
            if value is not None:
                query[name] = value
        if filters.type is not None:
            query["type"] = filters.type.value
        total = self._rules.count_documents(query)
        cursor = (
            self._rules.find(query)
            .sort([("created_at", DESCENDING), ("_id", DESCENDING)])
            .skip(skip)
            .limit(limit)
        )
        items = [AlertRule.model_validate(_without_id(d)) for d in cursor]
        return Page(items=items, total=total, skip=skip, limit=limit)


class MongoRuleStates:
    """:class:`~chronos_core.application.ports.monitoring.RuleStates` on ``alert_states``."""

    def __init__(self, db: Database[Document], attempts: int = 3) -> None:
        self._states: Collection[Document] = db[ALERT_STATES]
        self._attempts = attempts

    @with_retries
    def get(self, rule_id: str) -> RuleState | None:
        doc = self._states.find_one({"_id": rule_id})
        return RuleState.model_validate(_without_id(doc)) if doc else None

    @with_retries
    def get_many(self, rule_ids: Sequence[str]) -> dict[str, RuleState]:
        if not rule_ids:
            return {}
        found: dict[str, RuleState] = {}
        for start in range(0, len(rule_ids), 1000):
            chunk = list(rule_ids[start : start + 1000])
            for doc in self._states.find({"_id": {"$in": chunk}}):
                found[str(doc["_id"])] = RuleState.model_validate(_without_id(doc))
        return found

    @with_retries
    def save(self, state: RuleState) -> None:
        self._states.replace_one(
            {"_id": state.rule_id}, {"_id": state.rule_id, **state.model_dump()}, upsert=True
        )

    def save_many(self, states: Sequence[RuleState]) -> None:
        """States saved for the first time (version 1) are inserted together, one
        ``insert_many`` per thousand; the others, and any first state that another writer stored
        meanwhile, are replaced one by one (a bulk of replaces stalls FerretDB v1, where one
        replace costs a few milliseconds and an insert of a thousand about as much)."""
        first = [s for s in states if s.version == 1]
        later = [s for s in states if s.version != 1]
        for start in range(0, len(first), 1000):
            later.extend(self._insert_new(first[start : start + 1000]))
        for state in later:
            self.save(state)

    @with_retries
    def _insert_new(self, states: Sequence[RuleState]) -> list[RuleState]:
        """Insert the states; answer those whose rule already had one stored."""
        try:
            self._states.insert_many([{"_id": s.rule_id, **s.model_dump()} for s in states], ordered=False)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(error.get("code") != DUPLICATE_KEY for error in errors):
                raise
            return [states[int(error["index"])] for error in errors]
        return []

    @with_retries
    def delete(self, rule_id: str) -> None:
        self._states.delete_one({"_id": rule_id})


class MongoEvaluationLog:
    """:class:`~chronos_core.application.ports.monitoring.EvaluationLog` on ``alert_claims``
    and ``alert_evaluations``."""

    def __init__(self, db: Database[Document], attempts: int = 3) -> None:
        self._claims: Collection[Document] = db[ALERT_CLAIMS]
        self._log: Collection[Document] = db[ALERT_EVALUATIONS]
        self._attempts = attempts
        self._pruned_at = float("-inf")
        self._prune_lock = threading.Lock()

    def claim(self, keys: Sequence[str]) -> list[bool]:
        self._prune_now_and_then()
        if not keys:
            return []
        now = utcnow()
        tick = uuid.uuid4().hex
        tickets: list[Document] = [{"_id": key, "tick": tick, "claimed_at": now} for key in keys]
        lost: set[int] = set()
        try:
            self._insert(tickets)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(error.get("code") != DUPLICATE_KEY for error in errors):
                raise
            lost = {int(error["index"]) for error in errors}
            ours = self._tickets_of(tick, [keys[i] for i in lost])  # a retried insert met its own
            lost = {i for i in lost if keys[i] not in ours}
        return [i not in lost for i in range(len(keys))]

    @with_retries
    def _insert(self, tickets: list[Document]) -> None:
        self._claims.insert_many(tickets, ordered=False)

    @with_retries
    def _tickets_of(self, tick: str, ids: list[str]) -> set[str]:
        return {d["_id"] for d in self._claims.find({"_id": {"$in": ids}, "tick": tick}, {"_id": 1})}

    @with_retries
    def record(self, evaluations: Sequence[EvaluationRecord]) -> None:
        if evaluations:
            self._log.insert_many([e.model_dump() for e in evaluations], ordered=False)

    @with_retries
    def latest(self, rule_id: str) -> EvaluationRecord | None:
        doc = self._log.find_one({"rule_id": rule_id}, sort=[("at", DESCENDING)])
        return EvaluationRecord.model_validate(_without_id(doc)) if doc else None

    @with_retries
    def prune(self, before: Any) -> int:
        claims = self._claims.delete_many({"claimed_at": {"$lt": before}}).deleted_count
        log = self._log.delete_many({"at": {"$lt": before}}).deleted_count
        return claims + log

    def _prune_now_and_then(self) -> None:
        with self._prune_lock:
            if time.monotonic() - self._pruned_at < PRUNE_EVERY_SECONDS:
                return
            self._pruned_at = time.monotonic()
        self.prune(utcnow() - KEEP_FOR)
