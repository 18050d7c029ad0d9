"""A development OpenID Connect provider for the local stack: authorization code flow with PKCE.

    .local/venv/bin/python local/dev_idp.py [--port 19080] [--token-ttl 3600]

``local/stack.py up`` starts it on ``CHRONOS_DEV_IDP_PORT`` (default 19080) and lists it in
``.local/endpoints.json`` as ``dev_idp_url``. It implements what the dashboard and the CLI use of
a real provider (Cognito's hosted UI in AWS), so they run the same code path locally:

- ``GET /.well-known/openid-configuration``: discovery. ``issuer`` is ``chronos-local``, the issuer
  the local deployment verifies (``AuthIssuer``), not this server's URL.
- ``GET /authorize``: ``response_type=code``, ``client_id``, ``redirect_uri``, ``state``,
  ``code_challenge`` with ``code_challenge_method=S256`` (required; ``plain`` is refused),
  optional ``scope`` and ``nonce``. Shows a login page: a user name, roles (reader, operator,
  admin) and tenants (FIWARE services, ``*`` for all). No password: it is a development tool.
  ``POST /authorize`` (that form) redirects to ``redirect_uri`` with ``code`` and ``state``.
- ``POST /token`` (form encoded, CORS open): ``grant_type=authorization_code`` (``code``,
  ``redirect_uri``, ``client_id``, ``code_verifier``; a code works once, for 120 s) and
  ``grant_type=refresh_token`` (``refresh_token``, ``client_id``; rotated on each use). Answers
  ``access_token`` (``aud`` the API's audience ``chronos``, the roles and tenants in the claims the
  stack reads), ``id_token`` (``aud`` the client id), ``refresh_token``, ``token_type``, ``expires_in``.
  Errors are RFC 6749's ``{"error": ..., "error_description": ...}`` with 400.
- ``GET /jwks``: empty: tokens are HS256, signed with the local deployment's secret
  (``.local/jwt-secret``, read at each issue, so a new deploy's secret is picked up).

Clients are public (no secret): ``chronos-dashboard`` and ``chronos-cli``. A redirect URI must be
``http://`` on a loopback host (``127.0.0.1``, ``[::1]``, ``localhost``) with any port (RFC 8252
§7.3 for the CLI; the local dashboard is served from LocalStack on 127.0.0.1), or one given with
``--redirect-uri``. State is in memory: a restart forgets codes and refresh tokens.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import html
import json
import os
import secrets
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "layers" / "chronos_core"))

import jwt  # noqa: E402

CLIENTS = ("chronos-dashboard", "chronos-cli")
ROLES = ("reader", "operator", "admin")
ISSUER = "chronos-local"
API_AUDIENCE = "chronos"
LOOPBACK_HOSTS = {"127.0.0.1", "::1", "localhost"}
CODE_SECONDS = 120
DEFAULT_PORT = 19080


class OAuthError(Exception):
    """An RFC 6749 error answer."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


def s256(verifier: str) -> str:
    """The PKCE S256 challenge of ``verifier`` (RFC 7636 §4.2)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def redirect_allowed(uri: str, extra: frozenset[str] = frozenset()) -> bool:
    """A loopback ``http://`` URI on any port (RFC 8252 §7.3), or one of ``extra``; never one with
    a fragment."""
    if uri in extra:
        return True
    parts = urllib.parse.urlsplit(uri)
    return parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS and not parts.fragment


@dataclass(frozen=True)
class Grant:
    """Who signed in, and for which client: what a code or a refresh token stands for."""

    client_id: str
    subject: str
    roles: tuple[str, ...]
    tenants: tuple[str, ...]
    scope: str
    nonce: str | None = None


@dataclass
class PendingCode:
    grant: Grant
    redirect_uri: str
    challenge: str
    expires: float


@dataclass
class Provider:
    """The provider's state and rules, apart from HTTP (tested directly)."""

    secret: Callable[[], str]
    token_ttl: int = 3600
    extra_redirects: frozenset[str] = frozenset()
    clock: Callable[[], float] = time.time
    _codes: dict[str, PendingCode] = field(default_factory=dict)
    _refresh: dict[str, Grant] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def check_authorize(self, query: dict[str, str]) -> None:
        """Raise OAuthError unless ``query`` is a valid authorization request."""
        if query.get("client_id") not in CLIENTS:
            raise OAuthError("unauthorized_client", f"unknown client_id; known: {', '.join(CLIENTS)}")
        if not redirect_allowed(query.get("redirect_uri", ""), self.extra_redirects):
            raise OAuthError("invalid_request", "redirect_uri must be http:// on a loopback host")
        if query.get("response_type") != "code":
            raise OAuthError("unsupported_response_type", "only response_type=code")
        if query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
            raise OAuthError("invalid_request", "PKCE with code_challenge_method=S256 is required")

    def issue_code(self, query: dict[str, str], subject: str, roles: list[str], tenants: list[str]) -> str:
        self.check_authorize(query)
        roles = [r for r in roles if r in ROLES]
        if not subject.strip() or not roles or not tenants:
            raise OAuthError("invalid_request", "a user, at least one role and one tenant are needed")
        grant = Grant(
            client_id=query["client_id"],
            subject=subject.strip(),
            roles=tuple(roles),
            tenants=tuple(tenants),
            scope=query.get("scope") or "openid",
            nonce=query.get("nonce") or None,
        )
        code = secrets.token_urlsafe(32)
        with self._lock:
            self._codes[code] = PendingCode(
                grant, query["redirect_uri"], query["code_challenge"], self.clock() + CODE_SECONDS
            )
        return code

    def token(self, form: dict[str, str]) -> dict[str, Any]:
        """The token endpoint: ``authorization_code`` (with PKCE) or ``refresh_token``."""
        grant_type = form.get("grant_type")
        client_id = form.get("client_id", "")
        if client_id not in CLIENTS:
            raise OAuthError("invalid_client", "unknown client_id")
        if grant_type == "authorization_code":
            with self._lock:
                pending = self._codes.pop(form.get("code", ""), None)  # a code works once
            if pending is None or pending.expires < self.clock():
                raise OAuthError("invalid_grant", "unknown, used or expired code")
            if pending.grant.client_id != client_id or pending.redirect_uri != form.get("redirect_uri"):
                raise OAuthError("invalid_grant", "client_id or redirect_uri differ from the authorization")
            if s256(form.get("code_verifier", "")) != pending.challenge:
                raise OAuthError("invalid_grant", "code_verifier does not match the code_challenge")
            return self._tokens(pending.grant)
        if grant_type == "refresh_token":
            with self._lock:
                grant = self._refresh.pop(form.get("refresh_token", ""), None)  # rotated
            if grant is None or grant.client_id != client_id:
                raise OAuthError("invalid_grant", "unknown or used refresh token")
            return self._tokens(grant)
        raise OAuthError("unsupported_grant_type", "authorization_code or refresh_token")

    def _tokens(self, grant: Grant) -> dict[str, Any]:
        now = int(self.clock())
        secret = self.secret()
        common = {"sub": grant.subject, "iss": ISSUER, "iat": now, "nbf": now, "exp": now + self.token_ttl}
        access = {
            **common,
            "aud": API_AUDIENCE,
            "client_id": grant.client_id,
            "scope": grant.scope,
            "chronos:roles": list(grant.roles),
            "chronos:tenants": list(grant.tenants),
        }
        identity = {**common, "aud": grant.client_id, "name": grant.subject}
        if grant.nonce:
            identity["nonce"] = grant.nonce
        refresh = secrets.token_urlsafe(32)
        with self._lock:
            self._refresh[refresh] = grant
        return {
            "access_token": jwt.encode(access, secret, algorithm="HS256"),
            "id_token": jwt.encode(identity, secret, algorithm="HS256"),
            "refresh_token": refresh,
            "token_type": "Bearer",
            "expires_in": self.token_ttl,
            "scope": grant.scope,
        }


def discovery(base_url: str) -> dict[str, Any]:
    return {
        "issuer": ISSUER,
        "authorization_endpoint": f"{base_url}/authorize",
        "token_endpoint": f"{base_url}/token",
        "jwks_uri": f"{base_url}/jwks",
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["none"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["HS256"],
        "scopes_supported": ["openid", "profile"],
        "claims_supported": ["sub", "name", "chronos:roles", "chronos:tenants"],
    }


LOGIN_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Chronos dev sign-in</title>
<style>body{{font:15px system-ui,sans-serif;max-width:26rem;margin:3rem auto;color:#1d2733}}
fieldset{{border:1px solid #cdd5df;border-radius:6px;margin:0 0 1rem}}
input[type=text]{{width:100%;padding:.4rem}}
button{{padding:.5rem 1.2rem;background:#1f6feb;color:#fff;border:0;border-radius:4px}}
.note{{color:#5b6675;font-size:13px}}</style></head>
<body><h1>Chronos development sign-in</h1>
<p class="note">Local development identity provider: no password. Client <b>{client}</b>.</p>
<form method="post" action="authorize">
{hidden}
<fieldset><legend>User</legend>
<input type="text" name="username" id="username" value="developer" required></fieldset>
<fieldset><legend>Roles</legend>
<label><input type="checkbox" name="role" value="reader"> reader</label>
<label><input type="checkbox" name="role" value="operator"> operator</label>
<label><input type="checkbox" name="role" value="admin" checked> admin</label></fieldset>
<fieldset><legend>Tenants (FIWARE services, comma separated; * for all)</legend>
<input type="text" name="tenants" id="tenants" value="*" required></fieldset>
<button type="submit" id="sign-in">Sign in</button>
</form></body></html>
"""

ERROR_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign-in error</title></head>
<body><h1>Sign-in request refused</h1><p><b>{error}</b>: {description}</p></body></html>
"""


class Handler(BaseHTTPRequestHandler):
    provider: Provider  # set on the subclass made by ``make_server``
    server_version = "chronos-dev-idp"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        sys.stderr.write(f"[dev-idp] {self.address_string()} {format % args}\n")

    def _base_url(self) -> str:
        host = self.headers.get("Host") or f"127.0.0.1:{self.server.server_address[1]}"
        return f"http://{host}"

    def _send(
        self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, payload: Any) -> None:
        cors = {"Access-Control-Allow-Origin": "*"}  # public clients on other origins; no cookies
        self._send(status, json.dumps(payload).encode(), "application/json", cors)

    def _page(self, status: int, text: str) -> None:
        self._send(status, text.encode(), "text/html; charset=utf-8", {"X-Frame-Options": "DENY"})

    def _form(self) -> dict[str, list[str]]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(min(length, 65536)).decode("utf-8", "replace")
        return urllib.parse.parse_qs(raw, keep_blank_values=True)

    def do_OPTIONS(self) -> None:  # noqa: N802 - http.server's naming
        self._send(
            HTTPStatus.NO_CONTENT,
            b"",
            "text/plain",
            {
                "Access-Control-Allow-Origin": "*",
                "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
                "Access-Control-Allow-Headers": "Content-Type",
                "Access-Control-Max-Age": "600",
            },
        )

    def do_GET(self) -> None:  # noqa: N802
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/.well-known/openid-configuration":
            self._json(200, discovery(self._base_url()))
        elif url.path == "/jwks":
            self._json(200, {"keys": []})
        elif url.path == "/health":
            self._json(200, {"status": "ok"})
        elif url.path == "/authorize":
            query = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query).items()}
            try:
                self.provider.check_authorize(query)
            except OAuthError as exc:  # never redirect to an unchecked URI: show the error
                self._page(400, ERROR_PAGE.format(error=exc.error, description=html.escape(exc.description)))
                return
            hidden = "\n".join(
                f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
                for k, v in query.items()
            )
            self._page(200, LOGIN_PAGE.format(client=html.escape(query["client_id"]), hidden=hidden))
        else:
            self._json(404, {"error": "not_found"})

    def do_POST(self) -> None:  # noqa: N802
        url = urllib.parse.urlsplit(self.path)
        form = self._form()
        single = {k: v[-1] for k, v in form.items()}
        if url.path == "/token":
            try:
                self._json(200, self.provider.token(single))
            except OAuthError as exc:
                self._json(400, {"error": exc.error, "error_description": exc.description})
        elif url.path == "/authorize":
            query = {k: v for k, v in single.items() if k not in ("username", "role", "tenants")}
            tenants = [t.strip() for t in single.get("tenants", "").split(",") if t.strip()]
            try:
                code = self.provider.issue_code(
                    query, single.get("username", ""), form.get("role", []), tenants
                )
            except OAuthError as exc:
                self._page(400, ERROR_PAGE.format(error=exc.error, description=html.escape(exc.description)))
                return
            params = {"code": code, **({"state": query["state"]} if "state" in query else {})}
            separator = "&" if "?" in query["redirect_uri"] else "?"
            location = query["redirect_uri"] + separator + urllib.parse.urlencode(params)
            self._send(302, b"", "text/plain", {"Location": location})
        else:
            self._json(404, {"error": "not_found"})


def secret_reader(path: Path) -> Callable[[], str]:
    def read() -> str:
        if not path.exists():
            raise OAuthError("server_error", f"{path.name} is missing: run local/stack.py deploy first")
        return path.read_text().strip()

    return read


def make_server(provider: Provider, host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> ThreadingHTTPServer:
    handler = type("BoundHandler", (Handler,), {"provider": provider})
    return ThreadingHTTPServer((host, port), handler)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Chronos development OIDC provider (code flow + PKCE).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("CHRONOS_DEV_IDP_PORT", DEFAULT_PORT)))
    parser.add_argument("--token-ttl", type=int, default=3600, help="access token lifetime in seconds")
    parser.add_argument("--secret-file", type=Path, default=ROOT / ".local" / "jwt-secret")
    parser.add_argument(
        "--redirect-uri", action="append", default=[], help="allow a non-loopback redirect URI"
    )
    args = parser.parse_args(argv)
    provider = Provider(
        secret=secret_reader(args.secret_file),
        token_ttl=args.token_ttl,
        extra_redirects=frozenset(args.redirect_uri),
    )
    server = make_server(provider, args.host, args.port)
    print(f"[dev-idp] listening on http://{args.host}:{args.port}", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
