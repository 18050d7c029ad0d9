"""ASGI middleware: the request-size limit, NUL characters, and the request's time budget."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chronos_core.api.errors import error_body
from chronos_core.deadlines import deadline_in


class BodySizeLimit:
    """Answers 413 when a request body exceeds ``max_bytes``, declared or actually received.

    A declared ``Content-Length`` over the limit is refused before anything is read. Without one
    (API Gateway's proxy integration does not forward it, and chunked uploads have none) the body
    is read here, up to ``max_bytes + 1`` bytes, before the app sees it: an oversized body is
    answered 413 by this middleware, never turned into a parsing error by the framework, and a
    body within the limit is replayed to the app unchanged.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit():
            if int(declared) > self.max_bytes:
                await self._reject(send)
                return
            await self.app(scope, receive, send)  # the server enforces the declared length
            return
        buffered = await self._read_within_limit(receive)
        if buffered is None:
            await self._reject(send)
            return
        await self.app(scope, _replay(buffered, receive), send)

    async def _read_within_limit(self, receive: Receive) -> list[Message] | None:
        """The request's messages up to the end of the body; None once it exceeds the limit."""
        messages: list[Message] = []
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                return messages  # the client went away: let the app see it
            size += len(message.get("body", b""))
            if size > self.max_bytes:
                return None
            if not message.get("more_body", False):
                return messages

    async def _reject(self, send: Send) -> None:
        body = json.dumps(
            error_body("payload_too_large", f"Request body exceeds {self.max_bytes} bytes")
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed


class RequestBudget:
    """Runs each request inside a time budget of ``seconds`` (:mod:`chronos_core.deadlines`):
    outbound calls give up in time for the API to answer its documented 503 with ``Retry-After``,
    before API Gateway's 29 s integration timeout answers a bare 502 instead."""

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with deadline_in(self.seconds):
            await self.app(scope, receive, send)


class NulCharacters:
    """Answers 422 naming the field when the path, a query parameter or a string of the JSON body
    holds a NUL character (U+0000).

    No Chronos identifier, name or text can hold one, and PostgreSQL-backed MongoDB-compatible
    servers (FerretDB on PostgreSQL, the local default) cannot store or even compare one: such a
    value used to reach the database and end as a 500. The body is read (within the size limit
    applied before this middleware) and replayed to the app unchanged.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        field = _nul_in_url(scope)
        messages: list[Message] = []
        if field is None:
            while True:
                message = await receive()
                messages.append(message)
                if message["type"] != "http.request" or not message.get("more_body", False):
                    break
            field = _nul_in_body(b"".join(m.get("body", b"") for m in messages))
        if field is None:
            await self.app(scope, _replay(messages, receive), send)
            return
        body = json.dumps(
            error_body(
                "validation_error",
                f"Invalid request: {field}",
                [{"field": field, "message": "must not contain NUL characters (U+0000)"}],
            )
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 422,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _nul_in_url(scope: Scope) -> str | None:
    if "\x00" in scope.get("path", ""):
        return "path"
    query = (scope.get("query_string") or b"").decode("latin-1")
    for name, value in parse_qsl(query, keep_blank_values=True):
        if "\x00" in name or "\x00" in value:
            return f"query.{name.replace(chr(0), '')}"
    return None


def _nul_in_body(raw: bytes) -> str | None:
    if b"\\u0000" not in raw and b"\x00" not in raw:
        return None
    try:
        document = json.loads(raw)
    except ValueError:
        return "body" if b"\x00" in raw else None  # not JSON: the app answers its own 422
    return _nul_path(document, "body")


def _nul_path(value: object, path: str) -> str | None:
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            found = path if "\x00" in str(key) else _nul_path(item, f"{path}.{key}")
            if found:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _nul_path(item, f"{path}.{index}")
            if found:
                return found
    return None
