"""The web dashboard served from the API function under ``/ui/``.

The single-page app (``web/``, built by Vite into ``functions/api/dashboard``) is packaged with the
API function, so the API Gateway URL that serves the API serves its dashboard too, in LocalStack
and in AWS. Contracts:

- ``GET /ui`` redirects (307, relative ``Location: ui/``) to ``/ui/``: a relative location keeps
  API Gateway's stage prefix, which the function never sees.
- ``GET /ui/config.json``: the OpenID Connect settings the app signs in with (authority, client
  id, scope, which token to send as bearer), never cached.
- ``GET /ui/assets/<file>``: Vite's content-hashed files, cached for a year (``immutable``); a
  missing asset is a 404, never the app.
- Any other ``GET /ui/<path>``: a file of the build when one exists (cached 5 minutes), else
  ``index.html`` (the SPA's client-side routes), ``no-cache``. ``index.html`` gets a relative
  ``<base href>`` ("./", "../", ...) so its relative asset URLs resolve at any route depth,
  behind any stage prefix.
- Only text files are served (HTML, JS, CSS, JSON, SVG as text is not): API Gateway's REST proxy
  passes binary bodies only with binary media types configured, which the API does not have.
- None of these routes needs a token: they hold nothing but the public app. Paths that leave the
  build folder are 404.
"""

from __future__ import annotations

import mimetypes
import os
import re
import urllib.parse
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict

from chronos_core.api.errors import error_body

PREFIX = "/ui"
ASSET_CACHE = "public, max-age=31536000, immutable"
FILE_CACHE = "public, max-age=300"
APP_CACHE = "no-cache"
TEXT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".txt": "text/plain; charset=utf-8",
}
_HEAD = re.compile(r"<head(\s[^>]*)?>", re.IGNORECASE)


class DashboardConfig(BaseModel):
    """What ``/ui/config.json`` answers: how the app signs in (OIDC authorization code + PKCE)."""

    model_config = ConfigDict(frozen=True)

    authority: str
    """The provider's issuer URL; the app reads ``<authority>/.well-known/openid-configuration``."""
    client_id: str = "chronos-dashboard"
    scope: str = "openid"
    bearer_token: Literal["access_token", "id_token"] = "access_token"
    """Which token the app sends to the API: the dev IdP's access token carries the API's audience;
    Cognito's ID token carries the app client id in ``aud`` (set ``AuthAudience`` to it)."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> DashboardConfig:
        """From ``CHRONOS_OIDC_AUTHORITY``, ``CHRONOS_OIDC_CLIENT_ID``, ``CHRONOS_OIDC_SCOPE`` and
        ``CHRONOS_OIDC_BEARER_TOKEN`` (empty ones take the defaults)."""
        env = os.environ if environ is None else environ
        values = {
            "authority": env.get("CHRONOS_OIDC_AUTHORITY", ""),
            "client_id": env.get("CHRONOS_OIDC_CLIENT_ID") or "chronos-dashboard",
            "scope": env.get("CHRONOS_OIDC_SCOPE") or "openid",
            "bearer_token": env.get("CHRONOS_OIDC_BEARER_TOKEN") or "access_token",
        }
        return cls.model_validate(values)


def _origin(url: str) -> str | None:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") and parts.netloc else None


def content_security_policy(config: DashboardConfig) -> str:
    """Scripts and styles from our own origin only; the browser may call the API (same origin),
    the provider's origin and other HTTPS origins (Cognito's token endpoint lives on the hosted
    UI's domain, not the issuer's)."""
    connect = ["'self'", "https:"]
    origin = _origin(config.authority)
    if origin and origin.startswith("http:"):
        connect.append(origin)
    return (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        f"connect-src {' '.join(connect)}; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
    )


def relative_base(path: str) -> str:
    """The ``<base href>`` that points at ``/ui/`` from the document at ``/ui/<path>``."""
    depth = path.count("/")
    return "../" * depth if depth else "./"


def with_base(index_html: str, base: str) -> str:
    tag = f'<base href="{base}">'
    match = _HEAD.search(index_html)
    if match is None:
        return tag + index_html
    return index_html[: match.end()] + tag + index_html[match.end() :]


@lru_cache(maxsize=256)
def _read(path: Path) -> bytes:
    return path.read_bytes()


def dashboard_router(static_dir: Path, config: DashboardConfig) -> APIRouter:
    """The routes serving the dashboard built into ``static_dir`` (see the module's contracts)."""
    router = APIRouter(include_in_schema=False)
    root = static_dir.resolve()
    csp = content_security_policy(config)
    security = {
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "X-Frame-Options": "DENY",
    }

    def not_found(message: str) -> JSONResponse:
        return JSONResponse(error_body("not_found", message), status_code=404, headers=security)

    def app_page(path: str) -> Response:
        index = root / "index.html"
        if not index.is_file():
            return not_found("The dashboard is not built: run `make setup` (npm ci && npm run build in web/)")
        html = with_base(_read(index).decode("utf-8"), relative_base(path))
        headers = {**security, "Cache-Control": APP_CACHE, "Content-Security-Policy": csp}
        return Response(html, media_type=TEXT_TYPES[".html"], headers=headers)

    @router.get(PREFIX)
    def ui_root() -> Response:
        return Response(status_code=307, headers={"Location": "ui/", **security})

    @router.get(f"{PREFIX}/config.json")
    def ui_config() -> JSONResponse:
        return JSONResponse(config.model_dump(), headers={**security, "Cache-Control": "no-store"})

    @router.get(PREFIX + "/{path:path}")
    def ui_file(path: str) -> Response:
        target = (root / path).resolve()
        inside = target == root or root in target.parents
        if not inside:
            return not_found("Not found")
        suffix = target.suffix.lower()
        if path.startswith("assets/"):
            if not target.is_file() or suffix not in TEXT_TYPES:
                return not_found("No such asset")
            return _file(target, suffix, {**security, "Cache-Control": ASSET_CACHE})
        if path and target.is_file() and target.name != "index.html" and suffix in TEXT_TYPES:
            return _file(target, suffix, {**security, "Cache-Control": FILE_CACHE})
        return app_page(path)

    return router


def _file(path: Path, suffix: str, headers: dict[str, str]) -> Response:
    media_type = TEXT_TYPES.get(suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return Response(_read(path), media_type=media_type, headers=headers)
