"""The REST API (FastAPI)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.routing import Match, Route

from transmute_common.errors import InvalidArgument, TransmuteError, shown
from transmute_common.jobs import FileRef, Job
from transmute_common.logging import get_logger
from transmute_gateway import metrics, multipart
from transmute_gateway.authn import Authenticator
from transmute_gateway.core import Gateway, UploadedFile
from transmute_gateway.identity import Principal
from transmute_gateway.views import error_body, job_view, public_error

log = get_logger(__name__)
SSE_KEEPALIVE_SECONDS = 15.0


class JobRequest(BaseModel):
    inputs: list[str] = Field(min_length=1, description="ids of uploaded files")
    target: str = Field(min_length=1, max_length=32, description="target format, e.g. webp")
    options: dict[str, Any] = Field(default_factory=dict)
    operation: str = Field(
        default="convert",
        min_length=1,
        max_length=32,
        description="convert, or another operation a service offers (e.g. preview for audio)",
    )
    cache: bool = Field(
        default=True,
        description="false: convert again even when an identical job's result is kept",
    )
    webhook_url: str = Field(
        default="",
        max_length=2048,
        description="a public http(s) URL that receives the job's final state, signed "
        "(Standard Webhooks); empty: the tenant's default, if any",
    )


class ErrorDetail(BaseModel):
    code: str = Field(description="machine-readable, e.g. job_not_found")
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


class ErrorBody(BaseModel):
    error: ErrorDetail


_MEANING = {
    400: "Malformed request (see the error code)",
    401: "No credentials, or ones that do not hold (authentication on)",
    403: "The caller's role or tenant quotas do not allow this",
    404: "No such job, file or output",
    409: "The job has already finished",
    413: "The file or body is over its size limit",
    415: "The file's type is not one any converter reads",
    422: "Well-formed, but not something the converters can do",
    429: "Too many submissions: retry after Retry-After seconds",
    503: "A dependency (store, bus, converters) is unavailable: retry later",
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error statuses an operation can answer, with the one
    error body every error uses."""
    return {s: {"model": ErrorBody, "description": _MEANING[s]} for s in (*statuses, 503)}


BINARY = {"type": "string", "format": "binary"}
UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/octet-stream": {"schema": BINARY},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": BINARY},
                }
            },
        },
    }
}
CONVERT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file", "target"],
                    "properties": {
                        "file": BINARY,
                        "target": {"type": "string", "description": "target format"},
                        "options": {"type": "string", "description": "options as JSON"},
                        "operation": {
                            "type": "string",
                            "description": "convert (default) or e.g. preview",
                        },
                        "cache": {
                            "type": "string",
                            "enum": ["true", "false"],
                            "description": "false: convert again even when an identical "
                            "job's result is kept",
                        },
                        "webhook_url": {
                            "type": "string",
                            "maxLength": 2048,
                            "description": "receives the job's final state, signed",
                        },
                    },
                }
            }
        },
    }
}


def gateway(request: Request) -> Gateway:
    gw: Gateway = request.app.state.gateway
    return gw


def requires(action: str) -> Callable[[Request], Awaitable[Principal]]:
    """The dependency deciding who calls (the Authorization header) and that their role
    may do ``action``; every route names one."""

    async def caller(request: Request) -> Principal:
        auth: Authenticator = request.app.state.auth
        who = await auth.resolve(request.headers.get("authorization"), "rest")
        return who.allow(action)

    return caller


Gw = Annotated[Gateway, Depends(gateway)]
Reader = Annotated[Principal, Depends(requires("read"))]
Submitter = Annotated[Principal, Depends(requires("submit"))]
Canceller = Annotated[Principal, Depends(requires("cancel"))]
router = APIRouter(prefix="/v1")


def _file_view(f: UploadedFile) -> dict[str, Any]:
    return asdict(f)


async def _text_field(events: AsyncIterator[multipart.Event], name: str, limit: int) -> str:
    data = bytearray()
    async for chunk in multipart.part_data(events):
        data += chunk
        if len(data) > limit:
            raise InvalidArgument(
                f"field {name!r} is longer than {limit} bytes", code="field_too_long"
            )
    return data.decode("utf-8", "replace")


async def _body(request: Request) -> AsyncIterator[bytes]:
    """The request body as it arrives, counted (a client may hang up mid-upload)."""
    request.state.received = 0
    async for chunk in request.stream():
        request.state.received += len(chunk)
        yield chunk


async def _read_form(
    request: Request, gw: Gateway, who: Principal
) -> tuple[UploadedFile, dict[str, str]]:
    """Streams a multipart body: the part named `file` into the store, the other (small)
    fields into memory. On any error the upload is removed again."""
    events = multipart.events(_body(request), request.headers.get("content-type", ""))
    uploaded: UploadedFile | None = None
    fields: dict[str, str] = {}
    try:
        async for event in events:
            if not isinstance(event, multipart.PartStart):
                continue
            if event.name == "file":
                if uploaded is not None:
                    raise InvalidArgument(
                        "send exactly one field named 'file'", code="too_many_files"
                    )
                uploaded = await gw.upload(who, event.filename, multipart.part_data(events))
            elif event.name in fields:
                raise InvalidArgument(
                    f"field {shown(event.name)} appears more than once", code="duplicate_field"
                )
            else:
                fields[event.name] = await _text_field(
                    events, event.name, gw.settings.max_options_bytes
                )
    except BaseException:
        if uploaded is not None:
            await gw.discard(who.tenant, uploaded.id)
        raise
    if uploaded is None:
        raise InvalidArgument("multipart body has no field named 'file'", code="missing_file")
    return uploaded, fields


@router.post(
    "/files",
    status_code=201,
    summary="Upload a file (raw body or multipart)",
    responses=errors(400, 413),
    openapi_extra=UPLOAD_BODY,
)
async def upload_file(
    request: Request,
    gw: Gw,
    who: Submitter,
    filename: Annotated[str | None, Query(description="name of a raw-body upload")] = None,
) -> dict[str, Any]:
    if request.headers.get("content-type", "").startswith("multipart/"):
        uploaded, _ = await _read_form(request, gw, who)
        return _file_view(uploaded)
    return _file_view(await gw.upload(who, filename, _body(request)))


@router.post(
    "/jobs",
    status_code=202,
    summary="Start a conversion of uploaded files",
    responses=errors(400, 404, 413, 415, 422, 429),
)
async def create_job(
    body: JobRequest,
    gw: Gw,
    who: Submitter,
    idempotency_key: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    files = await gw.files(who.tenant, body.inputs)
    job = await gw.submit(
        who,
        files,
        body.target,
        body.options,
        idempotency_key or "",
        body.operation,
        body.cache,
        body.webhook_url,
    )
    return job_view(job)


@router.post(
    "/convert",
    status_code=202,
    summary="Upload one file and start its conversion",
    responses=errors(400, 413, 415, 422, 429),
    openapi_extra=CONVERT_BODY,
)
async def convert(
    request: Request,
    gw: Gw,
    who: Submitter,
    idempotency_key: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    tenant = who.tenant
    uploaded, fields = await _read_form(request, gw, who)
    try:
        if not fields.get("target"):
            raise InvalidArgument("field 'target' is required", code="missing_target")
        try:
            options = json.loads(fields.get("options") or "{}")
        except (ValueError, RecursionError) as exc:
            raise InvalidArgument(
                "field 'options' is not valid JSON", code="invalid_options"
            ) from exc
        job = await gw.submit(
            who,
            [uploaded],
            fields["target"],
            options,
            idempotency_key or "",
            fields.get("operation", ""),
            fields.get("cache", "true").strip().lower() not in ("false", "0", "no"),
            fields.get("webhook_url", ""),
        )
    except BaseException:
        await gw.discard(tenant, uploaded.id)
        raise
    if uploaded.ref(tenant).key not in {ref.key for ref in job.inputs}:
        await gw.discard(tenant, uploaded.id)  # a replay: the first request's upload serves
    return job_view(job)


@router.api_route(
    "/jobs",
    methods=["GET", "HEAD"],
    summary="List jobs, newest first",
    responses=errors(400, 422),
)
async def list_jobs(
    gw: Gw,
    who: Reader,
    page_size: Annotated[int, Query(ge=1, le=500)] = 50,
    page_token: str = "",
) -> dict[str, Any]:
    jobs, token = await gw.list_jobs(who.tenant, page_size, page_token)
    return {"jobs": [job_view(j) for j in jobs], "next_page_token": token}


@router.api_route(
    "/jobs/{job_id}", methods=["GET", "HEAD"], summary="Get a job", responses=errors(404)
)
async def get_job(job_id: str, gw: Gw, who: Reader) -> dict[str, Any]:
    return job_view(await gw.get(who.tenant, job_id))


def _sse(event: str, job: Job) -> bytes:
    data = json.dumps(job_view(job), separators=(",", ":"))
    return f"event: {event}\nid: {job.version}\ndata: {data}\n\n".encode()


@router.get(
    "/jobs/{job_id}/events",
    summary="Server-sent events: 'progress' for each change, then one 'final' event",
    response_class=StreamingResponse,
    responses=errors(404),
)
async def job_events(job_id: str, gw: Gw, who: Reader) -> StreamingResponse:
    watch = gw.watch(who.tenant, job_id)
    first = await anext(watch)  # a missing job is a 404 here, before the stream starts
    queue: asyncio.Queue[Job | BaseException | None] = asyncio.Queue()

    async def pump() -> None:
        try:
            async for job in watch:
                await queue.put(job)
            await queue.put(None)
        except Exception as exc:
            await queue.put(exc)

    async def stream() -> AsyncIterator[bytes]:
        task = asyncio.create_task(pump())
        metrics.WATCHERS.add(1, {"api": "sse"})
        try:
            job: Job | BaseException | None = first
            while isinstance(job, Job):
                yield _sse("final" if job.status.terminal else "progress", job)
                if job.status.terminal:
                    return
                while True:
                    try:
                        job = await asyncio.wait_for(queue.get(), SSE_KEEPALIVE_SECONDS)
                        break
                    except TimeoutError:
                        yield b": keepalive\n\n"
            if isinstance(job, TransmuteError):
                safe = public_error(job)
                body = error_body(safe.code, safe.message)
                yield f"event: error\ndata: {json.dumps(body)}\n\n".encode()
        finally:
            metrics.WATCHERS.add(-1, {"api": "sse"})
            task.cancel()
            with contextlib.suppress(BaseException):
                await watch.aclose()  # type: ignore[attr-defined]

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.api_route(
    "/jobs/{job_id}/outputs/{name}",
    methods=["GET", "HEAD"],
    summary="Download an output (HEAD: its size and type)",
    response_class=Response,
    responses={
        200: {"content": {"application/octet-stream": {"schema": BINARY}}},
        307: {"description": "Redirect to a time-limited direct download URL"},
        **errors(404),
    },
)
async def download(job_id: str, name: str, request: Request, gw: Gw, who: Reader) -> Response:
    ref = await gw.output(who.tenant, job_id, name)
    if request.method == "GET" and request.app.state.auth.enabled:
        # A link a browser can follow without the key: presigned by MinIO, or signed
        # here (HMAC) for the directory store.
        url = await gw.store.presigned_url(ref.key, ref.name)
        if not url:
            url = request.app.state.links.url(who.tenant, job_id, name)
        return RedirectResponse(url, status_code=307)
    return await _send_output(ref, request, gw)


@router.api_route(
    "/links/{tenant}/{job_id}/{name}",
    methods=["GET", "HEAD"],
    summary="Download an output by a signed, expiring link (no credentials)",
    response_class=Response,
    responses={
        200: {"content": {"application/octet-stream": {"schema": BINARY}}},
        **errors(404),
    },
)
async def signed_download(
    tenant: str, job_id: str, name: str, expires: int, signature: str, request: Request, gw: Gw
) -> Response:
    request.app.state.links.check(tenant, job_id, name, expires, signature)
    return await _send_output(await gw.output(tenant, job_id, name), request, gw)


async def _send_output(ref: FileRef, request: Request, gw: Gateway) -> Response:
    headers = {
        "Content-Length": str(ref.size),
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(ref.name)}",
    }
    if request.method == "HEAD":
        # A presigned URL is signed for GET only: HEAD is answered here.
        await gw.store.stat(ref.key)
        return Response(media_type=ref.content_type, headers=headers)
    url = await gw.store.presigned_url(ref.key, ref.name)
    if url:
        return RedirectResponse(url, status_code=307)
    await gw.store.stat(ref.key)  # a missing object is a 404 before streaming starts
    return StreamingResponse(gw.store.read(ref.key), media_type=ref.content_type, headers=headers)


@router.delete(
    "/jobs/{job_id}",
    summary="Cancel a job (again: the same answer; once succeeded or failed: 409)",
    responses=errors(404, 409),
)
async def cancel_job(job_id: str, gw: Gw, who: Canceller) -> dict[str, Any]:
    return job_view(await gw.cancel(who.tenant, job_id))


@router.api_route(
    "/formats",
    methods=["GET", "HEAD"],
    summary="Conversions offered by the converter services",
    responses=errors(),
)
async def formats(gw: Gw) -> dict[str, Any]:
    services = await gw.catalog.services()
    return {"services": [c.model_dump() for c in services.values()]}


def install(app: FastAPI) -> None:
    app.include_router(router)

    @app.api_route("/healthz", methods=["GET", "HEAD"], include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.api_route("/readyz", methods=["GET", "HEAD"], include_in_schema=False)
    async def readyz(request: Request) -> JSONResponse:
        checks = await request.app.state.readiness()
        ready = all(v == "ok" for v in checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "checks": checks},
            status_code=200 if ready else 503,
        )

    @app.exception_handler(TransmuteError)
    async def on_error(_: Request, exc: TransmuteError) -> JSONResponse:
        exc = public_error(exc)
        metrics.rejected(exc.code, exc.status, "rest")
        headers = {}
        if "retry_after_seconds" in exc.details:
            headers["Retry-After"] = str(exc.details["retry_after_seconds"])
        if exc.status == 401:
            headers["WWW-Authenticate"] = 'Bearer realm="transmute"'
        return JSONResponse(
            error_body(exc.code, exc.message, exc.details), exc.status, headers=headers
        )

    @app.exception_handler(RequestValidationError)
    async def on_invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            metrics.rejected("invalid_json", 400, "rest")
            return JSONResponse(error_body("invalid_json", "the body is not valid JSON"), 400)
        details = {"errors": [{"loc": list(e["loc"]), "msg": e["msg"]} for e in errors]}
        metrics.rejected("invalid_request", 422, "rest")
        return JSONResponse(error_body("invalid_request", "the request is invalid", details), 422)

    def allowed_methods(request: Request) -> str:
        """Every method of every route at this path (Starlette names only the first
        route's)."""
        methods = {
            method
            for route in [*request.app.router.routes, *router.routes]
            if isinstance(route, Route) and route.matches(request.scope)[0] != Match.NONE
            for method in route.methods or ()
        }
        return ", ".join(sorted(methods))

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # FastAPI's own refusals: no route, wrong method (with Allow), an unparsable or
        # oversized body.
        code = {
            400: "invalid_json",
            404: "not_found",
            405: "method_not_allowed",
            413: "body_too_large",
        }.get(exc.status_code, "http_error")
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = allowed_methods(request)
        metrics.rejected(code, exc.status_code, "rest")
        return JSONResponse(error_body(code, str(exc.detail)), exc.status_code, headers)

    @app.exception_handler(ClientDisconnect)
    async def on_disconnect(request: Request, _: ClientDisconnect) -> Response:
        # Normal on a flaky network; whatever was stored of the upload is removed already.
        received = getattr(request.state, "received", 0)
        log.info("upload_aborted", path=request.url.path, bytes_received=received)
        return Response(status_code=400)
