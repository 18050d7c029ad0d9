"""The Orion app: error rendering, the URI check, ``/version`` and the resource routers.

Every answer carries ``Fiware-Correlator`` (the request's, or a new one). An unknown route answers
400 ``service not found`` and a known route with another method 405, as Orion does; a decoded
path or a query value (other than ``q``, ``mq``, ``georel``, ``coords``) holding ``<>"'=;()``
answers 400 ``invalid character in URI`` before any route runs.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response

from local.fiware_sandbox.common import SandboxState, correlator, unq
from local.fiware_sandbox.orion import attrs, batch, entities, subscriptions
from local.fiware_sandbox.orion.deps import Context, OrionContext
from local.fiware_sandbox.orion.ngsi import FORBIDDEN, VERSION, OrionError
from local.fiware_sandbox.orion.store import EntityStore, SubscriptionStore

#: Query parameters whose values may hold the characters forbidden elsewhere in the URI.
FREE_QUERY_PARAMS = ("q", "mq", "georel", "coords")

version_router = APIRouter()


@version_router.get("/version")
def version(ctx: Context) -> dict[str, Any]:
    """Orion's ``/version`` document, uptime counted from the sandbox start."""
    uptime = int(time.time() - ctx.state.started_at)
    return {
        "orion": {
            "version": VERSION,
            "uptime": f"0 d, {uptime // 3600} h, {uptime // 60 % 60} m, {uptime % 60} s",
            "git_hash": "sandbox",
            "compile_time": "sandbox",
            "compiled_by": "chronos",
            "compiled_in": "sandbox",
            "release_date": "sandbox",
            "machine": "x86_64",
            "doc": "https://fiware-orion.rtfd.io/",
        }
    }


async def orion_error(request: Request, exc: OrionError) -> JSONResponse:
    """Render an :class:`OrionError` as ``{error, description}`` with its status and a correlator."""
    return JSONResponse(
        {"error": exc.error, "description": exc.description},
        status_code=exc.status,
        headers={"Fiware-Correlator": correlator(request.headers)},
    )


async def not_found(_request: Request, _exc: Exception) -> JSONResponse:
    """Orion answers an unknown route with 400 ``service not found``."""
    return JSONResponse({"error": "BadRequest", "description": "service not found"}, status_code=400)


async def not_allowed(_request: Request, _exc: Exception) -> JSONResponse:
    """A known route with another method: 405 ``MethodNotAllowed``."""
    return JSONResponse({"error": "MethodNotAllowed", "description": "method not allowed"}, status_code=405)


def has_invalid_uri(request: Request) -> bool:
    """Whether the decoded path, or a query value outside :data:`FREE_QUERY_PARAMS`, holds a
    forbidden character."""
    if any(c in FORBIDDEN for c in unq(request.url.path)):
        return True
    return any(
        key not in FREE_QUERY_PARAMS and any(c in FORBIDDEN for c in value)
        for key, value in request.query_params.multi_items()
    )


async def uri_check(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    """HTTP middleware: 400 ``invalid character in URI`` (see :func:`has_invalid_uri`), otherwise the
    route's answer with a ``Fiware-Correlator`` unless it already has one."""
    if has_invalid_uri(request):
        return JSONResponse(
            {"error": "BadRequest", "description": "invalid character in URI"}, status_code=400
        )
    response = await call_next(request)
    response.headers.setdefault("Fiware-Correlator", correlator(request.headers))
    return response


def build_app(state: SandboxState) -> FastAPI:
    """The Orion app over ``state``: its database and ``state.notifier`` (a
    :class:`~local.fiware_sandbox.orion.notifier.Notifier`, which the writes feed)."""
    app = FastAPI(title="Orion sandbox", openapi_url=None, docs_url=None, redoc_url=None)
    app.exception_handler(OrionError)(orion_error)
    app.exception_handler(404)(not_found)
    app.exception_handler(405)(not_allowed)
    app.middleware("http")(uri_check)
    app.state.orion = OrionContext(
        state=state,
        entities=EntityStore(state.db),
        subscriptions=SubscriptionStore(state.db),
        notifier=state.notifier,
    )
    for router in (version_router, entities.router, attrs.router, batch.router, subscriptions.router):
        app.include_router(router)
    return app
