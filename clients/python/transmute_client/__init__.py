"""Python SDK of the Transmute API: upload, convert, follow progress, download.

from transmute_client import Client
with Client("http://127.0.0.1:8080", api_key=None) as tm:
    job = tm.convert("photo.jpg", "webp", options={"width": 800})
    job = tm.wait(job.id, on_event=print)
    tm.download(job, job.outputs[0].name, "out/")
"""

from transmute_client.aio import AsyncClient
from transmute_client.client import Client
from transmute_client.errors import (
    ApiError,
    AuthenticationError,
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    UnavailableError,
)
from transmute_client.models import Job, Output, UploadedFile

__all__ = [
    "ApiError",
    "AsyncClient",
    "AuthenticationError",
    "Client",
    "ConflictError",
    "InvalidRequestError",
    "Job",
    "NotFoundError",
    "Output",
    "PermissionDeniedError",
    "RateLimitError",
    "UnavailableError",
    "UploadedFile",
]
