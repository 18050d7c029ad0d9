"""ASGI middleware: the request-size limit and the request's time budget."""

from __future__ import annotations

import json

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
