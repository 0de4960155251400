"""The API's errors as exceptions: one class per kind of answer, each carrying the
machine-readable code, message, HTTP status and details the API sent."""

from __future__ import annotations

from typing import Any

import httpx


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, details: dict[str, Any]):
        super().__init__(f"{code}: {message}")
        self.status, self.code, self.message, self.details = status, code, message, details


class InvalidRequestError(ApiError):
    """400, 413, 415, 422: the request cannot be done as sent."""


class AuthenticationError(ApiError):
    """401: no key, or one that does not hold."""


class PermissionDeniedError(ApiError):
    """403: the key's role or the tenant's allow-list does not permit this."""


class NotFoundError(ApiError):
    """404: no such job, file or output (in this tenant)."""


class ConflictError(ApiError):
    """409: e.g. cancelling a job that has finished."""


class RateLimitError(ApiError):
    """429: a quota or rate limit; ``retry_after`` seconds say when to try again."""

    @property
    def retry_after(self) -> float:
        return float(self.details.get("retry_after_seconds", 1))


class UnavailableError(ApiError):
    """503 (and any 5xx): a part of the service is down; retrying later may work."""


_BY_STATUS: dict[int, type[ApiError]] = {
    400: InvalidRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    413: InvalidRequestError,
    415: InvalidRequestError,
    422: InvalidRequestError,
    429: RateLimitError,
}


def error_from(resp: httpx.Response) -> ApiError:
    """The exception for an error answer, from its ``{"error": {...}}`` body."""
    try:
        body = resp.json()["error"]
        code, message = str(body["code"]), str(body["message"])
        details = dict(body.get("details") or {})
    except (ValueError, KeyError, TypeError):
        code, message, details = f"http_{resp.status_code}", resp.text[:200], {}
    if resp.status_code == 429 and "retry-after" in resp.headers:
        details.setdefault("retry_after_seconds", resp.headers["retry-after"])
    kind = _BY_STATUS.get(resp.status_code)
    if kind is None:
        kind = UnavailableError if resp.status_code >= 500 else ApiError
    return kind(resp.status_code, code, message, details)
