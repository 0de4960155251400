"""What the job store keeps for identity and tenancy besides jobs: API keys (hashes
only), tenant settings (quota overrides) and usage counters shared by every gateway
replica. Both job store backends implement it on their own connection."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from transmute_common.keys import ApiKey


class AccessStore(ABC):
    @abstractmethod
    async def put_key(self, key: ApiKey) -> None:
        """Inserts or replaces the key with this id."""

    @abstractmethod
    async def get_key(self, key_id: str) -> ApiKey | None: ...

    @abstractmethod
    async def list_keys(self, tenant: str) -> list[ApiKey]:
        """The tenant's keys, oldest first."""

    @abstractmethod
    async def get_tenant(self, tenant: str) -> dict[str, Any] | None:
        """The tenant's stored settings (quota overrides), None when it has none."""

    @abstractmethod
    async def put_tenant(self, tenant: str, settings: dict[str, Any]) -> None: ...

    @abstractmethod
    async def add_usage(
        self, tenant: str, counter: str, period: str, amount: int, limit: int
    ) -> tuple[bool, int]:
        """Adds ``amount`` to the tenant's counter for ``period`` unless that would pass
        ``limit`` (atomic, across processes). Returns whether it was added and the value
        the counter holds after the call."""

    @abstractmethod
    async def usage(self, tenant: str, periods: dict[str, str]) -> dict[str, int]:
        """The counters named in ``periods`` (counter -> period), 0 when absent."""

    @abstractmethod
    async def count_live(self, tenant: str) -> int:
        """The tenant's queued and running jobs."""
