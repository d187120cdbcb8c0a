"""Gateway exceptions. Each carries what both client dialects need to render it.

GatewayError
├── InvalidRequest          400 invalid_request_error / invalid_request_error
├── AuthenticationFailed    401 authentication_error / invalid_api_key
├── PermissionDenied        403 permission_error / permission_denied
├── NotFound                404 not_found_error / model_not_found
├── RequestTooLarge         413 request_too_large / request_too_large
├── RateLimited             429 rate_limit_error / rate_limit_exceeded (retry_after)
├── BudgetExceeded          429 rate_limit_error / insufficient_quota
└── UpstreamError           upstream status kept (429, 5xx, 529 overloaded); retryable decides retries
"""

from __future__ import annotations


class GatewayError(Exception):
    status: int = 500
    anthropic_type: str = "api_error"
    openai_type: str = "server_error"
    openai_code: str | None = None

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


class InvalidRequest(GatewayError):
    status = 400
    anthropic_type = "invalid_request_error"
    openai_type = "invalid_request_error"


class AuthenticationFailed(GatewayError):
    status = 401
    anthropic_type = "authentication_error"
    openai_type = "invalid_request_error"
    openai_code = "invalid_api_key"


class PermissionDenied(GatewayError):
    status = 403
    anthropic_type = "permission_error"
    openai_type = "invalid_request_error"
    openai_code = "permission_denied"


class NotFound(GatewayError):
    status = 404
    anthropic_type = "not_found_error"
    openai_type = "invalid_request_error"
    openai_code = "model_not_found"


class RequestTooLarge(GatewayError):
    status = 413
    anthropic_type = "request_too_large"
    openai_type = "invalid_request_error"
    openai_code = "request_too_large"


class RateLimited(GatewayError):
    status = 429
    anthropic_type = "rate_limit_error"
    openai_type = "rate_limit_error"
    openai_code = "rate_limit_exceeded"


class BudgetExceeded(GatewayError):
    status = 429
    anthropic_type = "rate_limit_error"
    openai_type = "insufficient_quota"
    openai_code = "insufficient_quota"


_ANTHROPIC_TYPE_BY_STATUS = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}


def anthropic_error_type(status: int) -> str:
    """The Anthropic error type for an HTTP status (what a request log records as error_type)."""
    return _ANTHROPIC_TYPE_BY_STATUS.get(status, "api_error")


class UpstreamError(GatewayError):
    """A provider answered with an error status, or could not be reached (status 502/504)."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        provider: str = "",
        retry_after: float | None = None,
        body: bytes | None = None,
    ) -> None:
        super().__init__(message, retry_after=retry_after)
        self.status = status
        self.provider = provider
        self.body = body
        self.anthropic_type = anthropic_error_type(status)
        self.openai_type = (
            "rate_limit_error"
            if status == 429
            else ("invalid_request_error" if 400 <= status < 500 else "server_error")
        )

    @property
    def retryable(self) -> bool:
        return self.status in (408, 409, 429, 500, 502, 503, 504, 529)
