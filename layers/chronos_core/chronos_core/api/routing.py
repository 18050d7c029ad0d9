"""The route class of every authenticated router.

FastAPI reads and parses a request's body before it resolves any dependency, so without this an
unauthenticated caller would learn how its body parses, and bodies Python's JSON decoder refuses
for reasons other than syntax (invalid UTF-8, a 5,001-digit integer, nesting deeper than the
interpreter's recursion limit) would get FastAPI's bare ``400 "There was an error parsing the
body"``. :class:`AuthenticatedRoute` therefore

1. authenticates the caller first (the result is kept on ``request.state.principal`` for the
   role dependencies), so a bad token is a 401 or 429 whatever the body is;
2. then checks that a JSON body parses, answering 422 with the field ``body`` when it does not.
"""

from __future__ import annotations

import email.message
import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from chronos_core.application.system.auth import Authenticate, authenticate

PRINCIPAL_STATE = "principal"


def client_address(request: Request) -> str:
    """The caller's source IP as API Gateway saw it, else the socket peer."""
    event: dict[str, Any] = request.scope.get("aws.event") or {}
    source = ((event.get("requestContext") or {}).get("identity") or {}).get("sourceIp")
    if source:
        return str(source)
    return request.client.host if request.client else "unknown"


async def authenticate_request(request: Request) -> None:
    """Authenticate the caller (once per request) and keep the principal on the request."""
    if hasattr(request.state, PRINCIPAL_STATE):
        return
    command = Authenticate(authorization=request.headers.get("authorization"), client=client_address(request))
    principal = await run_in_threadpool(authenticate, request.app.state.services, command)
    setattr(request.state, PRINCIPAL_STATE, principal)


def _is_json(content_type: str | None) -> bool:
    if not content_type:
        return True  # FastAPI parses a body without a content type as JSON
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


async def check_json_body(request: Request) -> None:
    """Raise RequestValidationError (422, field ``body``) for a JSON body that does not parse."""
    raw = await request.body()
    if not raw or not _is_json(request.headers.get("content-type")):
        return
    try:
        json.loads(raw)
    except (ValueError, RecursionError) as exc:  # syntax, UTF-8, digit limits, nesting depth
        reason = "nested too deeply" if isinstance(exc, RecursionError) else "not valid JSON"
        raise RequestValidationError(
            [
                {
                    "type": "json_invalid",
                    "loc": ("body",),
                    "msg": f"The request body is {reason}",
                    "input": None,
                }
            ]
        ) from None


class AuthenticatedRoute(APIRoute):
    """A route that authenticates its caller, then checks its JSON body, before FastAPI reads it."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()
        has_body = self.body_field is not None

        async def route(request: Request) -> Response:
            await authenticate_request(request)
            if has_body:
                await check_json_body(request)
            return await handle(request)

        return route
