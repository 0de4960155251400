import time

import pytest

from transmute_common.errors import TransmuteError
from transmute_gateway.ratelimit import RateLimiter


def test_burst_then_429_with_retry_after() -> None:
    limiter = RateLimiter(per_minute=60, burst=3)
    for _ in range(3):
        limiter.take("a")
    with pytest.raises(TransmuteError) as err:
        limiter.take("a")
    assert (err.value.status, err.value.code) == (429, "rate_limited")
    assert err.value.details["retry_after_seconds"] == 1
    limiter.take("b")  # tenants have their own buckets


def test_tokens_come_back_over_time() -> None:
    limiter = RateLimiter(per_minute=6000, burst=1)  # one token per 10 ms
    limiter.take("a")
    with pytest.raises(TransmuteError):
        limiter.take("a")
    time.sleep(0.02)
    limiter.take("a")
