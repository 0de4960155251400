"""Embedded job store on SQLite, for running without a database server."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from transmute_common.errors import NotFound, Unavailable
from transmute_common.jobs import LIVE_STATUSES, Job
from transmute_common.jobstore.base import (
    JobStore,
    clamp_page_size,
    decode_page_token,
    encode_page_token,
)
from transmute_common.jobstore.sqlite_access import ACCESS_SCHEMA, SqliteAccess

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT,
    status TEXT NOT NULL,
    version INTEGER NOT NULL,
    idempotency_key TEXT,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_tenant_created ON jobs (tenant, created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS jobs_expires ON jobs (expires_at);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs (status);
"""
# Columns added since the first schema, with their type: added to older databases.
_ADDED_COLUMNS = {"updated_at": "TEXT", "cache_key": "TEXT"}
_LIVE = tuple(status.value for status in LIVE_STATUSES)


def _ts(value: datetime | None) -> str | None:
    # Fixed-width UTC ISO strings sort like the times they hold.
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if value else None


class SqliteJobStore(SqliteAccess, JobStore):
    def __init__(self, path: str):
        self._path = path
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        def call() -> T:
            if self._db is None:
                raise Unavailable("job store is closed")
            with self._lock, self._db:
                return fn(self._db)

        return await asyncio.to_thread(call)

    async def start(self) -> None:
        if self._path != ":memory:":
            Path(self._path).parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self._path, check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA busy_timeout=5000")
        db.executescript(_SCHEMA + ACCESS_SCHEMA)
        present = {row[1] for row in db.execute("PRAGMA table_info(jobs)")}
        for column, kind in _ADDED_COLUMNS.items():
            if column not in present:
                db.execute(f"ALTER TABLE jobs ADD COLUMN {column} {kind}")
        db.execute("CREATE INDEX IF NOT EXISTS jobs_cache ON jobs (tenant, cache_key)")
        self._db = db

    async def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    async def ping(self) -> None:
        await self._run(lambda db: db.execute("SELECT 1").fetchone())

    async def create(self, job: Job) -> tuple[Job, bool]:
        def insert(db: sqlite3.Connection) -> tuple[Job, bool]:
            row = db.execute("SELECT doc FROM jobs WHERE id=?", (job.id,)).fetchone()
            if row:
                return Job.model_validate_json(row[0]), False
            db.execute(
                "INSERT INTO jobs (id, tenant, created_at, expires_at, status, version, "
                "idempotency_key, doc, updated_at, cache_key) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (
                    job.id,
                    job.tenant,
                    _ts(job.created_at),
                    _ts(job.expires_at),
                    job.status.value,
                    job.version,
                    job.idempotency_key,
                    job.model_dump_json(),
                    _ts(job.last_change),
                    job.cache_key,
                ),
            )
            return job, True

        return await self._run(insert)

    async def get(self, tenant: str, job_id: str) -> Job:
        row = await self._run(
            lambda db: db.execute(
                "SELECT doc FROM jobs WHERE tenant=? AND id=?", (tenant, job_id)
            ).fetchone()
        )
        if not row:
            raise NotFound(f"job {job_id} not found", code="job_not_found")
        return Job.model_validate_json(row[0])

    async def list_jobs(
        self, tenant: str, page_size: int, page_token: str
    ) -> tuple[list[Job], str]:
        size = clamp_page_size(page_size)
        after = decode_page_token(page_token)

        def query(db: sqlite3.Connection) -> list[str]:
            if after is None:
                rows = db.execute(
                    "SELECT doc FROM jobs WHERE tenant=? ORDER BY created_at DESC, id DESC LIMIT ?",
                    (tenant, size + 1),
                )
            else:
                created, job_id = after
                rows = db.execute(
                    "SELECT doc FROM jobs WHERE tenant=? AND (created_at < ? OR "
                    "(created_at = ? AND id < ?)) ORDER BY created_at DESC, id DESC LIMIT ?",
                    (tenant, _ts(created), _ts(created), job_id, size + 1),
                )
            return [r[0] for r in rows]

        jobs = [Job.model_validate_json(doc) for doc in await self._run(query)]
        if len(jobs) > size:
            return jobs[:size], encode_page_token(jobs[size - 1])
        return jobs, ""

    async def replace(self, job: Job, expected_version: int) -> bool:
        def update(db: sqlite3.Connection) -> bool:
            cur = db.execute(
                "UPDATE jobs SET status=?, version=?, expires_at=?, doc=?, updated_at=? "
                "WHERE id=? AND tenant=? AND version=?",
                (
                    job.status.value,
                    job.version,
                    _ts(job.expires_at),
                    job.model_dump_json(),
                    _ts(job.last_change),
                    job.id,
                    job.tenant,
                    expected_version,
                ),
            )
            return cur.rowcount == 1

        return await self._run(update)

    async def update(
        self, tenant: str, job_id: str, step: Callable[[Job], Job]
    ) -> tuple[Job, bool]:
        # One trip to the database thread. BEGIN IMMEDIATE takes the database's write
        # lock before reading, so read-modify-write is atomic across processes too.
        def apply(db: sqlite3.Connection) -> tuple[Job, bool]:
            db.execute("BEGIN IMMEDIATE")
            try:
                result = modify(db)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
            return result

        def modify(db: sqlite3.Connection) -> tuple[Job, bool]:
            row = db.execute(
                "SELECT doc FROM jobs WHERE tenant=? AND id=?", (tenant, job_id)
            ).fetchone()
            if not row:
                raise NotFound(f"job {job_id} not found", code="job_not_found")
            current = Job.model_validate_json(row[0])
            updated = step(current)
            if updated is current:
                return current, False
            db.execute(
                "UPDATE jobs SET status=?, version=?, expires_at=?, doc=?, updated_at=? WHERE id=?",
                (
                    updated.status.value,
                    updated.version,
                    _ts(updated.expires_at),
                    updated.model_dump_json(),
                    _ts(updated.last_change),
                    job_id,
                ),
            )
            return updated, True

        return await self._run(apply)

    async def stale_live_jobs(self, before: datetime, limit: int = 500) -> list[Job]:
        rows = await self._run(
            lambda db: db.execute(
                "SELECT doc FROM jobs WHERE status IN (?, ?) "
                "AND COALESCE(updated_at, created_at) <= ? ORDER BY created_at, id LIMIT ?",
                (*_LIVE, _ts(before), limit),
            ).fetchall()
        )
        return [Job.model_validate_json(r[0]) for r in rows]

    async def upload_in_use(self, tenant: str, key: str) -> bool:
        row = await self._run(
            lambda db: db.execute(
                "SELECT 1 FROM jobs, json_each(jobs.doc, '$.inputs') AS input "
                "WHERE jobs.tenant = ? AND jobs.status IN (?, ?) "
                "AND json_extract(input.value, '$.key') = ? LIMIT 1",
                (tenant, *_LIVE, key),
            ).fetchone()
        )
        return row is not None

    async def find_cached(self, tenant: str, cache_key: str, kept_until: datetime) -> Job | None:
        row = await self._run(
            lambda db: db.execute(
                "SELECT doc FROM jobs WHERE tenant=? AND cache_key=? AND status='succeeded' "
                "AND NOT json_extract(doc, '$.cached') AND expires_at > ? "
                "ORDER BY created_at DESC LIMIT 1",
                (tenant, cache_key, _ts(kept_until)),
            ).fetchone()
        )
        return Job.model_validate_json(row[0]) if row else None

    async def take_expired(self, now: datetime, limit: int = 100) -> list[Job]:
        def take(db: sqlite3.Connection) -> list[Job]:
            rows = db.execute(
                "SELECT id, doc FROM jobs WHERE expires_at IS NOT NULL AND expires_at <= ? LIMIT ?",
                (_ts(now), limit),
            ).fetchall()
            db.executemany("DELETE FROM jobs WHERE id=?", [(r[0],) for r in rows])
            return [Job.model_validate_json(r[1]) for r in rows]

        return await self._run(take)
