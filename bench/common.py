"""What every benchmark shares: the result table and waiting for a job."""

from __future__ import annotations

import json

import httpx

MIB = 1024 * 1024
RESULTS: list[tuple[str, str, str]] = []


def report(name: str, value: str, target: str = "") -> None:
    RESULTS.append((name, value, target))
    print(f"  {name:<58} {value:>18}  {target}", flush=True)


def wait_final(client: httpx.Client, job_id: str) -> dict:
    with client.stream("GET", f"/v1/jobs/{job_id}/events", timeout=600) as resp:
        name = ""
        for line in resp.iter_lines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: ") and name == "final":
                job: dict = json.loads(line[6:])
                return job
    raise RuntimeError("event stream ended without a final event")
