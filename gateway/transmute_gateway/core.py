"""The gateway's operations, shared by the REST and gRPC front ends:
validate -> store -> create job -> publish."""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import PurePath
from typing import Any

from transmute_common.bus import Bus
from transmute_common.converter import Capabilities
from transmute_common.errors import (
    InvalidArgument,
    NotFound,
    TransmuteError,
    Unavailable,
    check_job_id,
    shown,
)
from transmute_common.expiry import mark_upload
from transmute_common.formats import format_of
from transmute_common.jobs import FileRef, Job, JobError, new_id, utcnow
from transmute_common.jobs_client import JobsClient
from transmute_common.objectstore import ObjectInfo, ObjectStore
from transmute_common.tracing import current_trace_id
from transmute_common.webhooks import check_target, networks
from transmute_gateway import metrics
from transmute_gateway.catalog import Catalog, validate_options
from transmute_gateway.config import GatewaySettings
from transmute_gateway.identity import Principal
from transmute_gateway.limits import check_options_shape
from transmute_gateway.quotas import Quotas
from transmute_gateway.ratelimit import RateLimiter
from transmute_gateway.sniff import SNIFF_BYTES, sniff
from transmute_gateway.streams import limited, peek

FILE_ID = re.compile(r"^[0-9a-f]{32}$")
IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")


@dataclass(frozen=True)
class UploadedFile:
    id: str
    name: str
    size: int
    sha256: str
    content_type: str
    format: str

    def ref(self, tenant: str) -> FileRef:
        return FileRef(
            key=upload_key(tenant, self.id),
            name=self.name,
            size=self.size,
            sha256=self.sha256,
            content_type=self.content_type,
        )


def upload_key(tenant: str, file_id: str) -> str:
    return f"tenants/{tenant}/uploads/{file_id}"


def result_key(
    service: Capabilities,
    operation: str,
    target: str,
    files: list[UploadedFile],
    options: dict[str, Any],
) -> str:
    """What makes a result the same: the input bytes, the request (options as checked and
    normalised, in a canonical order) and the engine's version. Empty where the service
    does not state its version: then nothing is reused."""
    if not service.engine_version:
        return ""
    request: list[Any] = [service.service, service.engine_version, operation, target]
    request += [[f.sha256 for f in files], options]
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def clean_filename(name: str | None) -> str:
    base = PurePath((name or "").replace("\\", "/")).name
    return "".join(ch for ch in base if ch.isprintable())[:255] or "upload"


class Gateway:
    def __init__(
        self,
        settings: GatewaySettings,
        store: ObjectStore,
        jobs: JobsClient,
        bus: Bus,
        catalog: Catalog,
    ):
        self.quotas = Quotas(settings, jobs.access)
        self.settings = settings
        self.store = store
        self.jobs = jobs
        self.bus = bus
        self.catalog = catalog
        self.limiter = RateLimiter(settings.submit_rate_per_minute, settings.submit_burst)
        self.webhook_networks = networks(settings.webhook_allowed_networks)

    # --- files --------------------------------------------------------------------------

    async def upload(
        self, who: Principal, filename: str | None, chunks: AsyncIterable[bytes]
    ) -> UploadedFile:
        """Streams a file into the store, enforcing the size limits (the gateway's and the
        tenant's) as bytes arrive."""
        tenant = who.tenant
        limit = await self.quotas.upload_limit(who, self.settings.max_upload_bytes)
        head, stream = await peek(aiter(chunks), SNIFF_BYTES)
        if not head:
            raise InvalidArgument("the file is empty", code="empty_file")
        media_type = sniff(head)
        file_id = new_id()
        key = upload_key(tenant, file_id)
        info = await self.store.put(key, limited(stream, limit), media_type)
        try:
            await self.quotas.count_upload(who, info.size)
        except BaseException:
            await self.store.delete_prefix(key)
            raise
        return await self.register(who, file_id, filename, info, media_type)

    async def register(
        self, who: Principal, file_id: str, filename: str | None, info: ObjectInfo, media_type: str
    ) -> UploadedFile:
        """Makes a stored object a file jobs can name: its record, and its expiry."""
        key = upload_key(who.tenant, file_id)
        fmt = format_of(media_type)
        uploaded = UploadedFile(
            file_id,
            clean_filename(filename),
            info.size,
            info.sha256,
            media_type,
            fmt.name if fmt else "unknown",
        )
        try:
            await self.store.put_json(key + ".json", asdict(uploaded))
            keep = await self.quotas.retention(who, self.settings.result_ttl_seconds)
            expires = utcnow() + timedelta(seconds=keep)
            await mark_upload(self.store, who.tenant, file_id, expires)
        except BaseException:
            await self.store.delete_prefix(key)
            raise
        metrics.UPLOAD_BYTES.add(info.size)
        return uploaded

    async def file(self, tenant: str, file_id: str) -> UploadedFile:
        if not FILE_ID.match(file_id):
            raise NotFound(f"file {shown(file_id)} not found", code="file_not_found")
        try:
            record = await self.store.get_json(upload_key(tenant, file_id) + ".json")
        except NotFound:
            raise NotFound(f"file {shown(file_id)} not found", code="file_not_found") from None
        return UploadedFile(**record)

    async def discard(self, tenant: str, file_id: str) -> None:
        with contextlib.suppress(TransmuteError):
            await self.store.delete_prefix(upload_key(tenant, file_id))

    # --- jobs ---------------------------------------------------------------------------

    async def files(self, tenant: str, file_ids: list[str]) -> list[UploadedFile]:
        """The uploaded files a job names, checked to exist for this tenant."""
        if not file_ids:
            raise InvalidArgument(
                "inputs must name at least one uploaded file", code="missing_inputs"
            )
        if len(file_ids) > self.settings.max_inputs:
            raise InvalidArgument(
                f"at most {self.settings.max_inputs} inputs per job", code="too_many_inputs"
            )
        return [await self.file(tenant, fid) for fid in file_ids]

    async def submit(
        self,
        who: Principal,
        files: list[UploadedFile],
        target: str,
        options: Any,
        idempotency_key: str = "",
        operation: str = "",
        cache: bool = True,
        webhook_url: str = "",
    ) -> Job:
        if idempotency_key and not IDEMPOTENCY_KEY.match(idempotency_key):
            raise InvalidArgument(
                "Idempotency-Key must be 1-200 visible ASCII characters",
                code="invalid_idempotency_key",
            )
        tenant = who.tenant
        self.limiter.take(tenant)
        target = (target or "").strip().lower()
        operation = (operation or "convert").strip().lower()
        service, _ = await self.catalog.route(
            operation, [None if f.format == "unknown" else f.format for f in files], target
        )
        await self.quotas.admit_submission(who, operation, target)
        options = options if options is not None else {}
        check_options_shape(options)
        options = validate_options(options, service.options, operation)
        key = result_key(service, operation, target, files, options) if cache else ""
        webhook_url = webhook_url.strip() or await self.quotas.default_webhook(who)
        if webhook_url:
            await check_target(webhook_url, self.webhook_networks)
        job, _ = await self.jobs.create(
            tenant=tenant,
            service=service.service,
            operation=operation,
            inputs=[f.ref(tenant) for f in files],
            target=target,
            options=options,
            idempotency_key=idempotency_key,
            trace_id=current_trace_id(),
            ttl_seconds=await self.quotas.retention(who, 0),
            cache_key=key,
            webhook_url=webhook_url,
        )
        if job.status.terminal:
            return job
        try:
            # Safe on retries: JetStream drops a second publish with the same job id.
            await self.bus.publish_conversion(job)
        except Unavailable as exc:
            if idempotency_key:
                # The job stays queued: the same request with the same key publishes it
                # again (JetStream keeps one copy per job id), instead of meeting a job
                # failed for good by a passing outage.
                raise
            with contextlib.suppress(TransmuteError):
                await self.jobs.fail(tenant, job.id, JobError(code=exc.code, message=exc.message))
            raise
        return job

    async def get(self, tenant: str, job_id: str) -> Job:
        return await self.jobs.get(tenant, check_job_id(job_id))

    async def list_jobs(
        self, tenant: str, page_size: int, page_token: str
    ) -> tuple[list[Job], str]:
        return await self.jobs.list_jobs(tenant, page_size, page_token)

    def watch(self, tenant: str, job_id: str) -> AsyncIterator[Job]:
        return self.jobs.watch(tenant, check_job_id(job_id))

    async def cancel(self, tenant: str, job_id: str) -> Job:
        return await self.jobs.cancel(tenant, check_job_id(job_id))

    async def output(self, tenant: str, job_id: str, name: str) -> FileRef:
        job = await self.get(tenant, job_id)
        for out in job.outputs:
            if out.name == name:
                return out
        raise NotFound(f"job {job_id} has no output named {shown(name)}", code="output_not_found")
