"""``chronos alerts``, ``chronos rules``, ``chronos channels`` and ``chronos silences``: model
monitoring (``/alerts``, ``/alert-rules``, ``/alert-channels``, ``/silences``).

Rules and silences take their tenant from the model (or rule) they name; channels from
``--service`` or the profile's tenant. Writes need the operator role.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from chronos_cli.commands.common import confirm, get_in
from chronos_cli.commands.devices import ServiceOption, tenant_of
from chronos_cli.commands.models import read_body_file
from chronos_cli.context import command, state
from chronos_cli.output import Table

alerts_app = typer.Typer(
    help="Alerts: list, show (events and deliveries), acknowledge.", no_args_is_help=True
)
rules_app = typer.Typer(help="Alert rules: create, list, show, events, delete.", no_args_is_help=True)
channels_app = typer.Typer(
    help="Notification channels (webhook, SNS, Orion): create, list, show, delete.", no_args_is_help=True
)
silences_app = typer.Typer(
    help="Silences: hold back a rule's or a model's notifications.", no_args_is_help=True
)

RULE_TYPES = (
    "observed_threshold",
    "predicted_crossing",
    "live_accuracy",
    "input_drift",
    "staleness",
    "forecast_failures",
    "training_failed",
)
SEVERITIES = ("informational", "low", "medium", "high", "critical")
CHANNEL_TYPES = ("webhook", "sns", "orion")
ALERT_STATUSES = ("firing", "resolved", "all")
_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def register(root: typer.Typer) -> None:
    root.add_typer(alerts_app, name="alerts")
    root.add_typer(rules_app, name="rules")
    root.add_typer(channels_app, name="channels")
    root.add_typer(silences_app, name="silences")


def _choice(value: str | None, choices: tuple[str, ...], option: str) -> None:
    if value is not None and value not in choices:
        raise typer.BadParameter(f"{value!r} is not one of {', '.join(choices)}", param_hint=option)


def _footer(page: dict[str, Any], rows: list[Any], what: str) -> list[str]:
    return [f"{len(rows)} of {page['total']} {what}"] if page["total"] > len(rows) else []


def fields_table(body: dict[str, Any], title: str, skip: tuple[str, ...] = ()) -> Table:
    rows = [[k, json.dumps(v) if isinstance(v, dict | list) else v] for k, v in body.items() if k not in skip]
    return Table(["field", "value"], rows, title=title)


def parse_duration(text: str) -> timedelta:
    """``90s``, ``15m``, ``2h`` or ``1d``."""
    match = _DURATION.match(text.strip())
    if not match:
        raise typer.BadParameter(f"{text!r} is not a duration such as 30m, 2h or 1d")
    return timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])


def parse_param(text: str) -> tuple[str, Any]:
    """``KEY=VALUE``, the value read as JSON when it is JSON (``threshold=90``, ``direction=above``)."""
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise typer.BadParameter(f"{text!r} is not KEY=VALUE", param_hint="--param")
    try:
        return key, json.loads(raw)
    except ValueError:
        return key, raw


# ------------------------------------------------------------------------------------- alerts


def alert_row(a: dict[str, Any]) -> list[Any]:
    return [
        a["id"],
        a["status"],
        a["state"],
        a["severity"],
        a["rule_name"],
        a.get("entity_id"),
        a.get("value"),
        a["started_at"],
        a.get("resolved_at"),
        "yes" if a.get("acknowledged_at") else "",
    ]


ALERT_COLUMNS = ["id", "status", "state", "severity", "rule", "entity", "value", "started", "resolved", "ack"]


@alerts_app.command("list")
@command
def alerts_list(
    status: Annotated[str, typer.Option(help="firing (active), resolved or all.")] = "firing",
    severity: Annotated[str | None, typer.Option(help="Only this severity.")] = None,
    rule_id: Annotated[str | None, typer.Option(help="Only the alerts of this rule.")] = None,
    model_id: Annotated[str | None, typer.Option(help="Only the alerts of this model's rules.")] = None,
    skip: Annotated[int, typer.Option(min=0, help="Alerts to skip (newest first).")] = 0,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Alerts to list.")] = 100,
) -> None:
    """Alerts, most recently started first (GET /alerts): the active ones by default."""
    _choice(status, ALERT_STATUSES, "--status")
    _choice(severity, SEVERITIES, "--severity")
    st = state()
    page = st.client.get(
        "/alerts",
        status=status,
        severity=severity,
        rule_id=rule_id,
        model_id=model_id,
        skip=skip,
        limit=limit,
    )
    rows = [alert_row(a) for a in page["items"]]
    st.out.result(page, Table(ALERT_COLUMNS, rows, footer=_footer(page, rows, "alert(s)")))


@alerts_app.command("show")
@command
def alerts_show(alert_id: Annotated[str, typer.Argument(help="Alert id.")]) -> None:
    """One alert with its state transitions and every notification (GET /alerts/{id})."""
    st = state()
    detail = st.client.get(f"/alerts/{alert_id}")
    alert = detail["alert"]
    table = fields_table(alert, f"Alert {alert['id']}", skip=("values",))
    table.footer.extend(
        f"event {e['at']}: {e['from_state']} -> {e['to_state']} ({e['outcome']}) {e.get('message', '')}"
        for e in detail.get("events", [])
    )
    table.footer.extend(
        f"delivery {n['id']} {n['kind']} via {n['channel_type']} {n['channel_id']}: {n['status']} "
        f"after {n['attempts']} attempt(s)"
        + (f", last error {n['last_error']}" if n.get("last_error") else "")
        for n in detail.get("deliveries", [])
    )
    st.out.result(detail, table)


@alerts_app.command("ack")
@command
def alerts_ack(
    alert_id: Annotated[str, typer.Argument(help="Alert id.")],
    comment: Annotated[str, typer.Option(help="Why (kept on the alert).")] = "",
) -> None:
    """Acknowledge an active alert: it is not repeated any more (POST /alerts/{id}/ack, operator)."""
    st = state()
    alert = st.client.post(f"/alerts/{alert_id}/ack", {"comment": comment})
    st.out.result(alert, fields_table(alert, f"Alert {alert['id']} acknowledged", skip=("values",)))


# -------------------------------------------------------------------------------------- rules


def rule_row(r: dict[str, Any]) -> list[Any]:
    return [
        r["id"],
        r["name"],
        r["type"],
        r["severity"],
        r["model_id"],
        r.get("job_id"),
        r["evaluation_interval_seconds"],
        len(r.get("channels", [])),
        r["enabled"],
    ]


RULE_COLUMNS = ["id", "name", "type", "severity", "model", "job", "every_s", "channels", "enabled"]


def rule_view_table(view: dict[str, Any]) -> Table:
    rule = view["rule"]
    table = fields_table(rule, f"Rule {rule['id']}")
    table.rows = [
        *table.rows,
        ["state", get_in(view, "state", "state")],
        ["state.since", get_in(view, "state", "since")],
        ["last_evaluation", get_in(view, "last_evaluation", "message")],
        ["stats", json.dumps(view.get("stats"))],
    ]
    return table


@rules_app.command("list")
@command
def rules_list(
    model_id: Annotated[str | None, typer.Option(help="Only rules on this model.")] = None,
    job_id: Annotated[str | None, typer.Option(help="Only rules on this job.")] = None,
    rule_type: Annotated[str | None, typer.Option("--type", help="Only rules of this type.")] = None,
    enabled: Annotated[
        bool | None, typer.Option("--enabled/--disabled", help="Only (dis)abled rules.")
    ] = None,
    skip: Annotated[int, typer.Option(min=0, help="Rules to skip (newest first).")] = 0,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Rules to list.")] = 100,
) -> None:
    """Alert rules matching every filter, newest first (GET /alert-rules)."""
    _choice(rule_type, RULE_TYPES, "--type")
    st = state()
    page = st.client.get(
        "/alert-rules",
        model_id=model_id,
        job_id=job_id,
        type=rule_type,
        enabled=enabled,
        skip=skip,
        limit=limit,
    )
    rows = [rule_row(r) for r in page["items"]]
    st.out.result(page, Table(RULE_COLUMNS, rows, footer=_footer(page, rows, "rule(s)")))


@rules_app.command("show")
@command
def rules_show(rule_id: Annotated[str, typer.Argument(help="Rule id.")]) -> None:
    """A rule with its state, latest evaluation and alert stats (GET /alert-rules/{id})."""
    st = state()
    view = st.client.get(f"/alert-rules/{rule_id}")
    st.out.result(view, rule_view_table(view))


@rules_app.command("events")
@command
def rules_events(
    rule_id: Annotated[str, typer.Argument(help="Rule id.")],
    limit: Annotated[int, typer.Option(min=1, max=500, help="Events to list.")] = 50,
) -> None:
    """The rule's state transitions, newest first (GET /alert-rules/{id}/events)."""
    st = state()
    page = st.client.get(f"/alert-rules/{rule_id}/events", limit=limit)
    rows = [
        [e["at"], e["from_state"], e["to_state"], e["outcome"], e.get("value"), e["message"]]
        for e in page["items"]
    ]
    st.out.result(page, Table(["at", "from", "to", "outcome", "value", "message"], rows))


@rules_app.command("create")
@command
def rules_create(
    rule_type: Annotated[
        str | None, typer.Option("--type", help=f"Rule type: {', '.join(RULE_TYPES)}.")
    ] = None,
    model_id: Annotated[str | None, typer.Option("--model-id", "--model", help="The model watched.")] = None,
    job_id: Annotated[
        str | None, typer.Option(help="A job of the model (default: the one it serves).")
    ] = None,
    name: Annotated[str | None, typer.Option(help="Name (default: generated).")] = None,
    severity: Annotated[str | None, typer.Option(help=f"{', '.join(SEVERITIES)} (default medium).")] = None,
    param: Annotated[
        list[str] | None, typer.Option("--param", help="A rule parameter KEY=VALUE (JSON values); repeat.")
    ] = None,
    params: Annotated[str | None, typer.Option(help="All parameters as a JSON object.")] = None,
    channel: Annotated[
        list[str] | None, typer.Option("--channel", help="A channel id to notify; repeat.")
    ] = None,
    interval: Annotated[
        int | None, typer.Option("--interval", min=60, help="evaluation_interval_seconds (default 60).")
    ] = None,
    for_seconds: Annotated[int | None, typer.Option(min=0, help="Pending this long before firing.")] = None,
    repeat_interval: Annotated[
        int | None, typer.Option(min=60, help="repeat_interval_seconds: notify again after this long.")
    ] = None,
    notify_on_resolve: Annotated[
        bool | None, typer.Option("--notify-on-resolve/--no-notify-on-resolve", help="Notify the resolution.")
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option("--file", "-f", help="JSON object of rule fields (`-` for stdin); options override it."),
    ] = None,
) -> None:
    """Create an alert rule on a model (POST /alert-rules, operator).

    Example: ``chronos rules create --type observed_threshold --model m1 --param threshold=90
    --param direction=above --channel <channel id> --severity high``.
    """
    st = state()
    body = read_body_file(file)
    _choice(rule_type, RULE_TYPES, "--type")
    _choice(severity, SEVERITIES, "--severity")
    if params is not None:
        try:
            parsed = json.loads(params)
        except ValueError as exc:
            raise typer.BadParameter(f"not JSON: {exc}", param_hint="--params") from None
        if not isinstance(parsed, dict):
            raise typer.BadParameter("must be a JSON object", param_hint="--params")
        body["params"] = parsed
    if param:
        body["params"] = {**body.get("params", {}), **dict(parse_param(p) for p in param)}
    options = {
        "type": rule_type,
        "model_id": model_id,
        "job_id": job_id,
        "name": name,
        "severity": severity,
        "channels": channel or None,
        "evaluation_interval_seconds": interval,
        "for_seconds": for_seconds,
        "repeat_interval_seconds": repeat_interval,
        "notify_on_resolve": notify_on_resolve,
    }
    body.update({k: v for k, v in options.items() if v is not None})
    for required, option in (("type", "--type"), ("model_id", "--model-id")):
        if required not in body:
            raise typer.BadParameter(f"{option} (or {required!r} in --file) is required", param_hint=option)
    view = st.client.post("/alert-rules", body)
    st.out.result(view, rule_view_table(view))


@rules_app.command("delete")
@command
def rules_delete(
    rule_id: Annotated[str, typer.Argument(help="Rule id.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete a rule: its active alert is resolved, its history kept (DELETE /alert-rules/{id})."""
    st = state()
    confirm(st, f"Delete alert rule {rule_id}?", yes)
    st.client.delete(f"/alert-rules/{rule_id}")
    st.out.result({"deleted": True, "rule_id": rule_id})


# ----------------------------------------------------------------------------------- channels


def channel_row(c: dict[str, Any]) -> list[Any]:
    stats = c.get("stats", {})
    return [
        c["id"],
        c["name"],
        c["type"],
        c["fiware_service"],
        c["status"],
        stats.get("times_sent"),
        stats.get("delivered"),
        stats.get("failed"),
        stats.get("consecutive_failures"),
        stats.get("last_success"),
        stats.get("last_failure_reason"),
    ]


CHANNEL_COLUMNS = [
    "id", "name", "type", "service", "status", "sent", "delivered", "failed", "consecutive_failures",
    "last_success", "last_failure",
]  # fmt: skip


def channel_table(c: dict[str, Any], title: str) -> Table:
    table = fields_table(c, title, skip=("stats",))
    table.rows = [*table.rows, *[[f"stats.{k}", v] for k, v in c.get("stats", {}).items()]]
    return table


@channels_app.command("list")
@command
def channels_list(
    skip: Annotated[int, typer.Option(min=0, help="Channels to skip.")] = 0,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Channels to list.")] = 100,
) -> None:
    """Channels with their delivery counters, Orion-subscription style (GET /alert-channels)."""
    st = state()
    page = st.client.get("/alert-channels", skip=skip, limit=limit)
    rows = [channel_row(c) for c in page["items"]]
    st.out.result(page, Table(CHANNEL_COLUMNS, rows, footer=_footer(page, rows, "channel(s)")))


@channels_app.command("show")
@command
def channels_show(channel_id: Annotated[str, typer.Argument(help="Channel id.")]) -> None:
    """A channel and its counters (GET /alert-channels/{id})."""
    st = state()
    found = st.client.get(f"/alert-channels/{channel_id}")
    st.out.result(found, channel_table(found, f"Channel {found['id']}"))


@channels_app.command("create")
@command
def channels_create(
    channel_type: Annotated[str | None, typer.Option("--type", help="webhook, sns or orion.")] = None,
    name: Annotated[str | None, typer.Option(help="Name.")] = None,
    service: ServiceOption = None,
    url: Annotated[str | None, typer.Option(help="The webhook's URL.")] = None,
    header: Annotated[
        list[str] | None, typer.Option("--header", help="A webhook header NAME=VALUE; repeat.")
    ] = None,
    topic_arn: Annotated[str | None, typer.Option(help="The SNS topic's ARN.")] = None,
    max_consecutive_failures: Annotated[
        int | None,
        typer.Option(min=1, max=1000, help="Disable the channel after this many failures in a row."),
    ] = None,
    file: Annotated[
        Path | None, typer.Option("--file", "-f", help="JSON object of channel fields (`-` for stdin).")
    ] = None,
) -> None:
    """Create a channel (POST /alert-channels, operator). A webhook's signing secret is shown
    once, in the answer."""
    st = state()
    body = read_body_file(file)
    _choice(channel_type, CHANNEL_TYPES, "--type")
    if channel_type:
        body["type"] = channel_type
    if name:
        body["name"] = name
    if service or "fiware_service" not in body:
        body["fiware_service"] = tenant_of(st, service, None)[0]
    config = dict(body.get("config") or {})
    if url:
        config["url"] = url
    if header:
        config["headers"] = {**config.get("headers", {}), **dict(h.split("=", 1) for h in header if "=" in h)}
    if topic_arn:
        config["topic_arn"] = topic_arn
    body["config"] = config
    if max_consecutive_failures is not None:
        body["max_consecutive_failures"] = max_consecutive_failures
    if "type" not in body:
        raise typer.BadParameter("--type (or 'type' in --file) is required", param_hint="--type")
    body.setdefault("name", f"{body['type']} channel")
    created = st.client.post("/alert-channels", body)
    if created.get("secret"):
        st.out.info("Keep the signing secret now: it is not shown again.")
    st.out.result(created, channel_table(created, f"Channel {created['id']}"))


@channels_app.command("delete")
@command
def channels_delete(
    channel_id: Annotated[str, typer.Argument(help="Channel id.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete a channel that no rule names (DELETE /alert-channels/{id}, operator)."""
    st = state()
    confirm(st, f"Delete channel {channel_id}?", yes)
    st.client.delete(f"/alert-channels/{channel_id}")
    st.out.result({"deleted": True, "channel_id": channel_id})


# ----------------------------------------------------------------------------------- silences


def silence_row(s: dict[str, Any]) -> list[Any]:
    return [
        s["id"],
        s["fiware_service"],
        s.get("rule_id"),
        s.get("model_id"),
        s["starts_at"],
        s["ends_at"],
        s["comment"],
    ]


@silences_app.command("list")
@command
def silences_list(
    include_ended: Annotated[bool, typer.Option("--all", help="Also the silences that have ended.")] = False,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Silences to list.")] = 100,
) -> None:
    """Silences that have not ended (GET /silences)."""
    st = state()
    page = st.client.get("/silences", active=not include_ended, limit=limit)
    rows = [silence_row(s) for s in page["items"]]
    st.out.result(page, Table(["id", "service", "rule", "model", "starts", "ends", "comment"], rows))


@silences_app.command("create")
@command
def silences_create(
    rule_id: Annotated[str | None, typer.Option(help="Silence this rule.")] = None,
    model_id: Annotated[str | None, typer.Option(help="Silence every rule of this model.")] = None,
    duration: Annotated[str, typer.Option("--for", help="How long from now: 30m, 2h, 1d.")] = "1h",
    comment: Annotated[str, typer.Option(help="Why.")] = "",
) -> None:
    """Hold back a rule's or a model's notifications from now for a while (POST /silences,
    operator); a firing held back goes out when the silence ends."""
    if (rule_id is None) == (model_id is None):
        raise typer.BadParameter("give one of --rule-id and --model-id", param_hint="--rule-id")
    st = state()
    ends = datetime.now(UTC) + parse_duration(duration)
    body = {"rule_id": rule_id, "model_id": model_id, "ends_at": ends.isoformat(), "comment": comment}
    created = st.client.post("/silences", {k: v for k, v in body.items() if v is not None})
    st.out.result(created, fields_table(created, f"Silence {created['id']}"))


@silences_app.command("delete")
@command
def silences_delete(silence_id: Annotated[str, typer.Argument(help="Silence id.")]) -> None:
    """End a silence now (DELETE /silences/{id}, operator)."""
    st = state()
    st.client.delete(f"/silences/{silence_id}")
    st.out.result({"deleted": True, "silence_id": silence_id})
