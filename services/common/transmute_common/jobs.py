"""The job model and its state machine. Only the jobs service applies transitions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum
from hashlib import sha256
from typing import Any
from uuid import uuid4

from google.protobuf import json_format, struct_pb2, timestamp_pb2
from pydantic import BaseModel, Field, model_validator

from transmute.jobs.v1 import jobs_pb2
from transmute_common.errors import Conflict


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)


LIVE_STATUSES = (JobStatus.QUEUED, JobStatus.RUNNING)


class FileRef(BaseModel):
    key: str
    name: str
    size: int = 0
    sha256: str = ""
    content_type: str = ""
    details: dict[str, Any] = {}


class Progress(BaseModel):
    percent: float = 0.0
    phase: str = "queued"
    message: str = ""
    rate: float | None = None  # e.g. 12.5: media converted at 12.5x realtime
    eta_seconds: float | None = None


class JobError(BaseModel):
    code: str
    message: str
    details: dict[str, Any] = {}

    def to_pb(self) -> jobs_pb2.JobError:
        return jobs_pb2.JobError(
            code=self.code, message=self.message, details=struct_from_dict(self.details)
        )

    @classmethod
    def from_pb(cls, pb: jobs_pb2.JobError) -> JobError:
        return cls(code=pb.code, message=pb.message, details=dict_from_struct(pb.details))


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return uuid4().hex


def job_id_for(tenant: str, idempotency_key: str | None) -> str:
    """A fresh id, or with an idempotency key the same id every time: a retried
    request then collides with the first one on the primary key, in every store."""
    if not idempotency_key:
        return new_id()
    return sha256(f"{tenant}\0{idempotency_key}".encode()).hexdigest()[:32]


class WebhookAttempt(BaseModel):
    at: datetime
    status_code: int = 0  # the receiver's HTTP status; 0 when none came
    error: str = ""  # why it did not count as delivered
    duration_ms: float = 0.0


class Webhook(BaseModel):
    state: str = "pending"  # pending, delivered, failed (gave up)
    attempts: list[WebhookAttempt] = []
    delivered_at: datetime | None = None


MAX_WEBHOOK_ATTEMPTS_KEPT = 100


class Job(BaseModel):
    id: str = Field(default_factory=new_id)
    tenant: str
    service: str
    operation: str = "convert"
    inputs: list[FileRef] = []
    target: str = ""
    options: dict[str, Any] = {}
    status: JobStatus = JobStatus.QUEUED
    progress: Progress = Progress()
    outputs: list[FileRef] = []
    error: JobError | None = None
    attempts: int = 0
    created_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    expires_at: datetime | None = None
    # The last change of any kind (the reconciler looks for jobs left alone too long).
    updated_at: datetime | None = None
    trace_id: str = ""
    version: int = 1
    idempotency_key: str | None = None
    cache_key: str | None = None
    cached: bool = False
    webhook_url: str = ""
    webhook: Webhook | None = None

    @model_validator(mode="after")
    def _updated_since_creation(self) -> Job:
        if self.updated_at is None:
            self.updated_at = self.created_at
        return self

    @property
    def last_change(self) -> datetime:
        return self.updated_at or self.created_at

    def with_ttl(self, seconds: int) -> Job:
        return self.model_copy(update={"expires_at": self.created_at + timedelta(seconds=seconds)})


# --- transitions: pure functions returning the next version of a job ---------------


def _next(job: Job, **changes: Any) -> Job:
    return job.model_copy(update={**changes, "version": job.version + 1, "updated_at": utcnow()})


def _refuse_if_terminal(job: Job, action: str) -> None:
    if job.status.terminal:
        raise Conflict(
            f"cannot {action}: job {job.id} is already {job.status.value}", code="job_finished"
        )


def report_progress(job: Job, attempt: int, progress: Progress) -> Job:
    """Moves a queued job to running; the percentage never goes backwards."""
    _refuse_if_terminal(job, "report progress")
    percent = min(100.0, max(job.progress.percent, progress.percent))
    changes: dict[str, Any] = {
        "progress": progress.model_copy(update={"percent": percent}),
        "attempts": max(job.attempts, attempt),
    }
    if job.status is JobStatus.QUEUED:
        changes.update(status=JobStatus.RUNNING, started_at=utcnow())
    return _next(job, **changes)


def complete(job: Job, outputs: list[FileRef]) -> Job:
    if job.status is JobStatus.SUCCEEDED:
        return job  # a repeated Complete after a lost reply
    _refuse_if_terminal(job, "complete")
    return _next(
        job,
        status=JobStatus.SUCCEEDED,
        outputs=outputs,
        progress=Progress(percent=100.0, phase="done", message=""),
        finished_at=utcnow(),
        started_at=job.started_at or utcnow(),
    )


def _stem(name: str) -> str:
    return name.rsplit(".", 1)[0] if "." in name.lstrip(".") else name


def from_cache(job: Job, earlier: Job) -> Job:
    """A new job completed at once with an identical earlier job's outputs (the same
    stored objects); it is kept as long as they are. Outputs named after the earlier
    job's input are named after this job's (photo.webp, not the other file's name)."""
    now = utcnow()
    outputs = earlier.outputs
    if job.inputs and earlier.inputs:
        old, new = _stem(earlier.inputs[0].name), _stem(job.inputs[0].name)
        if old and new and old != new:
            outputs = [
                f.model_copy(update={"name": new + f.name[len(old) :]})
                if f.name.startswith(old)
                else f
                for f in outputs
            ]
    return job.model_copy(
        update={
            "status": JobStatus.SUCCEEDED,
            "outputs": outputs,
            "progress": Progress(percent=100.0, phase="done", message="from cache"),
            "started_at": now,
            "finished_at": now,
            "expires_at": earlier.expires_at,
            "cached": True,
        }
    )


def webhook_attempt(job: Job, attempt: WebhookAttempt, state: str) -> Job:
    """Records one delivery attempt of a finished job's webhook (the newest are kept)."""
    current = job.webhook or Webhook()
    attempts = [*current.attempts, attempt][-MAX_WEBHOOK_ATTEMPTS_KEPT:]
    delivered = attempt.at if state == "delivered" else current.delivered_at
    webhook = Webhook(state=state, attempts=attempts, delivered_at=delivered)
    return _next(job, webhook=webhook)


def fail(job: Job, error: JobError) -> Job:
    if job.status is JobStatus.FAILED:
        return job
    _refuse_if_terminal(job, "fail")
    return _next(
        job,
        status=JobStatus.FAILED,
        error=error,
        progress=job.progress.model_copy(update={"phase": "failed", "message": error.message}),
        finished_at=utcnow(),
    )


def cancel(job: Job) -> Job:
    if job.status is JobStatus.CANCELLED:
        return job
    _refuse_if_terminal(job, "cancel")
    return _next(
        job,
        status=JobStatus.CANCELLED,
        progress=job.progress.model_copy(update={"phase": "cancelled"}),
        finished_at=utcnow(),
    )


# --- protobuf mapping ---------------------------------------------------------------

_STATUS_TO_PB = {
    JobStatus.QUEUED: jobs_pb2.JOB_STATUS_QUEUED,
    JobStatus.RUNNING: jobs_pb2.JOB_STATUS_RUNNING,
    JobStatus.SUCCEEDED: jobs_pb2.JOB_STATUS_SUCCEEDED,
    JobStatus.FAILED: jobs_pb2.JOB_STATUS_FAILED,
    JobStatus.CANCELLED: jobs_pb2.JOB_STATUS_CANCELLED,
}
_PB_TO_STATUS = {v: k for k, v in _STATUS_TO_PB.items()}


def status_from_pb(value: int) -> JobStatus:
    return _PB_TO_STATUS[value]  # type: ignore[index]


def timestamp_pb(value: datetime | None) -> timestamp_pb2.Timestamp | None:
    if value is None:
        return None
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(value)
    return ts


def timestamp_from_pb(ts: timestamp_pb2.Timestamp, present: bool) -> datetime | None:
    return ts.ToDatetime(tzinfo=UTC) if present else None


def struct_from_dict(values: dict[str, Any]) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    s.update(values)
    return s


def _ints_back(value: Any) -> Any:
    # protobuf Struct stores every number as a double; whole numbers come back as ints.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _ints_back(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_ints_back(v) for v in value]
    return value


def dict_from_struct(s: struct_pb2.Struct) -> dict[str, Any]:
    result: dict[str, Any] = _ints_back(json_format.MessageToDict(s))
    return result


def file_to_pb(f: FileRef) -> jobs_pb2.FileRef:
    return jobs_pb2.FileRef(
        **f.model_dump(exclude={"details"}), details=struct_from_dict(f.details)
    )


def file_from_pb(f: jobs_pb2.FileRef) -> FileRef:
    return FileRef(
        key=f.key,
        name=f.name,
        size=f.size,
        sha256=f.sha256,
        content_type=f.content_type,
        details=dict_from_struct(f.details),
    )


def progress_to_pb(p: Progress) -> jobs_pb2.Progress:
    return jobs_pb2.Progress(**p.model_dump(exclude_none=True))


def progress_from_pb(p: jobs_pb2.Progress) -> Progress:
    return Progress(
        percent=p.percent,
        phase=p.phase,
        message=p.message,
        rate=p.rate if p.HasField("rate") else None,
        eta_seconds=p.eta_seconds if p.HasField("eta_seconds") else None,
    )


def job_to_pb(job: Job) -> jobs_pb2.Job:
    return jobs_pb2.Job(
        id=job.id,
        tenant=job.tenant,
        service=job.service,
        operation=job.operation,
        inputs=[file_to_pb(f) for f in job.inputs],
        target=job.target,
        options=struct_from_dict(job.options),
        status=_STATUS_TO_PB[job.status],
        progress=progress_to_pb(job.progress),
        outputs=[file_to_pb(f) for f in job.outputs],
        error=job.error.to_pb() if job.error else None,
        attempts=job.attempts,
        created_at=timestamp_pb(job.created_at),
        started_at=timestamp_pb(job.started_at),
        finished_at=timestamp_pb(job.finished_at),
        expires_at=timestamp_pb(job.expires_at),
        updated_at=timestamp_pb(job.updated_at),
        trace_id=job.trace_id,
        version=job.version,
        idempotency_key=job.idempotency_key or "",
        cache_key=job.cache_key or "",
        cached=job.cached,
        webhook_url=job.webhook_url,
        webhook=(
            json_format.ParseDict(job.webhook.model_dump(mode="json"), jobs_pb2.Webhook())
            if job.webhook
            else None
        ),
    )


def job_from_pb(pb: jobs_pb2.Job) -> Job:
    return Job(
        id=pb.id,
        tenant=pb.tenant,
        service=pb.service,
        operation=pb.operation,
        inputs=[file_from_pb(f) for f in pb.inputs],
        target=pb.target,
        options=dict_from_struct(pb.options),
        status=status_from_pb(pb.status),
        progress=progress_from_pb(pb.progress),
        outputs=[file_from_pb(f) for f in pb.outputs],
        error=JobError.from_pb(pb.error) if pb.HasField("error") else None,
        attempts=pb.attempts,
        created_at=timestamp_from_pb(pb.created_at, pb.HasField("created_at")) or utcnow(),
        started_at=timestamp_from_pb(pb.started_at, pb.HasField("started_at")),
        finished_at=timestamp_from_pb(pb.finished_at, pb.HasField("finished_at")),
        expires_at=timestamp_from_pb(pb.expires_at, pb.HasField("expires_at")),
        updated_at=timestamp_from_pb(pb.updated_at, pb.HasField("updated_at")),
        trace_id=pb.trace_id,
        version=pb.version,
        idempotency_key=pb.idempotency_key or None,
        cache_key=pb.cache_key or None,
        cached=pb.cached,
        webhook_url=pb.webhook_url,
        webhook=(
            Webhook.model_validate(
                json_format.MessageToDict(pb.webhook, preserving_proto_field_name=True)
            )
            if pb.HasField("webhook")
            else None
        ),
    )


# Passwords given as options (e.g. a PDF's) are never shown back.
REDACTED = "********"


def job_to_json(job: Job) -> dict[str, Any]:
    """The public JSON shape of a job (REST API, SSE events, the public gRPC message)."""
    data = job.model_dump(mode="json", exclude={"idempotency_key", "cache_key"})
    data["options"] = {
        k: REDACTED if k.endswith("password") else v for k, v in data["options"].items()
    }
    data["outputs"] = [{k: v for k, v in f.items() if k != "key"} for f in data["outputs"]]
    data["inputs"] = [{k: v for k, v in f.items() if k != "key"} for f in data["inputs"]]
    return data


def public_job(job: Job) -> dict[str, Any]:
    """The job document of the REST API, SSE and webhooks: the public shape with file
    ids, download paths and links."""
    data = job_to_json(job)
    for public, ref in zip(data["inputs"], job.inputs, strict=True):
        public["file_id"] = ref.key.rsplit("/", 1)[-1]
    for out in data["outputs"]:
        out["url"] = f"/v1/jobs/{job.id}/outputs/{out['name']}"
    data["links"] = {"self": f"/v1/jobs/{job.id}", "events": f"/v1/jobs/{job.id}/events"}
    return data
