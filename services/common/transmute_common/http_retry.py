"""Calls to an outside HTTP API from an engine (blocking: engines run in workers):
retried with exponential backoff on timeouts, refused connections and the statuses
that mean "try again", honouring the server's ``Retry-After``; any other refusal is
final."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx

from transmute_common.errors import TransmuteError, Unavailable

RETRIED = {408, 409, 429, 500, 502, 503, 504}
MAX_RETRY_AFTER = 60.0


@dataclass(frozen=True)
class RetryPolicy:
    retries: int = 3
    backoff: float = 1.0  # the first wait in seconds, doubled each retry
    what: str = "the endpoint"  # named in errors
    failure_code: str = "remote_failure"  # a final refusal
    unavailable_code: str = "remote_unavailable"  # still failing after every retry


def request(
    client: httpx.Client, method: str, url: str, policy: RetryPolicy, **kwargs: Any
) -> httpx.Response:
    """The first 2xx answer to the request, retrying what may pass."""
    wait = policy.backoff
    for attempt in range(policy.retries + 1):
        try:
            resp = client.request(method, url, **kwargs)
        except httpx.TransportError as exc:  # timeouts and refused connections
            problem = f"{policy.what} did not answer ({type(exc).__name__})"
        else:
            if resp.is_success:
                return resp
            if resp.status_code not in RETRIED:
                raise TransmuteError(
                    f"{policy.what} refused the request ({resp.status_code})",
                    code=policy.failure_code,
                    details={"status": resp.status_code},
                )
            problem = f"{policy.what} answered {resp.status_code}"
            wait = max(wait, _retry_after(resp))
        if attempt < policy.retries:
            time.sleep(wait)
            wait *= 2
    raise Unavailable(
        f"{problem}, after {policy.retries + 1} attempts", code=policy.unavailable_code
    )


def _retry_after(resp: httpx.Response) -> float:
    try:
        return min(float(resp.headers.get("retry-after", "0")), MAX_RETRY_AFTER)
    except ValueError:
        return 0.0
