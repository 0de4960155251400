"""AccessStore on the embedded SQLite job store."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from transmute_common.jobs import LIVE_STATUSES
from transmute_common.jobstore.access import AccessStore
from transmute_common.keys import ApiKey

T = TypeVar("T")

ACCESS_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    created_at TEXT NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS api_keys_tenant ON api_keys (tenant, created_at);
CREATE TABLE IF NOT EXISTS tenants (id TEXT PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS usage (
    tenant TEXT NOT NULL,
    counter TEXT NOT NULL,
    period TEXT NOT NULL,
    value INTEGER NOT NULL,
    PRIMARY KEY (tenant, counter)
);
"""
_LIVE = tuple(status.value for status in LIVE_STATUSES)


class SqliteAccess(AccessStore):
    """Mixed into SqliteJobStore, whose ``_run`` runs a function on its connection."""

    _run: Callable[[Callable[[sqlite3.Connection], Any]], Awaitable[Any]]

    async def put_key(self, key: ApiKey) -> None:
        doc = json.dumps(key.to_doc(), default=str)
        await self._run(
            lambda db: db.execute(
                "INSERT OR REPLACE INTO api_keys (id, tenant, created_at, doc) VALUES (?,?,?,?)",
                (key.id, key.tenant, key.created_at.isoformat(), doc),
            )
        )

    async def get_key(self, key_id: str) -> ApiKey | None:
        row = await self._run(
            lambda db: db.execute("SELECT doc FROM api_keys WHERE id=?", (key_id,)).fetchone()
        )
        return ApiKey.from_doc(json.loads(row[0])) if row else None

    async def list_keys(self, tenant: str) -> list[ApiKey]:
        rows = await self._run(
            lambda db: db.execute(
                "SELECT doc FROM api_keys WHERE tenant=? ORDER BY created_at, id", (tenant,)
            ).fetchall()
        )
        return [ApiKey.from_doc(json.loads(r[0])) for r in rows]

    async def get_tenant(self, tenant: str) -> dict[str, Any] | None:
        row = await self._run(
            lambda db: db.execute("SELECT doc FROM tenants WHERE id=?", (tenant,)).fetchone()
        )
        return dict(json.loads(row[0])) if row else None

    async def put_tenant(self, tenant: str, settings: dict[str, Any]) -> None:
        await self._run(
            lambda db: db.execute(
                "INSERT OR REPLACE INTO tenants (id, doc) VALUES (?,?)",
                (tenant, json.dumps(settings)),
            )
        )

    async def add_usage(
        self, tenant: str, counter: str, period: str, amount: int, limit: int
    ) -> tuple[bool, int]:
        # BEGIN IMMEDIATE holds the write lock from the read on: one decision at a time,
        # across the processes sharing the file too.
        def add(db: sqlite3.Connection) -> tuple[bool, int]:
            db.execute("BEGIN IMMEDIATE")
            try:
                row = db.execute(
                    "SELECT period, value FROM usage WHERE tenant=? AND counter=?",
                    (tenant, counter),
                ).fetchone()
                current = row[1] if row and row[0] == period else 0
                if current + amount > limit:
                    db.execute("ROLLBACK")
                    return False, current
                db.execute(
                    "INSERT OR REPLACE INTO usage (tenant, counter, period, value) "
                    "VALUES (?,?,?,?)",
                    (tenant, counter, period, current + amount),
                )
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
            return True, current + amount

        result: tuple[bool, int] = await self._run(add)
        return result

    async def usage(self, tenant: str, periods: dict[str, str]) -> dict[str, int]:
        rows = await self._run(
            lambda db: db.execute(
                "SELECT counter, period, value FROM usage WHERE tenant=?", (tenant,)
            ).fetchall()
        )
        found = {name: value for name, period, value in rows if periods.get(name) == period}
        return {counter: found.get(counter, 0) for counter in periods}

    async def count_live(self, tenant: str) -> int:
        row = await self._run(
            lambda db: db.execute(
                "SELECT COUNT(*) FROM jobs WHERE tenant=? AND status IN (?, ?)", (tenant, *_LIVE)
            ).fetchone()
        )
        return int(row[0])
