"""Errors with a machine-readable code, shared by the gateway, jobs and converters."""

from __future__ import annotations

import re

MAX_MESSAGE = 1024  # an error never carries more: gRPC trailers have a size limit
JOB_ID = re.compile(r"^[0-9a-f]{32}$")
TENANT = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


_PATH = re.compile(r"(?:/[^\s/:'\"]+)+/?")


def scrubbed(text: str, limit: int = 200) -> str:
    """An engine's own error text, fit for a client: file paths removed, one line."""
    line = (text.strip().splitlines() or [""])[0]
    return _PATH.sub("<file>", line)[:limit]


def scrubbed_log(text: str, limit: int = 2000) -> str:
    """The end of an engine's log, fit for a job's error details: file paths removed,
    lines kept."""
    return _PATH.sub("<file>", text[-limit:]).strip()


def shown(value: str, limit: int = 64) -> str:
    """A client-supplied value as an error message may quote it: printable, bounded."""
    text = "".join(ch if ch.isprintable() else "?" for ch in value[: limit + 1])
    return repr(text[:limit] + "..." if len(text) > limit else text)


class TransmuteError(Exception):
    """An error a client can act on. ``retryable`` errors may succeed on redelivery."""

    code = "internal"
    status = 500
    retryable = False

    def __init__(self, message: str, *, code: str | None = None, details: dict | None = None):
        message = message if len(message) <= MAX_MESSAGE else message[: MAX_MESSAGE - 3] + "..."
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.details = details or {}

    def with_status(self, status: int) -> TransmuteError:
        self.status = status
        return self

    def __reduce__(self) -> tuple:  # keeps code and details across worker processes
        return (_rebuild, (type(self), self.message, self.code, self.details))


def _rebuild(cls: type[TransmuteError], message: str, code: str, details: dict) -> TransmuteError:
    return cls(message, code=code, details=details)


class InvalidInput(TransmuteError):
    code = "invalid_input"
    status = 422


class InvalidArgument(TransmuteError):
    code = "invalid_argument"
    status = 400


class Unauthenticated(TransmuteError):
    """No credentials, or ones that do not hold (unknown, expired, revoked, forged)."""

    code = "unauthenticated"
    status = 401


class Forbidden(TransmuteError):
    """A known caller whose role does not allow the call."""

    code = "forbidden"
    status = 403


class NotFound(TransmuteError):
    code = "not_found"
    status = 404


class Conflict(TransmuteError):
    code = "conflict"
    status = 409


class TooLarge(TransmuteError):
    code = "too_large"
    status = 413


class UnsupportedMediaType(TransmuteError):
    code = "unsupported_media_type"
    status = 415


class Unavailable(TransmuteError):
    code = "unavailable"
    status = 503
    retryable = True


def check_job_id(job_id: str) -> str:
    """Job ids are 32 hex digits; anything else names no job (and must never reach a
    NATS subject, an object key or a query)."""
    if not JOB_ID.match(job_id):
        raise NotFound(f"job {shown(job_id)} not found", code="job_not_found")
    return job_id


def check_tenant(tenant: str) -> str:
    # Tenants appear in NATS subjects and object keys: keep them to a safe alphabet.
    if not TENANT.match(tenant):
        raise InvalidArgument(f"invalid tenant {shown(tenant)}", code="invalid_tenant")
    return tenant
