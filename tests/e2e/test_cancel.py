"""Cancelling a running job stops its engine at once: the worker and everything it
started are killed, a fresh worker takes its place, nothing of the job is left in the
store, and the conversion request is acknowledged."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import nats
import pytest

from scripts.mesh import Mesh
from tests import images
from tests.e2e.conftest import convert, final_state, objects_under, wait_for
from tests.e2e.test_resilience import noisy_jpeg

pytestmark = pytest.mark.e2e


def cpu_ticks(pid: int) -> int | None:
    """User + system CPU time of a live process, None once it is gone (or a zombie)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return None
    return None if fields[0] == "Z" else int(fields[11]) + int(fields[12])


def children(pid: int) -> list[int]:
    kids: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        kids += [int(p) for p in (task / "children").read_text().split()]
    return kids


def busy_worker(service_pid: int) -> int | None:
    """The service's worker process that is using CPU, if one is."""
    before = {pid: cpu_ticks(pid) for pid in children(service_pid)}
    time.sleep(0.3)
    for pid, ticks in before.items():
        now = cpu_ticks(pid)
        if ticks is not None and now is not None and now - ticks >= 5:  # >= 50 ms of CPU
            return pid
    return None


def consumer_state(mesh: Mesh) -> tuple[int, int]:
    async def read() -> tuple[int, int]:
        nc = await nats.connect(f"nats://127.0.0.1:{mesh.nats_port}")
        try:
            info = await nc.jetstream().consumer_info("CONVERT", "image")
            return info.num_ack_pending, info.num_pending
        finally:
            await nc.close()

    return asyncio.run(read())


def test_cancel_stops_the_engine_within_a_second(api: httpx.Client, mesh: Mesh) -> None:
    resp = convert(api, noisy_jpeg(3000, 2200), "avif")
    job_id = resp.json()["id"]
    wait_for(lambda: api.get(f"/v1/jobs/{job_id}").json()["progress"]["phase"] == "convert")
    worker = wait_for(lambda: busy_worker(mesh.procs["image"].pid), timeout=20)

    cancelled_at = time.monotonic()
    answer = api.delete(f"/v1/jobs/{job_id}")
    assert answer.status_code == 200 and answer.json()["status"] == "cancelled"
    wait_for(lambda: cpu_ticks(worker) is None, timeout=10, interval=0.01)
    stopped_after = time.monotonic() - cancelled_at
    print(f"DELETE to engine stopped: {stopped_after * 1000:.0f} ms")
    assert stopped_after < 1.0

    # The message is acknowledged, not left to redeliver; nothing of the job is stored.
    wait_for(lambda: consumer_state(mesh) == (0, 0), timeout=10)
    assert objects_under(mesh, f"tenants/default/jobs/{job_id}/") == []
    assert api.get(f"/v1/jobs/{job_id}").json()["status"] == "cancelled"
    # A fresh worker took the killed one's place: the service converts the next job.
    after = convert(api, images.jpeg(64, 48), "png")
    assert final_state(api, after.json()["id"])["status"] == "succeeded"
    # The killed worker is reaped (no zombie is left) in the background.
    wait_for(lambda: worker not in children(mesh.procs["image"].pid), timeout=10)
