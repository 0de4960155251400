"""Stopping and restarting: a converter stops promptly on SIGTERM even while it waits for
the jobs service, and the local runner (`make run`) restarts a crashed service with
backoff, keeps the others up, and stops promptly on SIGTERM even while retrying."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from scripts.mesh import Mesh
from tests import images
from tests.e2e.conftest import convert, final_state, wait_for
from tests.e2e.test_cancel import children, cpu_ticks
from tests.e2e.test_resilience import noisy_jpeg

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def test_converter_stops_promptly_while_waiting_for_the_jobs_service(
    api: httpx.Client, mesh: Mesh
) -> None:
    assert mesh.log_dir is not None
    log = mesh.log_dir / "image.log"
    start = log.stat().st_size
    job = convert(api, noisy_jpeg(1600, 1200), "avif").json()
    wait_for(lambda: api.get(f"/v1/jobs/{job['id']}").json()["status"] == "running")
    try:
        mesh.kill("jobs")
        wait_for(lambda: b"jobs_service_unavailable" in log.read_bytes()[start:], timeout=60)
        image = mesh.procs.pop("image")
        asked = time.monotonic()
        image.terminate()
        image.wait(timeout=30)
        stopped_after = time.monotonic() - asked
        print(f"converter stopped {stopped_after:.2f} s after SIGTERM")
        assert stopped_after < 5
    finally:
        for name in ("jobs", "image"):
            if name not in mesh.procs:
                mesh.start_service(name)
        mesh.wait_ready(30)  # the gateway has reconnected to the jobs service
    # The message went back to the stream: the restarted converter finishes the job.
    assert final_state(api, job["id"])["status"] == "succeeded"


class Output:
    """The runner's stdout, read line by line in a thread."""

    def __init__(self, proc: subprocess.Popen[str]):
        self.lines: queue.Queue[str] = queue.Queue()
        assert proc.stdout is not None
        stream = proc.stdout
        threading.Thread(target=lambda: [self.lines.put(ln) for ln in stream], daemon=True).start()

    def expect(self, pattern: str, timeout: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                found = re.search(pattern, self.lines.get(timeout=left))
            except queue.Empty:
                break
            if found:
                return found
        raise AssertionError(f"the runner never printed {pattern!r}")


def service_pid(runner: int, module: str) -> int:
    for pid in children(runner):
        if module in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace"):
            return pid
    raise AssertionError(f"{module} is not running")


def test_the_local_runner_supervises_its_services(tmp_path: Path) -> None:
    env = {**os.environ, "OTEL_TRACES_EXPORTER": "none", "OTEL_METRICS_EXPORTER": "none"}
    runner = subprocess.Popen(
        [sys.executable, "scripts/mesh.py", "--free-ports", "--state-dir", str(tmp_path)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    output = Output(runner)
    started: list[int] = []
    try:
        url = output.expect(r"Transmute is running: (\S+)", 120)[1]
        started += children(runner.pid)
        gateway = service_pid(runner.pid, "transmute_gateway")
        jobs = service_pid(runner.pid, "transmute_jobs")

        # SIGKILL of the jobs service: it comes back, the rest stays up.
        os.kill(jobs, signal.SIGKILL)
        output.expect(r"jobs exited with code -9; restarting in 1 s", 10)
        output.expect(r"jobs restarted", 10)
        assert runner.poll() is None
        assert service_pid(runner.pid, "transmute_gateway") == gateway
        with httpx.Client(base_url=url, timeout=30) as api:
            wait_for(lambda: api.get("/readyz").status_code == 200, timeout=60)
            done = final_state(api, convert(api, images.jpeg(40, 30), "png").json()["id"])
            assert done["status"] == "succeeded"
        started += children(runner.pid)

        # A crash loop (its database is now a directory): backoff grows, others stay up.
        db = tmp_path / "jobs.db"
        db.unlink()
        db.mkdir()
        os.kill(service_pid(runner.pid, "transmute_jobs"), signal.SIGKILL)
        # It died again within a minute of its restart: the delay doubles each time.
        output.expect(r"jobs exited with code -9; restarting in 2 s", 10)
        output.expect(r"jobs exited with code \d+; restarting in 4 s", 60)
        assert service_pid(runner.pid, "transmute_gateway") == gateway

        # SIGTERM while it waits to retry: everything stops at once.
        asked = time.monotonic()
        runner.terminate()
        runner.wait(timeout=30)
        stopped_after = time.monotonic() - asked
        print(f"runner stopped {stopped_after:.2f} s after SIGTERM")
        assert stopped_after < 10
        assert all(cpu_ticks(pid) is None for pid in started)
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.wait()
        for pid in started:
            if cpu_ticks(pid) is not None:
                os.kill(pid, signal.SIGKILL)
