"""Per-tenant rate limit on job submissions: a token bucket in each gateway replica."""

from __future__ import annotations

import math
import time

from transmute_common.errors import TransmuteError


class RateLimiter:
    def __init__(self, per_minute: int, burst: int):
        self._rate = per_minute / 60.0
        self._burst = float(burst)
        self._buckets: dict[str, tuple[float, float]] = {}  # tenant -> (tokens, at)

    def take(self, tenant: str) -> None:
        """Spends one token of the tenant's bucket, or raises a 429 saying when to retry."""
        now = time.monotonic()
        tokens, at = self._buckets.get(tenant, (self._burst, now))
        tokens = min(self._burst, tokens + (now - at) * self._rate)
        if tokens < 1.0:
            wait = math.ceil((1.0 - tokens) / self._rate) if self._rate > 0 else 60
            self._buckets[tenant] = (tokens, now)
            raise TransmuteError(
                "too many jobs submitted; slow down",
                code="rate_limited",
                details={"retry_after_seconds": wait},
            ).with_status(429)
        self._buckets[tenant] = (tokens - 1.0, now)
