"""Errors rendered in the caller's dialect (each dialect object owns its error body; see runtime/dialects)."""

from __future__ import annotations

import math
from typing import Any

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from bifrostc.runtime import dialects
from bifrostc.runtime.context import Dialect
from bifrostc.runtime.errors import GatewayError, InvalidRequest, NotFound
from bifrostc.runtime.observability.redaction import redact

_STATUS_ERRORS: dict[int, type[GatewayError]] = {400: InvalidRequest, 404: NotFound}


def dialect_for_path(path: str) -> Dialect:
    return dialects.dialect_for_path(path).name


def error_body(dialect: Dialect, exc: GatewayError) -> dict[str, Any]:
    return dialects.dialect_named(dialect).error_body(exc)


def error_response(dialect: Dialect, exc: GatewayError, headers: dict[str, str] | None = None) -> Response:
    all_headers = {**(headers or {}), **exc.headers}
    if exc.retry_after is not None:
        all_headers["retry-after"] = str(max(0, math.ceil(exc.retry_after)))  # whole seconds
    if exc.should_retry is not None:
        all_headers["x-should-retry"] = "true" if exc.should_retry else "false"
    return Response(
        orjson.dumps(redact(error_body(dialect, exc))),  # upstream errors may echo the provider key
        status_code=exc.status,
        headers=all_headers,
        media_type="application/json",
    )


async def http_exception_handler(request: Request, exc: Exception) -> Response:
    """Starlette's own 404/405s (unknown path, wrong method) in the dialect of the path prefix."""
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    error_type = _STATUS_ERRORS.get(status, GatewayError)
    message = f"{request.method} {request.url.path}: " + (
        "not found" if status == 404 else (exc.detail if isinstance(exc, HTTPException) else "error")
    )
    error = error_type(message)
    error.status = status
    error.openai_code = "not_found" if status == 404 else None
    if status == 405:
        error.anthropic_type = "invalid_request_error"
        error.openai_type = "invalid_request_error"
    return error_response(dialect_for_path(request.url.path), error)
