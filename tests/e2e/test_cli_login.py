"""`chronos login` against the local stack's development identity provider, then the stored token
at work: the installed command in a subprocess with a private config and no ``CHRONOS_TOKEN``.

The profile is what the README tells a user to set for the local stack: ``authority`` the dev
IdP's URL (``DevIdpUrl``), ``issuer`` the issuer it names and the stack verifies
(``chronos-local``). ``--no-browser`` makes the command print the authorization URL; the test is
the person at the browser: it opens the URL, fills in the IdP's login page and follows its
redirect to the command's loopback listener.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import threading
from pathlib import Path
from typing import IO, Any

import httpx
import pytest

from tests.e2e.conftest import ROOT
from tests.e2e.helpers import SERVICE
from tests.support.dev_idp_form import sign_in

pytestmark = pytest.mark.e2e

CHRONOS = ROOT / ".local" / "venv" / "bin" / "chronos"


def lines_of(stream: IO[str]) -> queue.Queue[str]:
    """The stream's lines as they come, read on a thread (the command blocks until redirected)."""
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        for line in stream:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    return lines


@pytest.fixture
def environment(stack: dict[str, Any], dev_idp: str, tmp_path: Path) -> dict[str, str]:
    if not CHRONOS.exists():
        pytest.fail("The chronos command is not installed: run local/bootstrap.sh (pip install -e ./cli)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHRONOS_")}
    # PYTHONPATH: this checkout's CLI, whichever checkout the venv's editable install points at.
    env.update(CHRONOS_CONFIG=str(tmp_path / "config.toml"), NO_COLOR="1", PYTHONPATH=str(ROOT / "cli"))
    settings = {
        "api_url": stack["ApiUrl"],
        "authority": dev_idp,
        "issuer": "chronos-local",
        "tenant": SERVICE,
    }
    for key, value in settings.items():
        done = subprocess.run(
            [str(CHRONOS), "config", "set", key, value], env=env, capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stderr
    return env


def chronos(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CHRONOS), *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_login_at_the_dev_idp_then_whoami_and_models_list_use_the_stored_token(
    environment: dict[str, str], dev_idp: str, tmp_path: Path
) -> None:
    assert chronos(environment, "whoami").returncode == 4  # no credentials yet

    login = subprocess.Popen(
        [str(CHRONOS), "login", "--no-browser", "--timeout", "60", "-o", "json"],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert login.stderr is not None and login.stdout is not None
        stderr = lines_of(login.stderr)
        seen: list[str] = []
        while not (seen and seen[-1].startswith(f"{dev_idp}/authorize?")):
            seen.append(stderr.get(timeout=30).strip())
        redirect = sign_in(seen[-1], user="e2e-cli-login", roles=("operator",), tenants=SERVICE)
        assert redirect.startswith("http://127.0.0.1:") and "code=" in redirect
        done = httpx.get(redirect, timeout=30)  # the browser lands on the command's listener
        assert done.status_code == 200 and "login complete" in done.text
        out = login.stdout.read()
        assert login.wait(timeout=60) == 0, "\n".join(seen)
    finally:
        if login.poll() is None:
            login.kill()
    logged_in = json.loads(out)
    assert logged_in["subject"] == "e2e-cli-login" and logged_in["roles"] == ["operator"]
    stored = Path(logged_in["stored"])
    assert stored.is_relative_to(tmp_path) and json.loads(stored.read_text())["refresh_token"]

    whoami = chronos(environment, "whoami", "-o", "json")
    assert whoami.returncode == 0, whoami.stderr
    who = json.loads(whoami.stdout)
    assert who["subject"] == "e2e-cli-login" and who["roles"] == ["operator"]
    assert who["tenants"] == [SERVICE] and who["issuer"] == "chronos-local"
    assert who["credentials"] == "chronos login"  # the stored token, checked by GET /info

    models = chronos(environment, "models", "list", "-o", "json")
    assert models.returncode == 0, models.stderr
    listed = json.loads(models.stdout)
    assert all(item["fiware_service"] == SERVICE for item in listed["items"])  # the token's tenant

    # The stored login is the only credential: without it the command is refused again.
    assert chronos(environment, "logout").returncode == 0
    assert chronos(environment, "models", "list").returncode == 4
