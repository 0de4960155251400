"""Engines that run programs from the service process: results, progress, limits,
cancellation, time limits and the programs' confinement."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.unit.fake_engines import DECLARED
from transmute_common.converter import ConversionTask
from transmute_common.errors import InvalidInput, TransmuteError
from transmute_common.program_host import ProgramHost
from transmute_common.worker_process import WorkerLimits
from transmute_common.workers import EngineUnavailable

FACTORY = "tests.unit.fake_engines:FakePrograms"


def make_host(
    tmp_path: Path, timeout: float = 5, limits: WorkerLimits | None = None
) -> ProgramHost:
    return ProgramHost(FACTORY, 1, limits or WorkerLimits(), timeout, DECLARED, {}, home=tmp_path)


def task(tmp_path: Path, mode: str) -> ConversionTask:
    out = tmp_path / f"job-{mode}" / "out"
    out.mkdir(parents=True)
    return ConversionTask("convert", [], "txt", {"mode": mode}, out)


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


async def test_a_program_engine_converts_with_progress(tmp_path: Path) -> None:
    host = make_host(tmp_path)
    await host.start()
    # What the engine's program said at start narrows what is offered.
    assert host.available.outputs() == {"txt"}
    seen: list[tuple[float, str]] = []
    [out] = await host.run(task(tmp_path, "ok"), lambda f, m, **_: seen.append((f, m)))
    assert seen == [(0.5, "step 1"), (1.0, "step 2")]
    # The program ran as a child of this process, in the job's directory.
    assert out.path.read_text().startswith("pid ")
    assert int(out.path.read_text().split()[1]) != os.getpid()


async def test_programs_get_the_engine_environment_and_the_job_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRANSMUTE_S3_SECRET_KEY", "TOP-SECRET")
    host = make_host(tmp_path)
    await host.start()
    job = task(tmp_path, "env")
    [out] = await host.run(job, lambda *a, **k: None)
    text = out.path.read_text()
    assert "TOP-SECRET" not in text
    assert f"TMPDIR={job.output_dir.parent / 'tmp'}" in text.splitlines()
    assert text.splitlines()[-1] == str(job.output_dir.parent)


async def test_a_failing_program_and_an_engine_bug_fail_the_job(tmp_path: Path) -> None:
    host = make_host(tmp_path)
    await host.start()
    with pytest.raises(InvalidInput, match="broken") as failed:
        await host.run(task(tmp_path, "fails"), lambda *a, **k: None)
    assert failed.value.code == "fake_failed"
    with pytest.raises(TransmuteError) as bug:
        await host.run(task(tmp_path, "bug"), lambda *a, **k: None)
    assert bug.value.code == "conversion_failed" and "an engine bug" in str(bug.value)


async def test_cancelling_a_job_kills_its_program_and_what_that_started(tmp_path: Path) -> None:
    host = make_host(tmp_path, timeout=60)
    await host.start()
    job = task(tmp_path, "group")
    running = asyncio.create_task(host.run(job, lambda *a, **k: None))
    child_file = job.output_dir / "child.pid"
    for _ in range(2000):
        if child_file.exists():
            break
        await asyncio.sleep(0.01)
    child = int(child_file.read_text())
    assert alive(child)
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    await asyncio.sleep(0.1)
    assert not alive(child)


async def test_the_time_limit_stops_a_program(tmp_path: Path) -> None:
    host = make_host(tmp_path, timeout=1)
    await host.start()
    started = time.monotonic()
    with pytest.raises(TransmuteError) as err:
        await host.run(task(tmp_path, "group"), lambda *a, **k: None)
    assert err.value.code == "timeout"
    assert time.monotonic() - started < 5


async def test_resource_limits_apply_to_each_program(tmp_path: Path) -> None:
    host = make_host(tmp_path, timeout=30, limits=WorkerLimits(cpu_seconds=1, file_bytes=1024**2))
    await host.start()
    with pytest.raises(TransmuteError) as cpu:
        await host.run(task(tmp_path, "cpu"), lambda *a, **k: None)
    assert cpu.value.code == "cpu_limit"
    with pytest.raises(TransmuteError) as trapped:
        await host.run(task(tmp_path, "cpu_trapped"), lambda *a, **k: None)
    assert trapped.value.code == "cpu_limit"
    with pytest.raises(TransmuteError) as big:
        await host.run(task(tmp_path, "big"), lambda *a, **k: None)
    assert big.value.code == "output_too_large"


def test_a_program_dies_with_the_service(tmp_path: Path) -> None:
    """The service killed with SIGKILL takes its running programs with it."""
    script = f"""
import asyncio
from pathlib import Path
from transmute_common.confined import ProgramRunner, launcher
from transmute_common.worker_process import WorkerLimits

async def main():
    job = Path({str(tmp_path)!r})
    runner = ProgramRunner(launcher(WorkerLimits()), {{"PATH": "/usr/bin:/bin"}}, job)
    await runner.run(["sh", "-c", "echo $$ > program.pid; exec sleep 60"])

asyncio.run(main())
"""
    service = subprocess.Popen([sys.executable, "-c", script])
    pid_file = tmp_path / "program.pid"
    deadline = time.monotonic() + 20
    while not pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    program = int(pid_file.read_text())
    assert alive(program)
    service.send_signal(signal.SIGKILL)
    service.wait()
    deadline = time.monotonic() + 5
    while alive(program) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not alive(program)


async def test_without_the_confining_tools_the_engine_is_unavailable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    host = make_host(tmp_path)
    with pytest.raises(EngineUnavailable, match="util-linux"):
        await host.start()
    assert host.available.conversions == []
