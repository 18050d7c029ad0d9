"""``chronos models``: model definitions (``/models``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from chronos_cli.commands.common import confirm, get_in
from chronos_cli.commands.devices import ServiceOption, ServicePathOption, fetch_devices, tenant_of
from chronos_cli.context import State, command, explicit, state
from chronos_cli.errors import UsageError
from chronos_cli.output import Table

app = typer.Typer(help="Model definitions: create, list, show, update, delete.", no_args_is_help=True)

MODEL_TYPES = ("lstm", "gru")
STATUSES = ("draft", "training", "trained")
ACTIVATIONS = ("relu", "tanh", "sigmoid", "linear", "elu", "selu", "gelu", "swish")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="models")


def model_row(m: dict[str, Any]) -> list[Any]:
    return [
        m["id"],
        m["name"],
        m["model_type"],
        m["status"],
        m["entity_id"],
        m["feature"],
        f"{m['fiware_service']}{m['fiware_servicepath']}",
        m.get("has_successful_training"),
        get_in(m, "serving", "serving"),
        m.get("updated_at"),
    ]


MODEL_COLUMNS = [
    "id",
    "name",
    "type",
    "status",
    "entity_id",
    "feature",
    "tenant",
    "trained",
    "serving",
    "updated_at",
]


def model_table(m: dict[str, Any]) -> Table:
    rows = [[k, v] for k, v in m.items() if k not in ("serving",)]
    if m.get("serving"):
        rows.append(["serving", get_in(m, "serving", "serving")])
        rows.append(["serving.rule", get_in(m, "serving", "rule")])
    return Table(["field", "value"], rows, title=f"Model {m['id']}")


def parse_rnn_layer(text: str) -> dict[str, Any]:
    """``UNITS[:DROPOUT[:RECURRENT_DROPOUT]]`` as an ``rnn_layers`` item."""
    parts = text.split(":")
    try:
        layer: dict[str, Any] = {"units": int(parts[0])}
        if len(parts) > 1 and parts[1]:
            layer["dropout"] = float(parts[1])
        if len(parts) > 2 and parts[2]:
            layer["recurrent_dropout"] = float(parts[2])
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not UNITS[:DROPOUT[:RECURRENT_DROPOUT]]") from None
    if len(parts) > 3:
        raise typer.BadParameter(f"{text!r} is not UNITS[:DROPOUT[:RECURRENT_DROPOUT]]")
    return layer


def parse_dense_layer(text: str) -> dict[str, Any]:
    """``UNITS[:DROPOUT[:ACTIVATION]]`` as a ``dense_layers`` item."""
    parts = text.split(":")
    try:
        layer: dict[str, Any] = {"units": int(parts[0])}
        if len(parts) > 1 and parts[1]:
            layer["dropout"] = float(parts[1])
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not UNITS[:DROPOUT[:ACTIVATION]]") from None
    if len(parts) > 2 and parts[2]:
        if parts[2] not in ACTIVATIONS:
            raise typer.BadParameter(f"activation {parts[2]!r} is not one of {', '.join(ACTIVATIONS)}")
        layer["activation"] = parts[2]
    if len(parts) > 3:
        raise typer.BadParameter(f"{text!r} is not UNITS[:DROPOUT[:ACTIVATION]]")
    return layer


def read_body_file(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        text = path.read_text(encoding="utf-8") if str(path) != "-" else sys.stdin.read()
        body = json.loads(text)
    except (OSError, ValueError) as exc:
        raise UsageError(f"Cannot read a JSON object from {path}: {exc}") from None
    if not isinstance(body, dict):
        raise UsageError(f"{path} must hold a JSON object of model fields")
    return body


def resolve_device(
    st: State, device: str, attribute: str | None, service: str, servicepath: str
) -> dict[str, str]:
    """The entity type, entity id and feature of a device's attribute, from GET /devices/."""
    body = fetch_devices(st, service, servicepath)
    for group in body.get("devices", []):
        for entity in group.get("entities", []):
            if device not in (entity.get("device_id"), entity.get("entity_name")):
                continue
            names = [a["name"] for a in entity.get("attributes", [])]
            if attribute is None:
                if len(names) != 1:
                    raise UsageError(
                        f"Device {device} has {len(names)} attributes: pass --attribute",
                        hints=[f"Attributes: {', '.join(names) or 'none'}"],
                    )
                attribute = names[0]
            if attribute not in names:
                raise UsageError(
                    f"Device {device} has no attribute {attribute!r}",
                    hints=[f"Attributes: {', '.join(names)}"],
                )
            return {
                "entity_type": group["entity_type"],
                "entity_id": entity["entity_name"],
                "feature": attribute,
            }
    raise UsageError(
        f"No device {device!r} in {service}{servicepath}", hints=["`chronos devices list` shows the devices"]
    )


# Options shared by create and update; their names are the API's fields.
Name = Annotated[str | None, typer.Option(help='Name (default: "<TYPE> - <feature>").')]
Description = Annotated[str | None, typer.Option(help="Description (default: generated).")]
BatchSize = Annotated[int, typer.Option(min=1, max=1024, help="batch_size.")]
Epochs = Annotated[int, typer.Option(min=1, max=1000, help="epochs.")]
LearningRate = Annotated[float, typer.Option(help="learning_rate, in (0, 1].")]
ValidationRatio = Annotated[float, typer.Option(help="validation_ratio, in (0, 1).")]
TestRatio = Annotated[float, typer.Option(help="test_ratio, in (0, 1).")]
Patience = Annotated[
    int | None,
    typer.Option(
        "--early-stopping-patience",
        "--patience",
        min=1,
        max=1000,
        help="early_stopping_patience (default: min(max(10 % of epochs, 5), 20, epochs)).",
    ),
]
Lookback = Annotated[
    int, typer.Option("--lookback-window", "--lookback", min=1, max=8760, help="lookback_window.")
]
Horizon = Annotated[
    int, typer.Option("--forecast-horizon", "--horizon", min=1, max=8760, help="forecast_horizon.")
]
SamplingInterval = Annotated[
    str | None,
    typer.Option(
        help="sampling_interval, an ISO-8601 duration (PT30M, PT1H, P1D, P1M…) (default: detected)."
    ),
]
SeasonLength = Annotated[
    int | None,
    typer.Option(min=1, max=20000, help="season_length in grid steps, 1 = none (default: detected)."),
]
RnnLayers = Annotated[
    list[str] | None,
    typer.Option(
        "--rnn-layer",
        help="A recurrent layer UNITS[:DROPOUT[:RECURRENT_DROPOUT]]; repeat for a stack "
        "(default: one layer of 64).",
    ),
]
DenseLayers = Annotated[
    list[str] | None,
    typer.Option(
        "--dense-layer", help="A hidden dense layer UNITS[:DROPOUT[:ACTIVATION]]; repeat (default: none)."
    ),
]
BodyFile = Annotated[
    Path | None,
    typer.Option("--file", "-f", help="JSON object of model fields (`-` for stdin); options override it."),
]


@app.command("list")
@command
def list_(
    model_type: Annotated[str | None, typer.Option("--model-type", "--type", help="lstm or gru.")] = None,
    status: Annotated[str | None, typer.Option(help="draft, training or trained.")] = None,
    entity_id: Annotated[str | None, typer.Option(help="Only models of this entity.")] = None,
    feature: Annotated[str | None, typer.Option(help="Only models of this attribute.")] = None,
    skip: Annotated[int, typer.Option(min=0, help="Models to skip (newest first).")] = 0,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Models to list.")] = 100,
) -> None:
    """Models matching every filter, newest first (GET /models/)."""
    st = state()
    page = st.client.get(
        "/models/",
        model_type=model_type,
        status=status,
        entity_id=entity_id,
        feature=feature,
        skip=skip,
        limit=limit,
    )
    rows = [model_row(m) for m in page["items"]]
    footer = [f"{len(rows)} of {page['total']} model(s)"] if page["total"] > len(rows) else []
    st.out.result(page, Table(MODEL_COLUMNS, rows, footer=footer))


@app.command("types")
@command
def types() -> None:
    """The recurrent cell types a model can use (GET /models/types)."""
    st = state()
    body = st.client.get("/models/types")
    st.out.result(body, Table(["value", "label"], [[t["value"], t["label"]] for t in body]))


@app.command("show")
@command
def show(model_id: Annotated[str, typer.Argument(help="Model id.")]) -> None:
    """One model (GET /models/{id})."""
    st = state()
    model = st.client.get(f"/models/{model_id}")
    st.out.result(model, model_table(model))


@app.command("create")
@command
def create(
    device: Annotated[
        str | None,
        typer.Option(help="Device id or entity id from `chronos devices list` (sets entity and feature)."),
    ] = None,
    attribute: Annotated[
        str | None, typer.Option(help="The device's attribute to forecast (with --device).")
    ] = None,
    entity_type: Annotated[str | None, typer.Option(help="entity_type (without --device).")] = None,
    entity_id: Annotated[str | None, typer.Option(help="entity_id (without --device).")] = None,
    feature: Annotated[
        str | None, typer.Option(help="feature: the attribute to forecast (without --device).")
    ] = None,
    service: ServiceOption = None,
    servicepath: ServicePathOption = None,
    model_type: Annotated[
        str, typer.Option("--model-type", "--type", help="model_type: lstm or gru.")
    ] = "lstm",
    name: Name = None,
    description: Description = None,
    batch_size: BatchSize = 32,
    epochs: Epochs = 100,
    learning_rate: LearningRate = 0.001,
    validation_ratio: ValidationRatio = 0.15,
    test_ratio: TestRatio = 0.15,
    early_stopping_patience: Patience = None,
    lookback_window: Lookback = 24,
    forecast_horizon: Horizon = 1,
    sampling_interval: SamplingInterval = None,
    season_length: SeasonLength = None,
    rnn_layer: RnnLayers = None,
    dense_layer: DenseLayers = None,
    file: BodyFile = None,
) -> None:
    """Create a draft model for a device attribute (POST /models/, admin).

    Only the options you give are sent; the API applies its defaults (shown) to the others.
    """
    st = state()
    body = read_body_file(file)
    if model_type not in MODEL_TYPES:
        raise typer.BadParameter(
            f"{model_type!r} is not one of {', '.join(MODEL_TYPES)}", param_hint="--model-type"
        )
    if explicit("model_type") or "model_type" not in body:
        body["model_type"] = model_type
    if rnn_layer:
        body["rnn_layers"] = [parse_rnn_layer(t) for t in rnn_layer]
    body.setdefault("rnn_layers", [{"units": 64}])
    if dense_layer:
        body["dense_layers"] = [parse_dense_layer(t) for t in dense_layer]
    if device:
        if entity_id or entity_type or feature:
            raise UsageError("Give either --device (and --attribute) or --entity-type/--entity-id/--feature")
        svc, path = tenant_of(
            st, service or body.get("fiware_service"), servicepath or body.get("fiware_servicepath")
        )
        body.update(resolve_device(st, device, attribute, svc, path))
    elif attribute:
        raise UsageError("--attribute needs --device (or use --feature)")
    values = {
        "entity_type": entity_type,
        "entity_id": entity_id,
        "feature": feature,
        "name": name,
        "description": description,
        "early_stopping_patience": early_stopping_patience,
        "sampling_interval": sampling_interval,
        "season_length": season_length,
    }
    body.update({k: v for k, v in values.items() if v is not None})
    defaulted = {
        "batch_size": batch_size,
        "epochs": epochs,
        "learning_rate": learning_rate,
        "validation_ratio": validation_ratio,
        "test_ratio": test_ratio,
        "lookback_window": lookback_window,
        "forecast_horizon": forecast_horizon,
    }
    body.update({k: v for k, v in defaulted.items() if explicit(k)})
    if "fiware_service" not in body or service:
        body["fiware_service"], body["fiware_servicepath"] = tenant_of(
            st, service or body.get("fiware_service"), servicepath or body.get("fiware_servicepath")
        )
    elif servicepath:
        body["fiware_servicepath"] = servicepath
    missing = [f for f in ("entity_type", "entity_id", "feature") if not body.get(f)]
    if missing:
        raise UsageError(
            f"Missing {', '.join(missing)}",
            hints=["Pass --device DEVICE --attribute ATTR, or --entity-type, --entity-id and --feature"],
        )
    model = st.client.post("/models/", body)
    st.out.result(model, model_table(model))
    st.out.info(f"Created model {model['id']}; train it with `chronos train start {model['id']} --follow`")


@app.command("update")
@command
def update(
    model_id: Annotated[str, typer.Argument(help="Model id (a draft model).")],
    model_type: Annotated[
        str | None, typer.Option("--model-type", "--type", help="model_type: lstm or gru.")
    ] = None,
    name: Name = None,
    description: Description = None,
    batch_size: Annotated[int | None, typer.Option(min=1, max=1024, help="batch_size.")] = None,
    epochs: Annotated[int | None, typer.Option(min=1, max=1000, help="epochs.")] = None,
    learning_rate: Annotated[float | None, typer.Option(help="learning_rate.")] = None,
    validation_ratio: Annotated[float | None, typer.Option(help="validation_ratio.")] = None,
    test_ratio: Annotated[float | None, typer.Option(help="test_ratio.")] = None,
    early_stopping_patience: Patience = None,
    lookback_window: Annotated[
        int | None, typer.Option("--lookback-window", "--lookback", min=1, max=8760, help="lookback_window.")
    ] = None,
    forecast_horizon: Annotated[
        int | None, typer.Option("--forecast-horizon", "--horizon", min=1, max=8760, help="forecast_horizon.")
    ] = None,
    sampling_interval: SamplingInterval = None,
    season_length: SeasonLength = None,
    rnn_layer: Annotated[
        list[str] | None, typer.Option("--rnn-layer", help="Replace the recurrent stack.")
    ] = None,
    dense_layer: Annotated[
        list[str] | None, typer.Option("--dense-layer", help="Replace the dense layers.")
    ] = None,
    entity_type: Annotated[str | None, typer.Option(help="entity_type.")] = None,
    entity_id: Annotated[str | None, typer.Option(help="entity_id.")] = None,
    feature: Annotated[str | None, typer.Option(help="feature.")] = None,
    service: Annotated[str | None, typer.Option("--service", "-s", help="fiware_service.")] = None,
    servicepath: Annotated[str | None, typer.Option("--servicepath", help="fiware_servicepath.")] = None,
    file: BodyFile = None,
) -> None:
    """Change fields of a draft model (PATCH /models/{id}, admin; 409 once trained)."""
    st = state()
    body = read_body_file(file)
    values = {
        "model_type": model_type,
        "name": name,
        "description": description,
        "batch_size": batch_size,
        "epochs": epochs,
        "learning_rate": learning_rate,
        "validation_ratio": validation_ratio,
        "test_ratio": test_ratio,
        "early_stopping_patience": early_stopping_patience,
        "lookback_window": lookback_window,
        "forecast_horizon": forecast_horizon,
        "sampling_interval": sampling_interval,
        "season_length": season_length,
        "entity_type": entity_type,
        "entity_id": entity_id,
        "feature": feature,
        "fiware_service": service,
        "fiware_servicepath": servicepath,
    }
    body.update({k: v for k, v in values.items() if v is not None})
    if rnn_layer:
        body["rnn_layers"] = [parse_rnn_layer(t) for t in rnn_layer]
    if dense_layer:
        body["dense_layers"] = [parse_dense_layer(t) for t in dense_layer]
    if not body:
        raise UsageError("Nothing to change: give at least one option (see --help)")
    model = st.client.patch(f"/models/{model_id}", body)
    st.out.result(model, model_table(model))


@app.command("delete")
@command
def delete(
    model_id: Annotated[str, typer.Argument(help="Model id.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete a model with its jobs, artifacts and FIWARE resources (DELETE /models/{id}, admin)."""
    st = state()
    confirm(st, f"Delete model {model_id} and all its training jobs?", yes)
    st.client.delete(f"/models/{model_id}")
    st.out.result({"deleted": True, "model_id": model_id})
