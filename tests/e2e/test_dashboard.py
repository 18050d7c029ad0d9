"""The web dashboard in headless Chromium against the deployed local stack: sign in through the
dev IdP, discover the demo device, create a model (a rejected field shown inline), train it with a
live progress bar to completion, see the forecast drawn with its bands, and an expired token that
goes back to sign-in and returns to the page. Screenshots go to tests/e2e/artifacts/."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from chronos_core.adapters.jwt_verifier import mint_token
from tests.e2e.dashboard_support import screenshot, sign_in, sign_in_at_idp

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
SERVICE, SERVICEPATH = "energy", "/dashboard_e2e"

# What the first chart drew: counts of non-null points per series, whether the bands are ordered,
# and the canvas pixel halfway between the upper 95 % and upper 80 % bounds at a forecast step.
# Series: 1 actual, 2 forecast, 3/4 upper/lower 95 %, 5/6 upper/lower 80 %.
RENDERED_CHART = """() => {
    const u = window.chronosCharts[0];
    const d = u.data;
    const pick = (i) => d[i].map((v, k) => [k, v]).filter(([, v]) => v != null);
    const forecast = pick(2);
    const [k] = forecast[Math.floor(forecast.length / 2)];
    const x = Math.round(u.valToPos(d[0][k], "x", true));
    const y = Math.round((u.valToPos(d[3][k], "y", true) + u.valToPos(d[5][k], "y", true)) / 2);
    const ordered = forecast.every(([i]) =>
        d[4][i] <= d[6][i] && d[6][i] <= d[2][i] && d[2][i] <= d[5][i] && d[5][i] <= d[3][i]);
    return {
        actual: pick(1).length,
        forecast: forecast.length,
        ordered,
        bands: u.bands.length,
        pixel: Array.from(u.ctx.getImageData(x, y, 1, 1).data),
    };
}"""


def seed_demo_device(stack: dict[str, Any], entity_id: str) -> None:
    """The demo's device (the half-hourly demand series, registered at the IoT Agent), as
    local/demo.py seeds it, under this test's own entity and service path."""
    if "sth" in (stack.get("FiwareExternal") or []):
        pytest.skip("seeding needs the FIWARE sandbox's STH")
    subprocess.run(
        [
            sys.executable, "-m", "local.fiware_sandbox", "seed", "--taylor",
            "--entity-type", "ElectricityMeter", "--entity-id", entity_id, "--attr", "demand",
            "--service", SERVICE, "--servicepath", SERVICEPATH, "--register-device",
            "--mongodb-uri", stack["MongoDbUri"],
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": f"{ROOT / 'layers' / 'chronos_core'}:{ROOT}"},
        check=True,
    )  # fmt: skip


def test_sign_in_create_train_and_see_the_forecast_bands(
    stack: dict[str, Any], dev_idp: str, page: Any, api: httpx.Client
) -> None:
    dashboard = stack["DashboardUrl"]
    entity_id = f"urn:ngsi-ld:ElectricityMeter:ui-{uuid.uuid4().hex[:8]}"
    seed_demo_device(stack, entity_id)

    # Sign in through the dev IdP (code flow + PKCE), landing back on the overview.
    sign_in(page, dashboard, dev_idp, user="e2e-ui", roles=("operator", "admin"), tenants=SERVICE)
    assert page.url.rstrip("/") == dashboard.rstrip("/")
    assert "e2e-ui" in page.inner_text("nav .who")
    page.wait_for_selector("[data-page=overview] :is(table.models, .section-body > p:not(.loading))")
    screenshot(page, "overview")

    # Devices: discover the demo device, open the form for its attribute.
    page.click("nav >> text=Devices")
    page.fill("#service", SERVICE)
    page.fill("#servicepath", SERVICEPATH)
    page.click("#discover")
    page.click(f'[data-entity="{entity_id}"] button[data-attribute="demand"]')
    page.wait_for_selector("form.model-form")
    assert (
        page.input_value("#f-batch_size") == "32" and page.input_value("#f-epochs") == "100"
    )  # the API's defaults
    # A rejected field: the API's 422 shows next to it.
    page.fill("#f-lookback_window", "0")
    page.click("#create-model")
    error = page.wait_for_selector("#error-lookback_window:not(:empty)")
    assert "greater than" in error.inner_text()
    assert page.get_attribute("#f-lookback_window", "aria-invalid") == "true"
    screenshot(page, "devices")
    for field, value in {
        "lookback_window": "48",
        "forecast_horizon": "12",
        "epochs": "3",
        "units": "8",
        "batch_size": "64",
    }.items():
        page.fill(f"#f-{field}", value)
    page.select_option("#f-model_type", "gru")
    page.click("#create-model")
    page.wait_for_url("**/ui/models/*")
    model_id = page.url.rstrip("/").rsplit("/", 1)[1]
    assert api.get(f"/models/{model_id}").json()["entity_id"] == entity_id

    # Train: the live progress bar moves and reaches completion, then polling stops.
    page.click("#start-training")
    page.wait_for_selector(".job .progress")
    seen: set[int] = set()

    def finished() -> bool:
        bar = page.query_selector(".job .progress")
        if bar is None:
            return False
        value = page.get_attribute(".job .progress .bar", "aria-valuenow")
        if value is not None:
            seen.add(int(value))
        return bar.get_attribute("data-status") in ("completed", "failed", "cancelled")

    deadline_ms = 420_000
    page.wait_for_function("() => true")

    started = time.monotonic()
    while not finished():
        assert (time.monotonic() - started) * 1000 < deadline_ms, (
            f"training did not finish; progress seen {sorted(seen)}"
        )
        page.wait_for_timeout(1000)
    status = page.get_attribute(".job .progress", "data-status")
    assert status == "completed", page.inner_text(".job")
    assert page.get_attribute(".job .progress .bar", "aria-valuenow") == "100"
    assert len(seen) >= 2, f"the bar never moved: {sorted(seen)}"
    assert "epoch 3/3" in page.inner_text(".job .progress-text") or "epoch" in page.inner_text(
        ".job .progress-text"
    )
    page.wait_for_selector(".job table.metrics")
    screenshot(page, "model")

    # Forecasts: the chart is drawn with its bands.
    page.click(".job a.button >> text=Forecasts")
    page.wait_for_url("**/forecasts")
    page.wait_for_selector("#forecast-chart canvas")
    page.wait_for_function("() => (window.chronosCharts || []).length > 0")
    rendered = page.evaluate(RENDERED_CHART)
    assert rendered["forecast"] == 12, rendered
    assert rendered["actual"] >= 48, rendered
    assert rendered["ordered"], "lower 95 <= lower 80 <= value <= upper 80 <= upper 95 at every step"
    assert rendered["bands"] == 3
    assert rendered["pixel"][3] > 0, f"nothing drawn inside the 95 % band: {rendered['pixel']}"
    assert len(page.query_selector_all(".forecast-data tbody tr")) == 12
    screenshot(page, "forecasts")

    # Recurring forecasts can be switched on and off.
    page.click("#toggle-recurring")
    page.wait_for_selector("#toggle-recurring >> text=Disable recurring forecasts")
    page.click("#toggle-recurring")
    page.wait_for_selector("#toggle-recurring >> text=Enable recurring forecasts")

    # An expired token (and no refresh): back to sign-in, then back to this page.
    forecasts_url = page.url
    expired = mint_token(
        secret=(ROOT / ".local" / "jwt-secret").read_text().strip(),
        subject="e2e-ui",
        roles=["admin"],
        tenants=[SERVICE],
        issuer="chronos-local",
        audience="chronos",
        ttl_seconds=-600,
    )
    page.evaluate(
        "(t) => sessionStorage.setItem('chronos.tokens', JSON.stringify({access_token: t, expires_at: 0}))",
        expired,
    )
    page.reload()
    sign_in_at_idp(page, dev_idp, user="e2e-ui-again", roles=("operator",), tenants=SERVICE)
    page.wait_for_url(forecasts_url)
    page.wait_for_selector("#forecast-chart canvas")
    assert "e2e-ui-again" in page.inner_text("nav .who")

    # The alerts page: the rules and the alerts of the caller's tenants (or that there are none).
    page.click("nav >> text=Alerts")
    page.wait_for_selector("[data-page=alerts] h2 >> text=Alerts")
    screenshot(page, "alerts")
    assert json.loads(httpx.get(dashboard + "config.json").text)["client_id"] == "chronos-dashboard"
    api.delete(f"/models/{model_id}")


def test_a_reader_is_told_which_role_is_missing(stack: dict[str, Any], dev_idp: str, page: Any) -> None:
    sign_in(page, stack["DashboardUrl"], dev_idp, user="e2e-reader", roles=("reader",), tenants="nobody")
    page.goto(stack["DashboardUrl"] + "devices?service=energy&servicepath=/dashboard_e2e")
    page.click("#discover")
    alert = page.wait_for_selector(".error.forbidden")
    assert "energy" in alert.inner_text()  # the tenant the token lacks
    assert "/authorize" not in page.url  # no redirect
