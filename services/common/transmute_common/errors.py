"""Errors with a machine-readable code, shared by the gateway, jobs and converters."""

from __future__ import annotations


class TransmuteError(Exception):
    """An error a client can act on. ``retryable`` errors may succeed on redelivery."""

    code = "internal"
    status = 500
    retryable = False

    def __init__(self, message: str, *, code: str | None = None, details: dict | None = None):
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
