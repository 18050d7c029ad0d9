"""The dashboard while MongoDB is stopped: the friendly 503 message with a retry button, and the
retry works once the database is back. Sorts last (it stops the shared server), after
test_zz_database_outage.py, and stops and restarts FerretDB the same way."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.dashboard_support import screenshot, sign_in

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "local"))

import procs  # noqa: E402
import stack as local_stack  # noqa: E402

pytestmark = pytest.mark.e2e
PID_FILE = ROOT / ".local" / "run" / "ferretdb.pid"


def test_database_down_shows_a_friendly_503_and_retry_works_when_it_is_back(
    stack: dict[str, Any], dev_idp: str, page: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    if procs.running(PID_FILE) is None:
        pytest.skip("FerretDB is not managed by this stack (MONGODB_URI points elsewhere)")
    sign_in(page, stack["DashboardUrl"], dev_idp, user="e2e-outage", roles=("reader",), tenants="*")
    page.wait_for_selector("[data-page=overview] :is(table.models, .section-body > p:not(.loading))")
    assert procs.stop(PID_FILE)
    try:
        page.reload()  # the reads retry by themselves (Retry-After), then the friendly message
        alert = page.wait_for_selector(".error.unavailable", timeout=150_000)
        assert "temporarily unavailable" in alert.inner_text()
        assert page.query_selector(".error.unavailable button.retry") is not None
        screenshot(page, "outage-503")
    finally:
        monkeypatch.delenv("MONGODB_URI", raising=False)  # the stack's own server: restart it
        local_stack.start_ferretdb(local_stack.Endpoints.from_env())
    page.click(".error.unavailable button.retry")
    page.wait_for_selector(
        "[data-page=overview] :is(table.models, .section-body > p:not(.loading))", timeout=90_000
    )
    assert page.query_selector(".error.unavailable") is None
