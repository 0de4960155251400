"""Per-tenant quotas, shared by every gateway replica: the counters live in the job
store (through the access service), so two replicas never admit more than the limit
between them. Limits are the defaults from settings (the guest defaults for guest
callers) with the tenant's stored overrides on top; 0 means no limit."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, fields, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from transmute_common.access_client import AccessClient
from transmute_common.errors import Forbidden, TransmuteError
from transmute_common.logging import get_logger
from transmute_common.tracing import current_trace_id
from transmute_gateway.config import GatewaySettings
from transmute_gateway.identity import Principal

log = get_logger(__name__)
TENANT_CACHE_SECONDS = 5.0


@dataclass(frozen=True)
class Limits:
    submissions_per_minute: int = 0
    concurrent_jobs: int = 0
    upload_bytes_per_day: int = 0
    max_file_bytes: int = 0
    result_retention_seconds: int = 0  # how long jobs and uploads are kept; 0: the default
    allowed_operations: tuple[str, ...] = ()  # empty: every operation
    allowed_targets: tuple[str, ...] = ()  # empty: every target format

    def merged(self, overrides: dict[str, Any]) -> Limits:
        """These limits with a tenant's overrides; unknown names are refused on write."""
        known = {f.name: f for f in fields(self)}
        changes: dict[str, Any] = {}
        for name, value in overrides.items():
            if name not in known:
                continue
            changes[name] = tuple(value) if name.startswith("allowed_") else int(value)
        return replace(self, **changes)

    def view(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


def _minute(now: datetime) -> tuple[str, int]:
    """This minute's name and the seconds until the next one."""
    return now.strftime("%Y-%m-%dT%H:%M"), 60 - now.second


def _day(now: datetime) -> tuple[str, int]:
    tomorrow = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return now.strftime("%Y-%m-%d"), int((tomorrow - now).total_seconds()) + 1


def _exceeded(what: str, limit: int, used: int, retry_after: int) -> TransmuteError:
    return TransmuteError(
        f"the tenant's quota of {limit} {what} is used up",
        code="quota_exceeded",
        details={"quota": what, "limit": limit, "used": used, "retry_after_seconds": retry_after},
    ).with_status(429)


class Quotas:
    def __init__(self, settings: GatewaySettings, access: AccessClient):
        self._access = access
        self.defaults = Limits(
            settings.quota_submissions_per_minute,
            settings.quota_concurrent_jobs,
            settings.quota_upload_bytes_per_day,
            settings.quota_max_file_bytes,
        )
        self.guest_defaults = Limits(
            settings.guest_submissions_per_minute,
            settings.guest_concurrent_jobs,
            settings.guest_upload_bytes_per_day,
            settings.guest_max_file_bytes,
        )
        self._tenants: dict[str, tuple[dict[str, Any], float]] = {}

    async def _stored(self, tenant: str) -> dict[str, Any]:
        cached = self._tenants.get(tenant)
        if cached is None or cached[1] < time.monotonic():
            overrides = await self._access.get_tenant(tenant)
            cached = (overrides, time.monotonic() + TENANT_CACHE_SECONDS)
            self._tenants[tenant] = cached
        return cached[0]

    async def limits(self, who: Principal) -> Limits:
        base = self.guest_defaults if who.role == "guest" else self.defaults
        if not who.key_id:  # authentication off: the settings' defaults, nothing stored
            return base
        return base.merged(await self._stored(who.tenant))

    async def default_webhook(self, who: Principal) -> str:
        """The tenant's default webhook URL (transmute-admin tenants set), or ''."""
        url = (await self._stored(who.tenant)).get("webhook_url", "")
        return url if isinstance(url, str) else ""

    async def retention(self, who: Principal, default: int) -> int:
        """Seconds the caller's jobs and uploads are kept."""
        return (await self.limits(who)).result_retention_seconds or default

    async def admit_submission(self, who: Principal, operation: str, target: str) -> None:
        """Raises 403 conversion_not_allowed or 429 quota_exceeded; else counts it."""
        limits = await self.limits(who)
        if limits.allowed_operations and operation not in limits.allowed_operations:
            self._refused(who, "operation", operation)
        if limits.allowed_targets and target not in limits.allowed_targets:
            self._refused(who, "target", target)
        if limits.concurrent_jobs:
            _, live = await self._access.usage(who.tenant, {})
            if live >= limits.concurrent_jobs:
                raise _exceeded("concurrent jobs", limits.concurrent_jobs, live, 5)
        if limits.submissions_per_minute:
            period, retry = _minute(datetime.now(UTC))
            added, used = await self._access.add_usage(
                who.tenant, "submissions", period, 1, limits.submissions_per_minute
            )
            if not added:
                raise _exceeded(
                    "submissions per minute", limits.submissions_per_minute, used, retry
                )

    async def upload_limit(self, who: Principal, global_limit: int) -> int:
        """The most bytes this caller's next file may hold; 429 when today's are spent."""
        limits = await self.limits(who)
        if limits.upload_bytes_per_day:
            period, retry = _day(datetime.now(UTC))
            values, _ = await self._access.usage(who.tenant, {"upload_bytes": period})
            used = values.get("upload_bytes", 0)
            if used >= limits.upload_bytes_per_day:
                raise _exceeded("bytes uploaded per day", limits.upload_bytes_per_day, used, retry)
        return min(global_limit, limits.max_file_bytes or global_limit)

    async def count_upload(self, who: Principal, size: int) -> None:
        """Adds a stored file to today's bytes; 429 (and the caller removes it) when the
        file takes the tenant past its daily quota."""
        limits = await self.limits(who)
        if not limits.upload_bytes_per_day:
            return
        period, retry = _day(datetime.now(UTC))
        added, used = await self._access.add_usage(
            who.tenant, "upload_bytes", period, size, limits.upload_bytes_per_day
        )
        if not added:
            raise _exceeded("bytes uploaded per day", limits.upload_bytes_per_day, used, retry)

    async def usage(self, who: Principal) -> dict[str, Any]:
        now = datetime.now(UTC)
        periods = {"submissions": _minute(now)[0], "upload_bytes": _day(now)[0]}
        values, live = await self._access.usage(who.tenant, periods)
        return {
            "tenant": who.tenant,
            "limits": (await self.limits(who)).view(),
            "usage": {
                "submissions_this_minute": values.get("submissions", 0),
                "upload_bytes_today": values.get("upload_bytes", 0),
                "live_jobs": live,
            },
        }

    def _refused(self, who: Principal, what: str, value: str) -> None:
        log.info(
            "conversion_not_allowed",
            tenant=who.tenant,
            key_id=who.key_id,
            what=what,
            value=value,
            trace_id=current_trace_id(),
        )
        raise Forbidden(
            f"the tenant may not use the {what} {value!r}",
            code="conversion_not_allowed",
            details={what: value},
        )
