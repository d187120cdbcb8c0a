"""Gateway exceptions. Each carries what both client dialects need to render it.

GatewayError
├── InvalidRequest          400 invalid_request_error / invalid_request_error
├── AuthenticationFailed    401 authentication_error / invalid_api_key            (x-should-retry: false)
├── PermissionDenied        403 permission_error / permission_denied
│   └── ModelNotAllowed     400 invalid_request_error / model_not_allowed        (a model outside a key's grants)
├── NotFound                404 not_found_error / model_not_found
├── RequestTooLarge         413 request_too_large / request_too_large
├── RateLimited             429 rate_limit_error / rate_limit_exceeded (retry_after)
├── BudgetExceeded          429 billing_error / insufficient_quota (retry_after)  (x-should-retry: false)
├── NotSupported            501 not_supported / not_supported                    (x-should-retry: false)
└── UpstreamError           upstream status kept (429, 5xx, 529 overloaded); retryable decides retries

Statuses map onto Anthropic error types as Claude Code's gateway contract says (`anthropic_error_type`).
``should_retry`` is the ``x-should-retry`` header the client gets (None: none sent, the client decides from the
status); ``headers`` are extra response headers (a budget refusal's usage-limit headers).
"""

from __future__ import annotations

from typing import Any


class GatewayError(Exception):
    status: int = 500
    anthropic_type: str = "api_error"
    openai_type: str = "server_error"
    openai_code: str | None = None
    openai_param: str | None = None  # the OpenAI error's `param` (the request field at fault), where one is named
    should_retry: bool | None = None
    envelope: dict[str, Any] | None = None  # an upstream's Anthropic error body, relayed as it came

    def __init__(
        self, message: str, *, retry_after: float | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.detail = message  # what the request log records (an upstream error adds who said it)
        self.retry_after = retry_after
        self.headers: dict[str, str] = dict(headers or {})


class InvalidRequest(GatewayError):
    status = 400
    anthropic_type = "invalid_request_error"
    openai_type = "invalid_request_error"


class AuthenticationFailed(GatewayError):
    status = 401
    anthropic_type = "authentication_error"
    openai_type = "invalid_request_error"
    openai_code = "invalid_api_key"
    should_retry = False  # a retry cannot fix a credential: Claude Code asks the user at once


class PermissionDenied(GatewayError):
    status = 403
    anthropic_type = "permission_error"
    openai_type = "invalid_request_error"
    openai_code = "permission_denied"


class ModelNotAllowed(PermissionDenied):
    """A key asked for a model (or the providers of one) outside its grants: the contract's "denied model"."""

    status = 400
    anthropic_type = "invalid_request_error"
    openai_code = "model_not_allowed"


class NotFound(GatewayError):
    status = 404
    anthropic_type = "not_found_error"
    openai_type = "invalid_request_error"
    openai_code: str | None = "model_not_found"


class StoredNotFound(NotFound):
    """A stored response or item that is not there for this key (unknown, expired, deleted, another key's)."""

    openai_code = None

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.openai_param = param


class PreviousResponseNotFound(InvalidRequest):
    """OpenAI answers an unknown `previous_response_id` with a 400 (not a 404)."""

    openai_code = "previous_response_not_found"
    openai_param = "previous_response_id"


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
    """A spend budget (key, team or customer) is used up until it resets: retrying cannot help."""

    status = 429
    anthropic_type = "billing_error"
    openai_type = "insufficient_quota"
    openai_code = "insufficient_quota"
    should_retry = False


class NotSupported(GatewayError):
    """The endpoint exists, but the target serving this request cannot answer it."""

    status = 501
    anthropic_type = "not_supported"
    openai_type = "invalid_request_error"
    openai_code = "not_supported"
    should_retry = False


_ANTHROPIC_TYPE_BY_STATUS = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    501: "not_supported",
    529: "overloaded_error",
}


def anthropic_error_type(status: int) -> str:
    """The Anthropic error type for an HTTP status (what a request log records as error_type)."""
    return _ANTHROPIC_TYPE_BY_STATUS.get(status, "api_error")


def openai_error_type(status: int) -> str:
    if status == 429:
        return "rate_limit_error"
    return "invalid_request_error" if 400 <= status < 500 else "server_error"


class UpstreamError(GatewayError):
    """A provider answered with an error status, or could not be reached (status 502/504).

    ``message`` is what the client reads (the upstream's own words, or the wording Claude Code's recovery
    matches); ``detail`` names the provider and status for the operator's log. ``envelope`` is an Anthropic
    error body the upstream sent, relayed unchanged to Anthropic-dialect clients. ``should_retry`` is the
    upstream's ``x-should-retry`` (None when it sent none).
    """

    def __init__(
        self,
        message: str,
        *,
        status: int,
        provider: str = "",
        retry_after: float | None = None,
        body: bytes | None = None,
        detail: str | None = None,
        envelope: dict[str, Any] | None = None,
        should_retry: bool | None = None,
    ) -> None:
        super().__init__(message, retry_after=retry_after)
        self.status = status
        self.provider = provider
        self.body = body
        self.detail = detail or message
        self.envelope = envelope
        self.client_credential = False  # the client's own (forwarded) credential was refused: theirs to fix
        if should_retry is None and status in (401, 501):
            should_retry = False
        self.should_retry = should_retry
        error = envelope.get("error") if envelope else None
        kind = error.get("type") if isinstance(error, dict) else None
        self.anthropic_type = kind if isinstance(kind, str) and kind else anthropic_error_type(status)
        self.openai_type = openai_error_type(status)

    @property
    def retryable(self) -> bool:
        """Whether the gateway retries it (its own choice: `should_retry` is what the client is told)."""
        return self.status in (408, 409, 429, 500, 502, 503, 504, 529)
