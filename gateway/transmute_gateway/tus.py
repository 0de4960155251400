"""tus 1.0 resumable uploads (https://tus.io/protocols/resumable-upload) at /v1/uploads:
the core protocol and the creation, creation-with-upload, termination and expiration
extensions. A finished upload is a file like any other: its id (the last part of its
URL) goes in ``inputs`` of ``POST /v1/jobs``. State and storage: resumable.py.

The routes are not in the OpenAPI document: tus is a protocol of headers that tus
clients speak; docs/api.md describes it."""

from __future__ import annotations

import base64
import binascii
from email.utils import format_datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from transmute_common.errors import InvalidArgument, TransmuteError, UnsupportedMediaType
from transmute_gateway.rest import Reader, Submitter
from transmute_gateway.resumable import Resumable, ResumableUploads

VERSION = "1.0.0"
EXTENSIONS = "creation,creation-with-upload,termination,expiration"
OFFSET_TYPE = "application/offset+octet-stream"
# For CORS: what tus clients send, and what they must be able to read.
REQUEST = ["tus-resumable", "upload-length", "upload-offset", "upload-metadata"]
RESPONSE = [
    "tus-resumable",
    "tus-version",
    "tus-extension",
    "tus-max-size",
    "upload-offset",
    "upload-length",
    "upload-expires",
]

router = APIRouter(prefix="/v1/uploads", include_in_schema=False)


def uploads(request: Request) -> ResumableUploads:
    resumable: ResumableUploads = request.app.state.resumable
    return resumable


Uploads = Annotated[ResumableUploads, Depends(uploads)]


def tus_version(request: Request) -> None:
    """Every request but OPTIONS names the protocol version it speaks."""
    if request.headers.get("tus-resumable") != VERSION:
        raise TransmuteError(
            f"send Tus-Resumable: {VERSION} (the only version served)",
            code="tus_version_unsupported",
        ).with_status(412)


Tus = Depends(tus_version)


def _number(request: Request, name: str) -> int:
    raw = request.headers.get(name, "")
    if not raw.isdigit() or len(raw) > 19:
        raise InvalidArgument(f"{name} must be a non-negative integer", code="invalid_header")
    return int(raw)


def _filename(metadata: str) -> str:
    """The ``filename`` (or ``name``) pair of Upload-Metadata: key, space, base64."""
    for pair in metadata.split(","):
        key, _, value = pair.strip().partition(" ")
        if key in ("filename", "name") and value:
            try:
                return base64.b64decode(value, validate=True).decode("utf-8", "replace")
            except (binascii.Error, ValueError):
                raise InvalidArgument(
                    "Upload-Metadata values must be base64", code="invalid_header"
                ) from None
    return ""


def _headers(upload: Resumable, **extra: str) -> dict[str, str]:
    return {
        "Tus-Resumable": VERSION,
        "Upload-Offset": str(upload.offset),
        "Upload-Expires": format_datetime(upload.expires, usegmt=True),
        "Cache-Control": "no-store",
        **extra,
    }


def _body(request: Request) -> Any:
    if request.headers.get("content-type", "").split(";")[0].strip() != OFFSET_TYPE:
        raise UnsupportedMediaType(
            f"a PATCH body is sent as {OFFSET_TYPE}", code="unsupported_content_type"
        )
    return request.stream()


@router.options("")
@router.options("/{upload_id}")
async def discover(request: Request) -> Response:
    limit = request.app.state.gateway.settings.max_upload_bytes
    return Response(
        status_code=204,
        headers={
            "Tus-Resumable": VERSION,
            "Tus-Version": VERSION,
            "Tus-Extension": EXTENSIONS,
            "Tus-Max-Size": str(limit),
        },
    )


@router.post("", dependencies=[Tus])
async def create(request: Request, who: Submitter, store: Uploads) -> Response:
    if "upload-defer-length" in request.headers:
        raise InvalidArgument("Upload-Defer-Length is not supported", code="invalid_header")
    length = _number(request, "upload-length")
    filename = _filename(request.headers.get("upload-metadata", ""))
    has_body = request.headers.get("content-type") or request.headers.get("content-length")
    body = _body(request) if has_body and request.headers.get("content-length") != "0" else None
    upload = await store.create(who, length, filename)
    location = f"/v1/uploads/{upload.id}"
    if body is not None:  # creation-with-upload
        upload, _ = await store.append(who, upload.id, 0, body)
    return Response(status_code=201, headers=_headers(upload, Location=location))


@router.head("/{upload_id}", dependencies=[Tus])
async def offset(upload_id: str, who: Reader, store: Uploads) -> Response:
    upload = await store.settled(who.tenant, upload_id)
    return Response(
        status_code=200, headers=_headers(upload, **{"Upload-Length": str(upload.length)})
    )


@router.patch("/{upload_id}", dependencies=[Tus])
async def append(upload_id: str, request: Request, who: Submitter, store: Uploads) -> Response:
    at = _number(request, "upload-offset")
    upload, _ = await store.append(who, upload_id, at, _body(request))
    return Response(status_code=204, headers=_headers(upload))


@router.delete("/{upload_id}", dependencies=[Tus])
async def terminate(upload_id: str, who: Submitter, store: Uploads) -> Response:
    await store.terminate(who, upload_id)
    return Response(status_code=204, headers={"Tus-Resumable": VERSION})


@router.get("/{upload_id}")
async def file_of(upload_id: str, who: Reader, store: Uploads) -> JSONResponse:
    """Not part of tus: the file a finished upload became (as POST /v1/files answers)."""
    upload = await store.get(who.tenant, upload_id)
    if upload.file is None:
        raise TransmuteError(
            f"the upload has {upload.offset} of {upload.length} bytes",
            code="upload_incomplete",
            details={"offset": upload.offset, "length": upload.length},
        ).with_status(409)
    return JSONResponse(upload.file, headers={"Tus-Resumable": VERSION})
