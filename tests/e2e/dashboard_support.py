"""What the dashboard's browser tests share: the dev IdP (started here when nothing serves its
port), headless Debian chromium driven by Playwright, signing in through the IdP's page."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "local"))

import procs  # noqa: E402
import stack as local_stack  # noqa: E402

ARTIFACTS = ROOT / "tests" / "e2e" / "artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps dialling Google on this closed network.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def dev_idp(stack: dict[str, Any]) -> Iterator[str]:
    """The dev IdP the deployed dashboard signs in at (``DevIdpUrl``); started when not running."""
    url = str(stack.get("DevIdpUrl") or local_stack.dev_idp_url())
    port = int(url.rsplit(":", 1)[1])
    process = None
    if not procs.port_open("127.0.0.1", port):
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        log = (ARTIFACTS / "dev-idp.log").open("ab")
        command = [sys.executable, str(ROOT / "local" / "dev_idp.py"), "--port", str(port)]
        process = subprocess.Popen(command, stdout=log, stderr=log, cwd=ROOT)  # noqa: S603
        procs.wait_until(lambda: procs.port_open("127.0.0.1", port), timeout=20, what="dev IdP")
    yield url
    if process is not None:
        process.terminate()
        process.wait(timeout=10)


# Module-scoped: closed after its module, since a running Playwright loop breaks later asyncio tests.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (local/bootstrap.sh installs it as root)")
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    page.set_default_timeout(60_000)
    yield page
    context.close()


def screenshot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def sign_in_at_idp(page: Any, idp_url: str, *, user: str, roles: tuple[str, ...], tenants: str) -> None:
    """On the dev IdP's login page (the browser was sent there): fill it in and submit."""
    page.wait_for_url(f"{idp_url}/authorize*")
    page.fill("#username", user)
    for role in ("reader", "operator", "admin"):
        page.set_checked(f'input[name=role][value="{role}"]', role in roles)
    page.fill("#tenants", tenants)
    page.click("#sign-in")


def sign_in(page: Any, dashboard_url: str, idp_url: str, **who: Any) -> None:
    page.goto(dashboard_url)
    page.click("#sign-in")
    sign_in_at_idp(page, idp_url, **who)
    page.wait_for_selector("nav #sign-out")


def wait_until(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")
