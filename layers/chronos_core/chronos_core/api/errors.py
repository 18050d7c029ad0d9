"""The single mapping from errors to HTTP responses.

Every error body has the shape ``{"error": code, "message": text, "details": [...]}``; schema
errors (malformed JSON, wrong types, unknown enum values) are 422 with one detail per field.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from chronos_core.domain import errors
from chronos_core.observability import logger

STATUS_BY_ERROR: dict[type[errors.ChronosError], int] = {
    errors.AuthenticationError: 401,
    errors.PermissionDeniedError: 403,
    errors.RateLimitedError: 429,
    errors.NotFoundError: 404,
    errors.ConflictError: 409,
    errors.ValidationError: 422,
    errors.UpstreamError: 502,
    errors.DependencyUnavailableError: 503,
}


def error_body(code: str, message: str, details: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"error": code, "message": message, "details": details or []}


def status_for(exc: errors.ChronosError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]
    return 500


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that turn exceptions into the uniform error body."""

    @app.exception_handler(errors.ChronosError)
    async def _domain_error(_: Request, exc: errors.ChronosError) -> JSONResponse:
        status = status_for(exc)
        headers: dict[str, str] | None = None
        if status == 503:
            headers = {"Retry-After": "5"}
        elif isinstance(exc, errors.RateLimitedError):
            headers = {"Retry-After": str(exc.retry_after)}
        elif status == 401:
            headers = {"WWW-Authenticate": 'Bearer realm="chronos", error="invalid_token"'}
        return JSONResponse(
            error_body(exc.code, exc.message, exc.details), status_code=status, headers=headers
        )

    @app.exception_handler(RequestValidationError)
    async def _schema_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = [
            {
                "field": ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body",
                "location": str(err.get("loc", ("body",))[0]),
                "message": err.get("msg", "invalid"),
                "type": err.get("type", "value_error"),
            }
            for err in exc.errors()
        ]
        fields = ", ".join(sorted({d["field"] for d in details}))
        return JSONResponse(
            error_body("validation_error", f"Invalid request: {fields}", details), status_code=422
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse(error_body(code, str(exc.detail)), status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        logger.exception("Unhandled error", extra={"error_type": type(exc).__name__})
        return JSONResponse(error_body("internal_error", "Internal server error"), status_code=500)
