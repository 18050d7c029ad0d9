"""``chronos login``: the OAuth 2.0 authorization code flow with PKCE through a loopback redirect.

* Discovery: ``<provider URL>/.well-known/openid-configuration`` (OpenID Connect Discovery 1.0),
  the provider URL being the profile's ``authority``, else its ``issuer``. The document's
  ``issuer`` must equal the configured issuer (``issuer``, else ``authority``), as must an ID
  token's ``iss``; it must name an ``authorization_endpoint`` and a ``token_endpoint``. With a
  real provider the two are one URL (Cognito:
  ``https://cognito-idp.<region>.amazonaws.com/<pool-id>``); the local development provider is
  found at its URL but issues the stack's ``AuthIssuer`` (``chronos-local``), hence ``authority``.
* Native-app rules (RFC 8252): the CLI listens on the loopback IP literal ``127.0.0.1`` on an
  ephemeral port (or ``--port``) and sends ``redirect_uri=http://127.0.0.1:<port>/callback``; it
  is a public client (no secret), so the code is bound to a PKCE ``S256`` challenge (RFC 7636),
  and ``state`` and an OIDC ``nonce`` guard the round trip.
* The requests are plain httpx: an authorization URL, two form POSTs to the token endpoint
  (``authorization_code``, ``refresh_token``) and the S256 challenge. Authlib's client was
  considered, but its httpx integration is deprecated (it moves to ``httpx2``), and what it would
  add here is a dozen lines.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
import webbrowser
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

from chronos_cli.config import Profile
from chronos_cli.credentials import decode_claims
from chronos_cli.errors import AuthenticationRequired, UsageError

CALLBACK_PATH = "/callback"

_PAGE = (
    "<!doctype html><html><head><meta charset='utf-8'><title>Chronos</title></head>"
    "<body><p>{message}</p><p>You can close this window and return to the terminal.</p></body></html>"
)


def discover(
    provider_url: str, transport: httpx.BaseTransport | None = None, *, issuer: str | None = None
) -> dict[str, Any]:
    """The metadata of the provider at ``provider_url``, whose ``issuer`` must be ``issuer``
    (default: ``provider_url``, as OpenID Connect Discovery requires of a provider);
    :class:`AuthenticationRequired` when it cannot be used."""
    issuer = issuer or provider_url
    url = provider_url.rstrip("/") + "/.well-known/openid-configuration"
    try:
        with httpx.Client(timeout=30, transport=transport) as http:
            response = http.get(url)
    except httpx.HTTPError as exc:
        raise AuthenticationRequired(f"Cannot reach the identity provider at {url}: {exc}") from None
    if response.status_code != 200:
        raise AuthenticationRequired(f"OIDC discovery at {url} answered {response.status_code}")
    try:
        metadata = response.json()
    except ValueError:
        raise AuthenticationRequired(f"OIDC discovery at {url} did not answer JSON") from None
    if not isinstance(metadata, dict):
        raise AuthenticationRequired(f"OIDC discovery at {url} did not answer an object")
    if str(metadata.get("issuer", "")).rstrip("/") != issuer.rstrip("/"):
        raise AuthenticationRequired(
            f"The provider's issuer {metadata.get('issuer')!r} is not the configured {issuer!r}"
        )
    for key in ("authorization_endpoint", "token_endpoint"):
        if not metadata.get(key):
            raise AuthenticationRequired(f"OIDC discovery at {url} names no {key}")
    return metadata


class LoopbackReceiver:
    """A one-shot HTTP listener on 127.0.0.1 that captures the authorization response."""

    def __init__(self, port: int = 0) -> None:
        receiver = self
        self.params: dict[str, str] | None = None
        self._done = threading.Event()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
                parts = urlsplit(self.path)
                if parts.path != CALLBACK_PATH:
                    self.send_error(404)
                    return
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                ok = "code" in query and "error" not in query
                message = "Chronos login complete." if ok else "Chronos login failed."
                body = _PAGE.format(message=message).encode("utf-8")
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                if receiver.params is None:
                    receiver.params = query
                    receiver._done.set()

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return  # no access log on the user's terminal

        try:
            self._server = HTTPServer(("127.0.0.1", port), Handler)
        except OSError as exc:
            raise UsageError(f"Cannot listen on 127.0.0.1:{port} for the login redirect: {exc}") from None
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def redirect_uri(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{CALLBACK_PATH}"

    def __enter__(self) -> LoopbackReceiver:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def wait(self, timeout: float) -> dict[str, str]:
        if not self._done.wait(timeout):
            raise AuthenticationRequired(f"No login completed within {timeout:.0f} s")
        assert self.params is not None
        return self.params


def code_challenge(verifier: str) -> str:
    """The PKCE ``S256`` challenge of a verifier: BASE64URL(SHA256(verifier)) without padding."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def new_verifier() -> str:
    """A PKCE code verifier: 64 characters of the unreserved set (RFC 7636 asks for 43-128)."""
    return secrets.token_urlsafe(48)


def authorization_url(
    endpoint: str, profile: Profile, *, redirect_uri: str, state: str, nonce: str, verifier: str
) -> str:
    params = {
        "response_type": "code",
        "client_id": profile.client_id,
        "redirect_uri": redirect_uri,
        "scope": profile.scopes,
        "state": state,
        "nonce": nonce,
        "code_challenge": code_challenge(verifier),
        "code_challenge_method": "S256",
    }
    if profile.audience:
        params["audience"] = profile.audience
    return f"{endpoint}{'&' if '?' in endpoint else '?'}{urlencode(params)}"


def token_request(
    endpoint: str, form: dict[str, str], transport: httpx.BaseTransport | None
) -> dict[str, Any]:
    """POST a form to the token endpoint; the token response, or :class:`AuthenticationRequired`
    with the provider's ``error`` and ``error_description``."""
    try:
        with httpx.Client(timeout=30, transport=transport) as http:
            response = http.post(endpoint, data=form, headers={"Accept": "application/json"})
    except httpx.HTTPError as exc:
        raise AuthenticationRequired(f"Cannot reach the token endpoint {endpoint}: {exc}") from None
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise AuthenticationRequired(
            f"The token endpoint answered {response.status_code} without a JSON object"
        )
    if response.status_code != 200 or "error" in body:
        reason = f"{body.get('error', response.status_code)} {body.get('error_description', '')}".strip()
        raise AuthenticationRequired(f"The token request was refused: {reason}")
    if not body.get("access_token"):
        raise AuthenticationRequired("The token endpoint answered no access_token")
    record = {k: v for k, v in body.items() if v is not None}
    if isinstance(record.get("expires_in"), int | float):
        record["expires_at"] = int(time.time() + float(record["expires_in"]))
    return record


def login(
    profile: Profile,
    *,
    port: int = 0,
    timeout: float = 300.0,
    open_browser: Callable[[str], object] = webbrowser.open,
    announce: Callable[[str], None] = lambda _url: None,
    transport: httpx.BaseTransport | None = None,
) -> dict[str, Any]:
    """Run the flow and return the tokens (with ``expires_at``, the issuer and token endpoint).

    ``announce(url)`` is told the authorization URL before ``open_browser(url)`` is called, so a
    user whose browser does not open can paste it into one on this machine (the redirect goes to
    this machine's loopback).
    """
    provider_url, issuer = profile.provider_url, profile.expected_issuer
    if not provider_url or not issuer:
        raise UsageError(
            f"Profile {profile.name!r} has no OIDC issuer",
            hints=[
                "Pass --issuer, or run `chronos config set issuer <url>`",
                "Local stack: --authority http://127.0.0.1:19080 --issuer chronos-local",
            ],
        )
    metadata = discover(provider_url, transport, issuer=issuer)
    verifier, state, nonce = new_verifier(), secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    with LoopbackReceiver(port) as receiver:
        redirect_uri = receiver.redirect_uri
        url = authorization_url(
            metadata["authorization_endpoint"],
            profile,
            redirect_uri=redirect_uri,
            state=state,
            nonce=nonce,
            verifier=verifier,
        )
        announce(url)
        open_browser(url)
        params = receiver.wait(timeout)
    if params.get("state") != state:
        raise AuthenticationRequired(
            "The login redirect carried the wrong state (a stale or forged redirect)"
        )
    if "error" in params:
        description = params.get("error_description", "")
        raise AuthenticationRequired(
            f"The identity provider refused the login: {params['error']} {description}"
        )
    if not params.get("code"):
        raise AuthenticationRequired("The login redirect carried no authorization code")
    tokens = token_request(
        metadata["token_endpoint"],
        {
            "grant_type": "authorization_code",
            "code": params["code"],
            "redirect_uri": redirect_uri,
            "client_id": profile.client_id,
            "code_verifier": verifier,
        },
        transport,
    )
    id_claims = decode_claims(str(tokens.get("id_token") or ""))
    if id_claims.get("nonce") not in (None, nonce):
        raise AuthenticationRequired("The ID token's nonce does not match this login")
    if str(id_claims.get("iss", issuer)).rstrip("/") != issuer:
        raise AuthenticationRequired(
            f"The ID token's issuer {id_claims.get('iss')!r} is not the configured {issuer!r}"
        )
    tokens.update(issuer=issuer, client_id=profile.client_id, token_endpoint=metadata["token_endpoint"])
    return tokens


def refresh(
    profile: Profile, tokens: dict[str, Any], transport: httpx.BaseTransport | None = None
) -> dict[str, Any]:
    """New tokens for a stored login from its refresh token (the refresh token is kept when the
    provider does not rotate it)."""
    endpoint = tokens.get("token_endpoint")
    if not endpoint:
        if not profile.provider_url:
            raise AuthenticationRequired("The stored login has expired", hints=["Run `chronos login` again"])
        endpoint = discover(profile.provider_url, transport, issuer=profile.expected_issuer)["token_endpoint"]
    try:
        fresh = token_request(
            str(endpoint),
            {
                "grant_type": "refresh_token",
                "refresh_token": str(tokens["refresh_token"]),
                "client_id": str(tokens.get("client_id") or profile.client_id),
            },
            transport,
        )
    except AuthenticationRequired as exc:
        raise AuthenticationRequired(
            f"Refreshing the stored login failed: {exc.message}", hints=["Run `chronos login` again"]
        ) from None
    fresh.setdefault("refresh_token", tokens["refresh_token"])
    for key in ("issuer", "client_id"):
        if key in tokens:
            fresh[key] = tokens[key]
    fresh["token_endpoint"] = endpoint
    return fresh
