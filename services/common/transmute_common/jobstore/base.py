"""The job-store interface. Stores persist jobs; the jobs service owns the transitions."""

from __future__ import annotations

import base64
import json
from abc import ABC, abstractmethod
from collections.abc import Callable
from datetime import datetime

from transmute_common.errors import Conflict, InvalidArgument
from transmute_common.jobs import Job
from transmute_common.jobstore.access import AccessStore

MAX_PAGE_SIZE = 500
DEFAULT_PAGE_SIZE = 50
MAX_CAS_ATTEMPTS = 50


class JobStore(AccessStore, ABC):
    @abstractmethod
    async def start(self) -> None:
        """Connects and creates tables or indexes; safe to call on every start."""

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    async def ping(self) -> None:
        """Raises when the store cannot be reached."""

    @abstractmethod
    async def create(self, job: Job) -> tuple[Job, bool]:
        """Inserts ``job``; if a job with its id exists (a retried request with the same
        idempotency key, see ``job_id_for``), returns that job and False instead."""

    @abstractmethod
    async def get(self, tenant: str, job_id: str) -> Job:
        """Raises NotFound when the job does not exist for this tenant."""

    @abstractmethod
    async def list_jobs(
        self, tenant: str, page_size: int, page_token: str
    ) -> tuple[list[Job], str]:
        """Newest first; returns the page and the token of the next one ('' at the end)."""

    @abstractmethod
    async def replace(self, job: Job, expected_version: int) -> bool:
        """Writes ``job`` only if the stored version is still ``expected_version``."""

    async def update(
        self, tenant: str, job_id: str, step: Callable[[Job], Job]
    ) -> tuple[Job, bool]:
        """Applies ``step`` to the stored job with compare-and-set, retrying when another
        writer won. Returns the job and whether it changed."""
        for _ in range(MAX_CAS_ATTEMPTS):
            current = await self.get(tenant, job_id)
            updated = step(current)
            if updated is current:
                return current, False
            if await self.replace(updated, current.version):
                return updated, True
        raise Conflict(f"job {job_id} is being updated too often", code="contention")

    @abstractmethod
    async def stale_live_jobs(self, before: datetime, limit: int = 500) -> list[Job]:
        """Queued or running jobs unchanged since ``before``, oldest first."""

    @abstractmethod
    async def upload_in_use(self, tenant: str, key: str) -> bool:
        """Whether a queued or running job of ``tenant`` reads the upload at ``key``."""

    @abstractmethod
    async def find_cached(self, tenant: str, cache_key: str, kept_until: datetime) -> Job | None:
        """The newest succeeded job of ``tenant`` with ``cache_key`` whose outputs are
        kept past ``kept_until``, if any."""

    @abstractmethod
    async def take_expired(self, now: datetime, limit: int = 100) -> list[Job]:
        """Removes and returns jobs whose expiry time has passed."""


def clamp_page_size(page_size: int) -> int:
    if page_size < 0:
        raise InvalidArgument("page_size must not be negative")
    return min(page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)


def encode_page_token(job: Job) -> str:
    raw = json.dumps([job.created_at.isoformat(), job.id]).encode()
    return base64.urlsafe_b64encode(raw).decode()


def decode_page_token(token: str) -> tuple[datetime, str] | None:
    if not token:
        return None
    try:
        created, job_id = json.loads(base64.urlsafe_b64decode(token.encode()))
        return datetime.fromisoformat(created), str(job_id)
    except (ValueError, TypeError) as exc:
        raise InvalidArgument("malformed page_token", code="invalid_page_token") from exc


def open_job_store(url: str, write_concern: str = "majority") -> JobStore:
    """Picks the implementation from the URL scheme."""
    if url.startswith("sqlite://"):
        from transmute_common.jobstore.sqlite import SqliteJobStore

        return SqliteJobStore(url.removeprefix("sqlite://"))
    if url.startswith(("mongodb://", "mongodb+srv://")):
        from transmute_common.jobstore.mongo import MongoJobStore

        return MongoJobStore(url, write_concern=write_concern)
    raise ValueError(f"unsupported job store URL: {url!r} (use sqlite:/// or mongodb://)")
