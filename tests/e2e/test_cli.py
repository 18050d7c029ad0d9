"""The installed `chronos` command against the deployed stack, as a platform team uses it.

Runs `.local/venv/bin/chronos` in subprocesses with a token minted for the stack's secret (the
way the other end-to-end tests authenticate) and a private config file: set a profile, create a
model, train it with `--follow` until it completes, predict as JSON, enable recurring forecasts
and read their history back; plus the exit codes of a missing model and a missing role.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import ROOT, SandboxControl
from tests.e2e.helpers import SERVICE, SERVICEPATH, seed_series
from tests.e2e.test_forecasts import invoke_scheduler

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("no_faults")]

CHRONOS = ROOT / ".local" / "venv" / "bin" / "chronos"
HORIZON = 12
PROGRESS_LINE = re.compile(r"^[a-z_]+( \([a-z_]+\))? +\d{1,3}\.\d%.*ETA (\d+:\d\d:\d\d|-:--:--)$")

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="module")
def chronos(stack: dict[str, Any], local_token: Any, tmp_path_factory: pytest.TempPathFactory) -> Run:
    """``chronos(*args, token=None, timeout=120)``: the installed command with a private config."""
    if not CHRONOS.exists():
        pytest.fail("The chronos command is not installed: run local/bootstrap.sh (pip install -e ./cli)")
    config = tmp_path_factory.mktemp("chronos-cli") / "config.toml"
    base = {k: v for k, v in os.environ.items() if not k.startswith("CHRONOS_")}
    # PYTHONPATH: this checkout's CLI, whichever checkout the venv's editable install points at.
    base.update(CHRONOS_CONFIG=str(config), NO_COLOR="1", PYTHONPATH=str(ROOT / "cli"))
    admin = local_token(["admin"], ["*"])

    def run(*args: str, token: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        env = {**base, "CHRONOS_TOKEN": token or admin}
        return subprocess.run(
            [str(CHRONOS), *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
        )

    # A profile, as a user would set one up.
    for key, value in (("api_url", stack["ApiUrl"]), ("tenant", SERVICE), ("servicepath", SERVICEPATH)):
        done = run("config", "set", key, value)
        assert done.returncode == 0, done.stderr
    return run


def as_json(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, f"rc {result.returncode}\n{result.stderr}"
    return json.loads(result.stdout)


def test_whoami_and_exit_codes(chronos: Run, local_token: Any) -> None:
    who = as_json(chronos("whoami", "-o", "json"))
    assert who["subject"] == "e2e" and who["roles"] == ["admin"] and who["tenants"] == ["*"]
    missing = chronos("models", "show", "00000000-0000-0000-0000-000000000000")
    assert missing.returncode == 6, missing.stderr
    assert "not found" in missing.stderr.lower()
    reader = local_token(["reader"], [SERVICE])
    denied = chronos(
        "models", "create", "--entity-type", "T", "--entity-id", "e", "--feature", "f", token=reader
    )
    assert denied.returncode == 5, denied.stderr
    assert "admin role" in denied.stderr and "roles: reader" in denied.stderr
    invalid = chronos("models", "create", "--entity-type", "T", "--entity-id", "e", "--feature", "f",
                      "--sampling-interval", "every hour")  # fmt: skip
    assert invalid.returncode == 3, invalid.stderr
    assert "sampling_interval" in invalid.stderr


def test_create_train_predict_and_publish(
    chronos: Run, stack: dict[str, Any], sandbox: SandboxControl, tmp_path: Path
) -> None:
    from local.fiware_sandbox.seed import load_taylor

    entity_id = seed_series(sandbox, load_taylor(), "cli")
    model = as_json(
        chronos(
            "models",
            "create",
            "--entity-type",
            "ElectricityMeter",
            "--entity-id",
            entity_id,
            "--feature",
            "demand",
            "--type",
            "gru",
            "--rnn-layer",
            "8:0.0",
            "--lookback-window",
            "48",
            "--forecast-horizon",
            str(HORIZON),
            "--epochs",
            "2",
            "--batch-size",
            "64",
            "-o",
            "json",
        )  # fmt: skip
    )
    assert model["status"] == "draft" and model["entity_id"] == entity_id
    assert (
        model["fiware_service"] == SERVICE and model["fiware_servicepath"] == SERVICEPATH
    )  # from the profile
    assert model["rnn_layers"][0]["units"] == 8 and model["learning_rate"] == 0.001  # API default

    # Train with --follow until the job completes; the exit code says it did.
    trained = chronos(
        "train", "start", model["id"], "--follow", "--poll-interval", "1", "-o", "json", timeout=480
    )
    job = as_json(trained)
    assert job["status"] == "completed", trained.stderr
    progress = [line for line in trained.stderr.splitlines() if PROGRESS_LINE.match(line)]
    assert progress and progress[-1].startswith("completed")
    assert any("chunks" in line for line in progress)
    assert "\x1b" not in trained.stderr and "\r" not in trained.stderr

    # Predict as JSON (the newest completed job by default) and check the points.
    prediction = as_json(chronos("predict", model["id"], "-o", "json"))
    points = prediction["forecast"]
    assert prediction["training_job_id"] == job["id"] and len(points) == HORIZON
    assert [p["step"] for p in points] == list(range(1, HORIZON + 1))
    stamps = [p["target_timestamp"] for p in points]
    assert stamps == sorted(stamps) and stamps[0] > prediction["last_observation"]
    for p in points:
        assert p["lower"]["95"] <= p["lower"]["80"] <= p["value"] <= p["upper"]["80"] <= p["upper"]["95"]
    table = chronos("predict", model["id"], job["id"], "--plot")
    assert table.returncode == 0 and "upper 95 %" in table.stdout and "95 % band" in table.stdout

    # Recurring forecasts: enable, let the scheduler run, read the history back.
    enabled = as_json(
        chronos("forecasts", "enable", model["id"], job["id"], "--interval-seconds", "60", "-o", "json")
    )
    assert enabled["enabled"] is True and enabled["entity_id"].startswith("urn:ngsi-ld:Chronos:Prediction:")
    history: dict[str, Any] = {}
    deadline = time.monotonic() + 150
    while time.monotonic() < deadline and not history.get("items"):
        invoke_scheduler(stack)
        httpx.post(f"{stack['SthUrl']}/_sandbox/drain", params={"timeout": 5}, timeout=10)
        history = as_json(chronos("forecasts", "history", model["id"], job["id"], "-o", "json"))
        if not history.get("items"):
            time.sleep(3)
    assert history.get("items"), "no forecast was published within 150 s"
    assert history["entity_id"] == enabled["entity_id"] and history["total"] >= 1
    assert history["items"][0]["horizon"] == HORIZON and len(history["items"][0]["points"]) == HORIZON
    csv_out = chronos("forecasts", "history", model["id"], job["id"], "-o", "csv")
    assert csv_out.stdout.splitlines()[0] == "generated_at,horizon,points,first target,first value"

    disabled = as_json(chronos("forecasts", "disable", model["id"], job["id"], "-o", "json"))
    assert disabled["enabled"] is False
    removed = as_json(chronos("models", "delete", model["id"], "--yes", "-o", "json"))
    assert removed == {"deleted": True, "model_id": model["id"]}
