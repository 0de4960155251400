"""What the sync and async clients share: how requests are built and answers read, so
that each client only sends them."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from transmute_client.errors import error_from
from transmute_client.models import Job

CHUNK = 256 * 1024
Progress = Callable[[int, int], None]  # (bytes sent, total bytes)
POLL_SECONDS = 0.5


def headers(api_key: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"} if api_key else {}


def checked(resp: httpx.Response) -> httpx.Response:
    if resp.status_code >= 400:
        resp.read()
        raise error_from(resp)
    return resp


def job_body(
    inputs: list[str],
    target: str,
    options: dict[str, Any] | None,
    operation: str,
    idempotency_key: str | None,
    cache: bool = True,
    webhook_url: str = "",
) -> tuple[dict[str, Any], dict[str, str]]:
    """The job request and its Idempotency-Key (a new one unless given): a retried
    submission then never makes a second job."""
    body = {
        "inputs": inputs,
        "target": target,
        "options": options or {},
        "operation": operation,
        "cache": cache,
    }
    if webhook_url:
        body["webhook_url"] = webhook_url
    return body, {"Idempotency-Key": idempotency_key or uuid.uuid4().hex}


class EventReader:
    """Server-sent events, line by line: yields (event, job) for each data line."""

    def __init__(self) -> None:
        self.name = ""

    def feed(self, line: str) -> tuple[str, Job] | None:
        if line.startswith("event: "):
            self.name = line[7:]
        elif line.startswith("data: ") and self.name in ("progress", "final"):
            return self.name, Job.from_json(json.loads(line[6:]))
        elif line.startswith("data: ") and self.name == "error":
            raise error_from(httpx.Response(503, content=line[6:].encode()))
        return None


def target_path(destination: str | Path, name: str) -> Path:
    """A directory gets the output's own name inside it."""
    path = Path(destination)
    return path / Path(name).name if path.is_dir() else path
