"""Seed the sandbox with a series: a CSV file or the Taylor electricity-demand series.

Points go straight into the sandbox's MongoDB database (the sandbox need not be running):

* STH raw points ``{recvTime, attrName, attrType, attrValue}`` with realistic ``recvTime`` stamps:
  the sampling instant plus a delivery latency of a few hundred milliseconds (deterministic for a
  given ``--seed``), strictly increasing and unique to the millisecond. Values are stored as
  strings by default, as Cygnus stores them (``--value-format number`` keeps JSON numbers).
* the Orion entity, holding the last value with its ``TimeInstant``;
* with ``--register-device``, the IoT Agent device that feeds the entity.

With ``--sth-url``, ``--orion-url`` or ``--iota-url``, that component is seeded through its public
API instead, so that it works on real FIWARE too: the device through ``POST /iot/devices``, the
history as NGSIv1 notifications on STH's ``/notify`` whose ``TimeInstant`` metadata is each point's
``recvTime`` (after deleting the attribute's history), the entity through
``POST /v2/entities?options=upsert``. (Slow against the sandbox's STH: FerretDB scans a
collection per upsert.)

The Taylor series (``pmdarima.datasets.load_taylor``): half-hourly electricity demand in England and
Wales from Monday 5 June 2000 to Sunday 27 August 2000, 4032 points (Taylor, 2003).
"""

from __future__ import annotations

import contextlib
import csv
import json
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from pymongo import MongoClient

from local.fiware_sandbox import iot_agent, orion, sth
from local.fiware_sandbox.common import SandboxState

TAYLOR_START = datetime(2000, 6, 5, tzinfo=UTC)
TAYLOR_INTERVAL = timedelta(minutes=30)
_TIME_COLUMNS = ("timestamp", "time", "recvtime", "date", "datetime", "ts")
_VALUE_COLUMNS = ("value", "attrvalue", "y", "demand")


@dataclass
class SeedResult:
    points: int
    first: datetime
    last: datetime
    device_id: str | None


def load_taylor() -> list[float]:
    """The 4032 half-hourly Taylor demand values, from the ``pmdarima`` package."""
    try:
        from pmdarima.datasets import load_taylor as _load
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise SystemExit("--taylor needs the 'pmdarima' package (pip install pmdarima)") from exc
    return [float(v) for v in _load(as_series=False)]


def load_csv(path: Path) -> tuple[list[datetime | None], list[float]]:
    """Read ``timestamp,value`` rows (header optional), or a single column of values."""
    with path.open(newline="") as handle:
        rows = [row for row in csv.reader(handle) if row and any(cell.strip() for cell in row)]
    if not rows:
        raise SystemExit(f"{path}: no rows")
    time_col: int | None = None
    value_col = 0
    header = [cell.strip().lower() for cell in rows[0]]
    try:
        float(rows[0][-1])
        has_header = False
    except ValueError:
        has_header = True
    if has_header:
        rows = rows[1:]
        time_col = next((i for i, name in enumerate(header) if name in _TIME_COLUMNS), None)
        value_col = next((i for i, name in enumerate(header) if name in _VALUE_COLUMNS), len(header) - 1)
    elif len(rows[0]) >= 2:
        time_col, value_col = 0, 1
    stamps: list[datetime | None] = []
    values: list[float] = []
    for row in rows:
        values.append(float(row[value_col]))
        stamps.append(sth.parse_time(row[time_col]) if time_col is not None else None)
    return stamps, values


def realistic_stamps(
    count: int, start: datetime, interval: timedelta, *, jitter_ms: int, seed: int
) -> list[datetime]:
    """Sampling instants plus a random delivery latency, strictly increasing at ms resolution."""
    rng = random.Random(seed)
    stamps: list[datetime] = []
    previous: datetime | None = None
    for index in range(count):
        stamp = start + index * interval + timedelta(milliseconds=rng.randint(20, max(20, jitter_ms)))
        stamp = stamp.replace(microsecond=stamp.microsecond // 1000 * 1000)
        if previous is not None and stamp <= previous:
            stamp = previous + timedelta(milliseconds=1)
        stamps.append(stamp)
        previous = stamp
    return stamps


def seed_series(
    *,
    mongodb_uri: str | None = None,
    database: str = "fiware_sandbox",
    values: list[float],
    stamps: list[datetime],
    service: str,
    servicepath: str,
    entity_type: str,
    entity_id: str,
    attr: str,
    attr_type: str = "Number",
    value_format: str = "string",
    register_device: bool = False,
    device_id: str | None = None,
    sth_url: str | None = None,
    orion_url: str | None = None,
    iota_url: str | None = None,
    auth_token: str | None = None,
    batch_size: int = 200,
) -> SeedResult:
    """Replace the attribute's STH history with the points; upsert the Orion entity; maybe the device.

    A component whose URL is given (``sth_url``, ``orion_url``, ``iota_url``) is seeded through its
    public API, which real FIWARE has too (``auth_token`` goes as ``X-Auth-Token``); the others
    straight into the sandbox database ``database`` at ``mongodb_uri``."""
    service = service.lower()
    stored_values: list[Any] = [_format_value(v, value_format) for v in values]
    points = list(zip(stamps, stored_values, strict=True))
    registered = (device_id or entity_id.rsplit(":", 1)[-1]) if register_device else None
    device = _device_body(entity_type, entity_id, attr, attr_type, registered) if registered else None
    with contextlib.ExitStack() as resources:
        state: SandboxState | None = None
        if not (sth_url and orion_url and (iota_url or device is None)):
            if not mongodb_uri:
                raise ValueError(
                    "a component without a URL is seeded in the sandbox database: give mongodb_uri"
                )
            client: MongoClient[dict[str, Any]] = MongoClient(
                mongodb_uri, serverSelectionTimeoutMS=5000, tz_aware=True
            )
            resources.callback(client.close)
            state = SandboxState(mongo=client, db=client[database])
        http: Any = None
        if sth_url or orion_url or iota_url:
            import httpx

            headers = {"fiware-service": service, "fiware-servicepath": servicepath}
            if auth_token:
                headers["x-auth-token"] = auth_token
            http = resources.enter_context(httpx.Client(headers=headers, timeout=60))

        if device is not None:  # first: a real IoT Agent may create the entity when provisioning it
            if iota_url:
                created = http.post(f"{iota_url.rstrip('/')}/iot/devices", json={"devices": [device]})
                if created.status_code != 409:  # 409 DUPLICATE_DEVICE_ID: already registered
                    _check(created, "IoT Agent POST /iot/devices")
            else:
                assert state is not None
                _register_device(state, service, servicepath, device)
        if sth_url:
            _replace_history_through_api(
                http, sth_url.rstrip("/"), entity_type, entity_id, attr, attr_type, points, batch_size
            )
        else:
            assert state is not None
            sth.store_points(
                state, service, servicepath, entity_id, entity_type, attr, attr_type, points, replace=True
            )
        if orion_url:
            instant = sth.fmt_time(stamps[-1])
            entity = {
                "id": entity_id,
                "type": entity_type,
                attr: {
                    "type": attr_type,
                    "value": stored_values[-1],
                    "metadata": {"TimeInstant": {"type": "DateTime", "value": instant}},
                },
                "TimeInstant": {"type": "DateTime", "value": instant},
            }
            upserted = http.post(
                f"{orion_url.rstrip('/')}/v2/entities", params={"options": "upsert"}, json=entity
            )
            _check(upserted, "Orion POST /v2/entities?options=upsert")
        else:
            assert state is not None
            _upsert_entity(
                state,
                service,
                servicepath,
                entity_type,
                entity_id,
                attr,
                attr_type,
                stored_values[-1],
                stamps[-1],
            )
    return SeedResult(points=len(values), first=stamps[0], last=stamps[-1], device_id=registered)


def _replace_history_through_api(
    http: Any,
    sth_url: str,
    entity_type: str,
    entity_id: str,
    attr: str,
    attr_type: str,
    points: list[tuple[datetime, Any]],
    batch_size: int,
) -> None:
    """Delete the attribute's STH history, then notify the points (``TimeInstant`` = recvTime)."""
    kind, ident, name = (quote(part, safe="") for part in (entity_type, entity_id, attr))
    deleted = http.delete(f"{sth_url}/STH/v1/contextEntities/type/{kind}/id/{ident}/attributes/{name}")
    if deleted.status_code != 404:
        _check(deleted, "STH-Comet DELETE (the previous history)")
    for first in range(0, len(points), batch_size):
        chunk = points[first : first + batch_size]
        notified = http.post(
            f"{sth_url}/notify", json=_notification(entity_type, entity_id, attr, attr_type, chunk)
        )
        _check(notified, "STH-Comet POST /notify")


def _check(response: Any, what: str) -> None:
    if response.status_code >= 300:
        raise SystemExit(f"{what} answered {response.status_code}: {response.text[:500]}")


def _notification(
    entity_type: str, entity_id: str, attr: str, attr_type: str, points: list[tuple[datetime, Any]]
) -> dict[str, Any]:
    """An NGSIv1 (``legacy``) notification of ``points``, one context response each, stamped by
    ``TimeInstant`` metadata (which STH-Comet stores as ``recvTime``)."""
    attribute = {"name": attr, "type": attr_type}
    return {
        "subscriptionId": "chronos-seed",
        "originator": "chronos",
        "contextResponses": [
            {
                "contextElement": {
                    "type": entity_type,
                    "isPattern": "false",
                    "id": entity_id,
                    "attributes": [
                        {
                            **attribute,
                            "value": value,
                            "metadatas": [
                                {"name": "TimeInstant", "type": "ISO8601", "value": sth.fmt_time(stamp)}
                            ],
                        }
                    ],
                },
                "statusCode": {"code": "200", "reasonPhrase": "OK"},
            }
            for stamp, value in points
        ],
    }


def _device_body(
    entity_type: str, entity_id: str, attr: str, attr_type: str, device_id: str
) -> dict[str, Any]:
    return {
        "device_id": device_id,
        "entity_name": entity_id,
        "entity_type": entity_type,
        "transport": "HTTP",
        "protocol": "IoTA-JSON",
        "timestamp": True,
        "attributes": [{"object_id": attr, "name": attr, "type": attr_type}],
    }


def _format_value(value: float, value_format: str) -> Any:
    if value_format == "number":
        return int(value) if float(value).is_integer() else value
    return repr(int(value)) if float(value).is_integer() else repr(value)


def _upsert_entity(
    state: SandboxState,
    service: str,
    servicepath: str,
    entity_type: str,
    entity_id: str,
    attr: str,
    attr_type: str,
    value: Any,
    stamp: datetime,
) -> None:
    orion.ensure_indexes(state)
    instant = sth.fmt_time(stamp)
    key = {"service": service, "id": entity_id, "type": entity_type, "servicepath": servicepath}
    existing = state.db["orion_entities"].find_one(key)
    attrs = json.loads(existing["attrs"]) if existing else {}
    attrs[attr] = {
        "type": attr_type,
        "value": value,
        "metadata": {"TimeInstant": {"type": "DateTime", "value": instant}},
    }
    attrs["TimeInstant"] = {"type": "DateTime", "value": instant, "metadata": {}}
    now = time.time()
    state.db["orion_entities"].update_one(
        key,
        {
            "$set": {"attrs": json.dumps(attrs), "modDate": now},
            "$setOnInsert": {"creDate": now, "seq": time.time_ns()},
        },
        upsert=True,
    )


def _register_device(state: SandboxState, service: str, servicepath: str, body: dict[str, Any]) -> None:
    iot_agent.ensure_indexes(state)
    state.db["iota_devices"].update_one(
        {"service": service, "subservice": servicepath, "apikey": "", "device_id": body["device_id"]},
        {"$set": {"body": json.dumps(body)}, "$setOnInsert": {"seq": time.time_ns()}},
        upsert=True,
    )
