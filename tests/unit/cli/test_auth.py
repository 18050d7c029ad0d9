"""Profiles, credentials and `chronos login` (authorization code + PKCE) against a fake provider."""

from __future__ import annotations

import base64
import hashlib
import json
import stat
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from chronos_cli import oidc
from chronos_cli.app import app
from chronos_cli.config import Profile, load_profile
from chronos_cli.context import State
from chronos_cli.credentials import load_tokens, resolve_token, save_tokens, token_path
from chronos_cli.errors import AuthenticationRequired, UsageError
from typer.testing import CliRunner

from tests.unit.cli.conftest import Cli, FakeApi, jwt, token

# --- profiles ---------------------------------------------------------------------------------


def test_profiles_are_stored_and_selected(cli: Cli, isolated_config: Path) -> None:
    assert cli("config", "set", "api_url", "http://a.test/dev/").exit_code == 0
    assert cli("--profile", "prod", "config", "set", "api_url", "https://p.test/prod").exit_code == 0
    assert cli("config", "set", "output", "json", "--profile", "prod").exit_code == 0
    text = isolated_config.read_text()
    assert 'default_profile = "default"' in text and "[profiles.prod]" in text
    assert load_profile().api_url == "http://a.test/dev"  # trailing slash dropped
    prod = load_profile("prod")
    assert prod.api_url == "https://p.test/prod" and prod.output == "json"


def test_profile_output_format_is_the_default(cli: Cli, api: FakeApi) -> None:
    cli("config", "set", "output", "json")
    api.on("GET", "/models/", {"items": [], "total": 0, "skip": 0, "limit": 100})
    assert json.loads(cli("models", "list").stdout)["total"] == 0


def test_environment_overrides_the_profile(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    cli("config", "set", "tenant", "energy")
    monkeypatch.setenv("CHRONOS_TENANT", "water")
    assert load_profile().tenant == "water"


def test_an_unknown_profile_is_a_usage_error(cli: Cli) -> None:
    cli("config", "set", "tenant", "energy")
    result = cli("--profile", "nope", "config", "show")
    assert result.exit_code == 2
    assert "No profile 'nope'" in result.stderr


def test_invalid_settings_are_refused(cli: Cli) -> None:
    assert cli("config", "set", "output", "yaml").exit_code == 2
    assert cli("config", "set", "colour", "on").exit_code == 2


def test_an_unknown_setting_in_the_file_is_refused(isolated_config: Path) -> None:
    isolated_config.parent.mkdir(parents=True)
    isolated_config.write_text('[profiles.default]\ncolour = "on"\n')
    with pytest.raises(UsageError, match="Unknown setting 'colour'"):
        load_profile()


# --- credentials ------------------------------------------------------------------------------


def test_token_file_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "token"
    path.write_text("tok-123\n")
    monkeypatch.setenv("CHRONOS_TOKEN_FILE", str(path))
    assert resolve_token(load_profile()) == "tok-123"


def test_env_token_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHRONOS_TOKEN", "from-env")
    assert resolve_token(load_profile()) == "from-env"


def test_stored_tokens_are_private(isolated_config: Path) -> None:
    profile = Profile(name="default")
    path = save_tokens(profile, {"access_token": "a", "expires_in": 60})
    assert path == isolated_config.parent / "tokens" / "default.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert resolve_token(profile) == "a"
    assert load_tokens(profile)["expires_at"] > time.time()  # type: ignore[index]


def test_expired_without_refresh_token_asks_to_log_in_again() -> None:
    profile = Profile(name="default")
    save_tokens(profile, {"access_token": "a", "expires_at": int(time.time()) - 5})
    with pytest.raises(AuthenticationRequired, match="expired"):
        resolve_token(profile, lambda p, t: t)


def test_expired_token_is_refreshed_and_stored(cli: Cli, api: FakeApi) -> None:
    profile = Profile(name="default")
    save_tokens(
        profile,
        {
            "access_token": "old",
            "refresh_token": "r1",
            "expires_at": int(time.time()) - 5,
            "token_endpoint": "http://idp.test/token",
            "client_id": "chronos-cli",
        },
    )
    fresh = token(["reader"], ["energy"])

    def token_endpoint(request: httpx.Request) -> httpx.Response:
        form = parse_qs(request.content.decode())
        assert form == {
            "grant_type": ["refresh_token"],
            "refresh_token": ["r1"],
            "client_id": ["chronos-cli"],
        }
        return httpx.Response(200, json={"access_token": fresh, "token_type": "Bearer", "expires_in": 300})

    api.on("POST", "/token", token_endpoint)
    api.on("GET", "/info", {"name": "Chronos", "version": "0.1.0", "environment": "local"})
    result = cli("whoami", "-o", "json", token_value="")
    assert result.exit_code == 0, result.output
    assert api.sent("GET", "/info")[0].headers["authorization"] == f"Bearer {fresh}"
    stored = load_tokens(profile)
    assert stored is not None and stored["access_token"] == fresh and stored["refresh_token"] == "r1"


def test_whoami_shows_subject_roles_and_tenants(cli: Cli, api: FakeApi) -> None:
    api.on("GET", "/info", {"name": "Chronos", "version": "0.1.0", "environment": "local"})
    result = cli("whoami", "-o", "json", token_value=token(["operator"], ["energy", "Water"]))
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["subject"] == "tester"
    assert body["roles"] == ["operator"] and body["tenants"] == ["energy", "water"]
    assert body["credentials"] == "CHRONOS_TOKEN" and body["api"]["version"] == "0.1.0"


def test_whoami_with_a_refused_token_exits_4(cli: Cli, api: FakeApi) -> None:
    api.on(
        "GET",
        "/info",
        httpx.Response(
            401, json={"error": "unauthorized", "message": "Invalid or expired credentials", "details": []}
        ),
    )
    assert cli("whoami").exit_code == 4


def test_claim_names_follow_the_profile(cli: Cli, api: FakeApi) -> None:
    cli("config", "set", "roles_claim", "cognito:groups")
    api.on("GET", "/info", {"version": "x"})
    result = cli("whoami", "-o", "json", token_value=jwt({"sub": "u", "cognito:groups": "admin,reader"}))
    assert json.loads(result.stdout)["roles"] == ["admin", "reader"]


# --- login against a fake OIDC provider --------------------------------------------------------


class FakeProvider:
    """Discovery, /authorize (redirects straight back with a code) and /token (code + PKCE)."""

    def __init__(self) -> None:
        provider = self
        self.codes: dict[str, dict[str, str]] = {}
        self.token_requests: list[dict[str, str]] = []

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:
                return

            def _json(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802
                parts = urlsplit(self.path)
                if parts.path == "/.well-known/openid-configuration":
                    self._json(200, provider.metadata)
                    return
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                redirect = urlsplit(query["redirect_uri"])
                assert redirect.hostname == "127.0.0.1" and redirect.path == "/callback"
                assert query["response_type"] == "code" and query["client_id"] == "chronos-cli"
                assert query["code_challenge_method"] == "S256"
                code = f"code-{len(provider.codes)}"
                provider.codes[code] = query
                self.send_response(302)
                self.send_header(
                    "Location",
                    f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query['state']})}",
                )
                self.end_headers()

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers["Content-Length"])
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                provider.token_requests.append(form)
                asked = provider.codes.pop(form.get("code", ""), None)
                if asked is None:
                    self._json(400, {"error": "invalid_grant", "error_description": "unknown code"})
                    return
                digest = hashlib.sha256(form["code_verifier"].encode()).digest()
                challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
                if challenge != asked["code_challenge"] or form["redirect_uri"] != asked["redirect_uri"]:
                    self._json(
                        400, {"error": "invalid_grant", "error_description": "PKCE or redirect mismatch"}
                    )
                    return
                self._json(
                    200,
                    {
                        "access_token": token(["operator"], ["energy"]),
                        "id_token": jwt({"sub": "tester", "nonce": asked["nonce"]}),
                        "refresh_token": "refresh-1",
                        "token_type": "Bearer",
                        "expires_in": 300,
                    },
                )

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.issuer = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.metadata = {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
        }
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def provider() -> Iterator[FakeProvider]:
    fake = FakeProvider()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


def browser(url: str) -> None:
    """What the user's browser does: follow the provider's redirect to the loopback listener."""
    httpx.get(url, follow_redirects=True, timeout=10)


def test_login_runs_the_code_flow_with_pkce(provider: FakeProvider) -> None:
    shown: list[str] = []
    tokens = oidc.login(
        Profile(issuer=provider.issuer), open_browser=browser, announce=shown.append, timeout=10
    )
    assert (
        tokens["refresh_token"] == "refresh-1"
        and tokens["token_endpoint"] == provider.metadata["token_endpoint"]
    )
    assert tokens["expires_at"] > time.time()
    (request,) = provider.token_requests
    assert request["grant_type"] == "authorization_code" and request["client_id"] == "chronos-cli"
    assert 43 <= len(request["code_verifier"]) <= 128
    assert shown and shown[0].startswith(provider.metadata["authorization_endpoint"])
    assert "code_verifier" not in shown[0]  # only the challenge travels through the browser


def test_login_refuses_a_forged_state(provider: FakeProvider) -> None:
    def forged(url: str) -> None:
        redirect = parse_qs(urlsplit(url).query)["redirect_uri"][0]
        httpx.get(f"{redirect}?code=x&state=forged", timeout=10)

    with pytest.raises(AuthenticationRequired, match="wrong state"):
        oidc.login(Profile(issuer=provider.issuer), open_browser=forged, timeout=10)
    assert provider.token_requests == []


def test_login_reports_the_provider_error(provider: FakeProvider) -> None:
    def denied(url: str) -> None:
        query = parse_qs(urlsplit(url).query)
        httpx.get(f"{query['redirect_uri'][0]}?error=access_denied&state={query['state'][0]}", timeout=10)

    with pytest.raises(AuthenticationRequired, match="access_denied"):
        oidc.login(Profile(issuer=provider.issuer), open_browser=denied, timeout=10)


def test_discovery_must_name_the_configured_issuer(provider: FakeProvider) -> None:
    provider.metadata["issuer"] = "https://elsewhere.test"
    with pytest.raises(AuthenticationRequired, match="issuer"):
        oidc.discover(provider.issuer)


def test_login_command_stores_the_tokens_for_the_profile(
    provider: FakeProvider, monkeypatch: pytest.MonkeyPatch, isolated_config: Path
) -> None:
    monkeypatch.setattr("webbrowser.open", browser)
    result = CliRunner().invoke(app, ["login", "--issuer", provider.issuer, "-o", "json"], obj=State())
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["roles"] == ["operator"] and body["tenants"] == ["energy"]
    path = token_path(Profile(name="default"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text())["refresh_token"] == "refresh-1"
    logout = CliRunner().invoke(app, ["logout", "-o", "json"], obj=State())
    assert json.loads(logout.stdout) == {"profile": "default", "removed": True}
    assert not path.exists()


def test_login_without_an_issuer_is_a_usage_error() -> None:
    result = CliRunner().invoke(app, ["login"], obj=State())
    assert result.exit_code == 2
    assert "no OIDC issuer" in result.stderr


def test_login_finds_a_provider_at_its_authority_whose_issuer_is_not_its_url(
    provider: FakeProvider,
) -> None:
    """The local dev IdP's case: discovery at its URL, ``issuer`` the stack's ``AuthIssuer``."""
    provider.metadata["issuer"] = "chronos-local"
    with pytest.raises(AuthenticationRequired, match="not the configured"):
        oidc.login(Profile(issuer=provider.issuer), open_browser=browser, timeout=10)
    tokens = oidc.login(
        Profile(authority=provider.issuer, issuer="chronos-local"), open_browser=browser, timeout=10
    )
    assert tokens["issuer"] == "chronos-local" and tokens["access_token"]
    # ...and the issuer alone still names both, the way a real provider (Cognito) works.
    assert Profile(issuer="https://idp.test/").provider_url == "https://idp.test"
    assert Profile(authority="https://idp.test").expected_issuer == "https://idp.test"


def test_login_refuses_an_id_token_from_another_issuer(
    provider: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    answer = provider.server.RequestHandlerClass._json  # type: ignore[attr-defined]

    def forged_issuer(handler: Any, status: int, body: dict[str, Any]) -> None:
        if "id_token" in body:
            body["id_token"] = jwt({"sub": "tester", "iss": "https://elsewhere.test"})
        answer(handler, status, body)

    monkeypatch.setattr(provider.server.RequestHandlerClass, "_json", forged_issuer)
    with pytest.raises(AuthenticationRequired, match="ID token's issuer"):
        oidc.login(Profile(issuer=provider.issuer), open_browser=browser, timeout=10)


def test_login_command_takes_the_authority_from_the_profile(
    provider: FakeProvider, monkeypatch: pytest.MonkeyPatch, isolated_config: Path
) -> None:
    provider.metadata["issuer"] = "chronos-local"
    monkeypatch.setattr("webbrowser.open", browser)
    for key, value in (("authority", provider.issuer), ("issuer", "chronos-local")):
        assert CliRunner().invoke(app, ["config", "set", key, value], obj=State()).exit_code == 0
    result = CliRunner().invoke(app, ["login", "-o", "json"], obj=State())
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["roles"] == ["operator"]
    stored = json.loads(token_path(Profile(name="default")).read_text())
    assert stored["issuer"] == "chronos-local"
    assert stored["token_endpoint"] == provider.metadata["token_endpoint"]
