"""How local/demo.py ends: the dashboard's URL and how to sign in, and whether the stack stays up
(`make dashboard`, which seeds the demo's device first) or stops (`make demo`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "local"))

from local import demo  # noqa: E402

STACK = {
    "ApiUrl": "http://127.0.0.1:4566/_aws/execute-api/abc/dev",
    "DashboardUrl": "http://127.0.0.1:4566/_aws/execute-api/abc/dev/ui/",
    "DevIdpUrl": "http://127.0.0.1:19555",
}


def test_make_dashboard_seeds_the_demo_device_and_says_the_stack_stays_up(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seeded: list[dict[str, Any]] = []
    (tmp_path / ".local").mkdir()
    (tmp_path / ".local" / "stack.json").write_text(json.dumps(STACK))
    monkeypatch.setattr(demo, "ROOT", tmp_path)
    monkeypatch.setattr(demo, "seed_sandbox", seeded.append)
    monkeypatch.setattr(sys, "argv", ["demo.py", "--dashboard-only"])
    assert demo.main() == 0
    out = capsys.readouterr().out
    assert seeded == [STACK]
    assert f"Dashboard: {STACK['DashboardUrl']}" in out
    assert "sign in at the dev IdP (http://127.0.0.1:19555)" in out
    assert "chronos login --authority http://127.0.0.1:19555 --issuer chronos-local" in out
    assert "stays up: `make down` stops it" in out


def test_the_demo_ends_saying_the_stack_stops_and_how_to_keep_it_up(
    capsys: pytest.CaptureFixture[str],
) -> None:
    demo.print_dashboard(STACK, stays_up=False)
    out = capsys.readouterr().out
    assert f"Dashboard: {STACK['DashboardUrl']}" in out
    assert "`make demo` stops the stack now; `make dashboard` starts it again" in out
    assert "stays up" not in out
