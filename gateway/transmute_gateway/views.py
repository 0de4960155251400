"""Public shapes of jobs and files: the REST document, and the same document as the
public gRPC message. Internal fields (object-store keys, idempotency keys) never leave."""

from __future__ import annotations

from typing import Any

from google.protobuf import json_format

from transmute.gateway.v1 import gateway_pb2
from transmute_common.errors import TransmuteError
from transmute_common.jobs import Job, public_job
from transmute_common.logging import get_logger

log = get_logger(__name__)


job_view = public_job


def job_message(job: Job) -> gateway_pb2.Job:
    """The REST document as ``transmute.gateway.v1.Job``: one mapping for both APIs."""
    view = job_view(job)
    view["status"] = f"JOB_STATUS_{job.status.value.upper()}"
    return json_format.ParseDict(view, gateway_pb2.Job(), ignore_unknown_fields=True)


_SAFE_MESSAGES = {
    "object_store_unavailable": "the object store is unavailable; try again later",
    "job_store_unavailable": "the job store is unavailable; try again later",
    "bus_unavailable": "the message bus is unavailable; try again later",
    "converters_unavailable": "no converter service is reachable; try again later",
}


def public_error(err: TransmuteError) -> TransmuteError:
    """What a client is told of a server-side failure: its code and a fixed message.
    The original (addresses, driver errors) goes to the log only."""
    if err.status < 500:
        return err
    log.warning("server_error", code=err.code, error=err.message)
    message = _SAFE_MESSAGES.get(
        err.code, "a service Transmute depends on is unavailable; try again later"
    )
    safe = TransmuteError(message, code=err.code, details=err.details).with_status(err.status)
    safe.retryable = err.retryable
    return safe


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}
