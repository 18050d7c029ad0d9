"""Notification delivery of the Orion double.

A write that changed attributes is queued (:meth:`Notifier.enqueue`) and delivered by one worker
thread, as Orion does, asynchronously: to every active, unexpired subscription of the tenant whose
service path covers the entity's, whose subject matches the entity and whose condition attributes
(if any) intersect the changed ones, unless throttled. Each attempt is recorded on the
subscription (``timesSent``, ``lastNotification``, ``lastSuccess``/``lastSuccessCode`` or
``lastFailure``/``lastFailureReason``, ``failsCounter`` reset on success).
"""

from __future__ import annotations

import json
import queue
import re
import secrets
import threading
import time
from datetime import UTC, datetime
from typing import Any

import httpx

from local.fiware_sandbox.common import SandboxState
from local.fiware_sandbox.orion.ngsi import VERSION, sp_matches
from local.fiware_sandbox.orion.store import Attrs, Doc, SubscriptionStore, unpack
from local.fiware_sandbox.sth import fmt_time


def subject_matches(entities: list[dict[str, Any]], entity_id: str, entity_type: str) -> bool:
    """Whether any ``subject.entities`` item (``id``/``idPattern``, ``type``/``typePattern``, each
    optional) matches the entity; patterns must match the whole id or type."""
    for item in entities:
        if "id" in item and item["id"] != entity_id:
            continue
        if "idPattern" in item and not re.fullmatch(item["idPattern"], entity_id):
            continue
        if "type" in item and item["type"] != entity_type:
            continue
        if "typePattern" in item and not re.fullmatch(item["typePattern"], entity_type):
            continue
        return True
    return False


def legacy_body(sub_id: str, doc: Doc, attrs: Attrs) -> dict[str, Any]:
    """An NGSIv1 (``attrsFormat: legacy``) notification: one ``contextResponses`` item whose
    attributes carry ``metadatas`` only when they have metadata."""
    return {
        "subscriptionId": sub_id,
        "originator": "localhost",
        "contextResponses": [
            {
                "contextElement": {
                    "attributes": [
                        {
                            "name": name,
                            "type": attr["type"],
                            "value": attr["value"],
                            **(
                                {
                                    "metadatas": [
                                        {"name": m, "type": meta["type"], "value": meta["value"]}
                                        for m, meta in attr["metadata"].items()
                                    ]
                                }
                                if attr["metadata"]
                                else {}
                            ),
                        }
                        for name, attr in attrs.items()
                    ],
                    "id": doc["id"],
                    "isPattern": "false",
                    "type": doc["type"],
                },
                "statusCode": {"code": "200", "reasonPhrase": "OK"},
            }
        ],
    }


def notification_body(sub_id: str, fmt: str, doc: Doc, attrs: Attrs) -> Any:
    """The notification payload in ``fmt``: :func:`legacy_body`, the bare entity for the
    ``simplified*`` formats, otherwise ``{subscriptionId, data: [entity]}``; ``keyValues`` and
    ``simplifiedKeyValues`` give attribute values only."""
    if fmt == "legacy":
        return legacy_body(sub_id, doc, attrs)
    key_values = fmt in ("keyValues", "simplifiedKeyValues")
    entity: dict[str, Any] = {"id": doc["id"], "type": doc["type"]}
    for name, attr in attrs.items():
        entity[name] = attr["value"] if key_values else attr
    return entity if fmt.startswith("simplified") else {"subscriptionId": sub_id, "data": [entity]}


def notification_headers(service: str, servicepath: str, fmt: str, counter: int) -> dict[str, str]:
    """Orion 3.12's notification headers: a ``cbnotif=<counter>`` correlator, ``Ngsiv2-AttrsFormat``
    except for ``legacy``, ``Fiware-Service`` only for a named tenant."""
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "Fiware-Servicepath": servicepath,
        "Fiware-Correlator": f"{secrets.token_hex(8)}; cbnotif={counter}",
        "User-Agent": f"orion/{VERSION} libcurl/7.74.0",
    }
    if fmt != "legacy":
        headers["Ngsiv2-AttrsFormat"] = fmt
    if service:
        headers["Fiware-Service"] = service
    return headers


def is_due(sub_doc: Doc, sub: dict[str, Any], servicepath: str, doc: Doc, changed: set[str]) -> bool:
    """Whether subscription ``sub`` (stored as ``sub_doc``) is to be notified of this change."""
    if not sp_matches(sub_doc["servicepath"], servicepath) or sub.get("status", "active") != "active":
        return False
    if sub.get("expires") and sub["expires"] < fmt_time(datetime.now(UTC)):
        return False
    if not subject_matches(sub["subject"].get("entities", []), doc["id"], doc["type"]):
        return False
    trigger = (sub["subject"].get("condition") or {}).get("attrs") or []
    if trigger and not (set(trigger) & changed):
        return False
    throttling = sub.get("throttling")
    last = sub_doc.get("lastNotificationEpoch")
    return not (throttling and last and time.time() - last < throttling)


class Notifier:
    """Delivers subscription notifications from a worker thread (as Orion does, asynchronously)."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self.subscriptions = SubscriptionStore(state.db)
        self.queue: queue.Queue[tuple[str, str, dict[str, Any], set[str]]] = queue.Queue()
        self.client = httpx.Client(timeout=5.0)
        self.thread = threading.Thread(target=self._run, name="orion-notifier", daemon=True)
        self.thread.start()
        self.counter = 0

    def enqueue(self, service: str, servicepath: str, doc: dict[str, Any], changed: set[str]) -> None:
        """Queue the notifications for a write of entity ``doc`` that changed ``changed`` (none if empty)."""
        if changed:
            self.queue.put((service, servicepath, doc, changed))

    def drain(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the queue to be delivered; whether it was."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.queue.unfinished_tasks == 0:
                return True
            time.sleep(0.02)
        return False

    def _run(self) -> None:
        while True:
            item = self.queue.get()
            try:
                self._deliver(*item)
            except Exception:  # noqa: BLE001 - a broken notification must not kill the worker
                pass
            finally:
                self.queue.task_done()

    def _deliver(self, service: str, servicepath: str, doc: dict[str, Any], changed: set[str]) -> None:
        for sub_doc in self.subscriptions.of_service(service):
            sub = json.loads(sub_doc["body"])
            if is_due(sub_doc, sub, servicepath, doc, changed):
                self._send(sub_doc, sub, service, servicepath, doc)

    def _send(
        self,
        sub_doc: dict[str, Any],
        sub: dict[str, Any],
        service: str,
        servicepath: str,
        doc: dict[str, Any],
    ) -> None:
        notification = sub["notification"]
        wanted = notification.get("attrs") or []
        attrs = {k: v for k, v in unpack(doc).items() if not wanted or k in wanted}
        fmt = notification.get("attrsFormat", "normalized")
        body = notification_body(sub_doc["_id"], fmt, doc, attrs)
        self.counter += 1
        headers = notification_headers(service, servicepath, fmt, self.counter)
        http = notification.get("http") or notification.get("httpCustom") or {}
        now = time.time()
        update: dict[str, Any] = {
            "lastNotificationEpoch": now,
            "lastNotification": fmt_time(datetime.now(UTC)),
        }
        try:
            timeout = (http.get("timeout") or 5000) / 1000
            response = self.client.post(
                http["url"], content=json.dumps(body), headers=headers, timeout=timeout
            )
            update.update(
                lastSuccess=update["lastNotification"], lastSuccessCode=response.status_code, failsCounter=0
            )
        except httpx.HTTPError as exc:
            update.update(lastFailure=update["lastNotification"], lastFailureReason=type(exc).__name__)
        self.subscriptions.record_delivery(sub_doc["_id"], update)
