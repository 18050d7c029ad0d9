"""local/dev_idp.py over real HTTP on a free port: discovery, the login page, the code flow with
PKCE S256 for both public clients (the CLI on any loopback port), refresh rotation, and tokens the
stack's verifier accepts."""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import urllib.parse
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from chronos_core.adapters.jwt_verifier import JwtVerifier
from chronos_core.domain.auth import Role
from local import dev_idp

SECRET = "dev-idp-test-secret-0123456789abcdefghij"


@pytest.fixture
def idp() -> Iterator[str]:
    server = dev_idp.make_server(dev_idp.Provider(secret=lambda: SECRET, token_ttl=600), port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def authorize(idp: str, client_id: str, redirect_uri: str, challenge: str, **form: Any) -> httpx.Response:
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "state": "s-1",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "scope": "openid",
    }
    page = httpx.get(f"{idp}/authorize", params=query)
    assert page.status_code == 200, page.text
    assert 'name="role" value="operator"' in page.text
    fields = {**query, "username": "ada", "role": ["operator"], "tenants": "energy, water", **form}
    return httpx.post(f"{idp}/authorize", data=fields, follow_redirects=False)


def code_of(response: httpx.Response, redirect_uri: str) -> str:
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(redirect_uri + "?")
    params = urllib.parse.parse_qs(urllib.parse.urlsplit(location).query)
    assert params["state"] == ["s-1"]
    return params["code"][0]


def verifier() -> JwtVerifier:
    return JwtVerifier(
        issuer="chronos-local",
        audience="chronos",
        roles_claim="chronos:roles",
        tenants_claim="chronos:tenants",
        secret=SECRET,
    )


def test_discovery_names_the_endpoints_and_s256(idp: str) -> None:
    config = httpx.get(f"{idp}/.well-known/openid-configuration").json()
    assert config["authorization_endpoint"] == f"{idp}/authorize"
    assert config["token_endpoint"] == f"{idp}/token"
    assert config["code_challenge_methods_supported"] == ["S256"]
    assert config["issuer"] == "chronos-local"


@pytest.mark.parametrize(
    ("client_id", "redirect_uri"),
    [
        ("chronos-dashboard", "http://127.0.0.1:4610/_aws/execute-api/x/dev/ui/callback"),
        ("chronos-cli", "http://127.0.0.1:53117/callback"),
        ("chronos-cli", "http://localhost:8400/"),
    ],
)
def test_code_flow_with_pkce_gives_tokens_the_stack_accepts(
    idp: str, client_id: str, redirect_uri: str
) -> None:
    code_verifier, challenge = pkce()
    code = code_of(authorize(idp, client_id, redirect_uri, challenge), redirect_uri)
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "client_id": client_id,
    }
    tokens = httpx.post(f"{idp}/token", data={**form, "code_verifier": code_verifier})
    assert tokens.status_code == 200, tokens.text
    assert tokens.headers["access-control-allow-origin"] == "*"
    body = tokens.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 600
    principal = verifier().verify(body["access_token"])
    assert principal.subject == "ada"
    assert Role.OPERATOR in principal.roles and Role.ADMIN not in principal.roles
    assert set(principal.tenants) == {"energy", "water"}
    again = httpx.post(f"{idp}/token", data={**form, "code_verifier": code_verifier})
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"  # a code works once


def test_a_wrong_verifier_or_redirect_is_refused(idp: str) -> None:
    uri = "http://127.0.0.1:9999/cb"
    _, challenge = pkce()
    code = code_of(authorize(idp, "chronos-cli", uri, challenge), uri)
    wrong = httpx.post(
        f"{idp}/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": uri,
            "client_id": "chronos-cli",
            "code_verifier": "x" * 50,
        },
    )
    assert wrong.status_code == 400 and "code_verifier" in wrong.json()["error_description"]
    for bad in (
        {"redirect_uri": "https://evil.example/cb"},
        {"client_id": "other"},
        {"code_challenge_method": "plain"},
    ):
        query = {
            "response_type": "code",
            "client_id": "chronos-cli",
            "redirect_uri": uri,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            **bad,
        }
        page = httpx.get(f"{idp}/authorize", params=query, follow_redirects=False)
        assert page.status_code == 400, bad  # shown, never redirected


def test_refresh_tokens_rotate(idp: str) -> None:
    uri = "http://127.0.0.1:4000/cb"
    code_verifier, challenge = pkce()
    code = code_of(authorize(idp, "chronos-dashboard", uri, challenge), uri)
    first = httpx.post(
        f"{idp}/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": uri,
            "client_id": "chronos-dashboard",
            "code_verifier": code_verifier,
        },
    ).json()
    refreshed = httpx.post(
        f"{idp}/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": first["refresh_token"],
            "client_id": "chronos-dashboard",
        },
    )
    assert refreshed.status_code == 200
    assert verifier().verify(refreshed.json()["access_token"]).subject == "ada"
    reused = httpx.post(
        f"{idp}/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": first["refresh_token"],
            "client_id": "chronos-dashboard",
        },
    )
    assert reused.status_code == 400


def test_sign_in_needs_a_role(idp: str) -> None:
    uri = "http://127.0.0.1:4000/cb"
    _, challenge = pkce()
    assert authorize(idp, "chronos-dashboard", uri, challenge, role=[]).status_code == 400


def test_the_cli_logs_in_at_the_dev_idp_with_its_authority_and_the_stacks_issuer(idp: str) -> None:
    """``chronos login``'s flow against the real provider: discovery at the IdP's URL (the
    profile's ``authority``), issuer ``chronos-local`` (the profile's ``issuer``), the login page
    filled in as a person would, tokens the stack's verifier accepts."""
    from chronos_cli import oidc
    from chronos_cli.config import Profile
    from chronos_cli.errors import AuthenticationRequired

    from tests.support.dev_idp_form import sign_in

    def person(url: str) -> None:
        httpx.get(sign_in(url, user="grace", roles=("operator",), tenants="energy"), timeout=10)

    with pytest.raises(AuthenticationRequired, match="issuer 'chronos-local' is not the configured"):
        oidc.login(Profile(issuer=idp), open_browser=person, timeout=10)  # its URL is not its issuer
    tokens = oidc.login(Profile(authority=idp, issuer="chronos-local"), open_browser=person, timeout=10)
    principal = verifier().verify(tokens["access_token"])
    assert principal.subject == "grace" and principal.roles == frozenset({Role.OPERATOR})
    assert tokens["issuer"] == "chronos-local" and tokens["token_endpoint"] == f"{idp}/token"
    refreshed = oidc.refresh(Profile(authority=idp, issuer="chronos-local"), tokens)
    assert refreshed["refresh_token"] != tokens["refresh_token"]  # rotated by the provider
    assert verifier().verify(refreshed["access_token"]).subject == "grace"
