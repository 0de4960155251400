"""The worker pool with engines whose behaviour is known: results, progress, errors,
crashes, time limits and memory limits."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.unit.fake_engines import DECLARED
from transmute_common.converter import ConversionTask
from transmute_common.errors import InvalidInput, TransmuteError, Unavailable
from transmute_common.worker_process import IDLE_SECONDS, WorkerLimits
from transmute_common.workers import EngineUnavailable, WorkerPool


def make_pool(
    timeout: float = 3,
    limits: WorkerLimits | None = None,
    settings: dict | None = None,
    factory: str = "tests.unit.fake_engines:Fake",
) -> WorkerPool:
    return WorkerPool(
        factory,
        size=1,
        limits=limits or WorkerLimits(memory_bytes=2 * 1024**3),
        timeout=timeout,
        declared=DECLARED,
        engine_settings=settings,
    )


@pytest.fixture
async def pool() -> AsyncIterator[WorkerPool]:
    p = make_pool()
    await p.start()
    yield p
    await p.close()


def task(tmp_path: Path, mode: str) -> ConversionTask:
    out = tmp_path / mode
    out.mkdir(exist_ok=True)
    return ConversionTask("convert", [], "txt", {"mode": mode}, out)


async def run_ok(pool: WorkerPool, tmp_path: Path) -> str:
    seen: list[tuple[float, str, float | None, float | None]] = []

    def progress(
        f: float, m: str, rate: float | None = None, eta_seconds: float | None = None
    ) -> None:
        seen.append((f, m, rate, eta_seconds))

    [out] = await pool.run(task(tmp_path, "ok"), progress)
    # Speed and time left cross the worker pipe with the fraction.
    assert seen == [
        (1 / 3, "step 1", 2.0, 2.0),
        (2 / 3, "step 2", 4.0, 1.0),
        (1.0, "step 3", 6.0, 0.0),
    ]
    return out.path.read_text()


async def test_result_and_progress(pool: WorkerPool, tmp_path: Path) -> None:
    first = await run_ok(pool, tmp_path)
    assert await run_ok(pool, tmp_path) == first  # the same worker serves again


async def test_engine_errors_keep_their_code(pool: WorkerPool, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput) as err:
        await pool.run(task(tmp_path, "invalid"), lambda f, m, **_: None)
    assert err.value.code == "invalid_image"
    with pytest.raises(TransmuteError) as bug:
        await pool.run(task(tmp_path, "bug"), lambda f, m, **_: None)
    assert bug.value.code == "conversion_failed" and not bug.value.retryable
    await run_ok(pool, tmp_path)


async def test_a_crashed_worker_is_replaced(pool: WorkerPool, tmp_path: Path) -> None:
    reasons: list[str] = []
    pool.on_restart = reasons.append
    before = await run_ok(pool, tmp_path)
    with pytest.raises(Unavailable) as err:
        await pool.run(task(tmp_path, "crash"), lambda f, m, **_: None)
    assert err.value.code == "worker_crashed" and err.value.retryable
    assert await run_ok(pool, tmp_path) != before  # a new process
    assert reasons == ["worker_crashed"]  # counted for the worker_restarts metric


async def test_time_limit_kills_the_worker(pool: WorkerPool, tmp_path: Path) -> None:
    reasons: list[str] = []
    pool.on_restart = reasons.append
    with pytest.raises(TransmuteError) as err:
        await pool.run(task(tmp_path, "slow"), lambda f, m, **_: None)
    assert err.value.code == "timeout"
    assert reasons == ["timeout"]
    await run_ok(pool, tmp_path)


def alive(pid: int) -> bool:
    """True while the process exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


async def gone(pid: int) -> None:
    for _ in range(500):
        if not alive(pid):
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"process {pid} is still running")


async def started_child(t: ConversionTask) -> int:
    pid_file = t.output_dir / "child.pid"
    for _ in range(200):
        if pid_file.exists() and pid_file.read_text():
            return int(pid_file.read_text())
        await asyncio.sleep(0.05)
    raise AssertionError("the engine did not start its child")


async def test_cancel_kills_the_worker_and_what_it_started(
    pool: WorkerPool, tmp_path: Path
) -> None:
    t = task(tmp_path, "spawn")
    running = asyncio.create_task(pool.run(t, lambda f, m, **_: None))
    child = await started_child(t)
    assert alive(child)
    cancelled_at = time.monotonic()
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    await gone(child)
    assert time.monotonic() - cancelled_at < 1.0
    await run_ok(pool, tmp_path)  # a fresh worker took its place


async def test_time_limit_kills_what_the_engine_started(tmp_path: Path) -> None:
    p = make_pool(timeout=1, limits=WorkerLimits(memory_bytes=0))
    await p.start()
    try:
        t = task(tmp_path, "spawn")
        running = asyncio.create_task(p.run(t, lambda f, m, **_: None))
        child = await started_child(t)
        with pytest.raises(TransmuteError) as err:
            await running
        assert err.value.code == "timeout"
        await gone(child)
    finally:
        await p.close()


async def test_memory_limit_fails_the_job(pool: WorkerPool, tmp_path: Path) -> None:
    with pytest.raises(TransmuteError) as err:
        await pool.run(task(tmp_path, "hog"), lambda f, m, **_: None)
    assert err.value.code == "conversion_failed" and "MemoryError" in err.value.message
    await run_ok(pool, tmp_path)


async def test_a_crash_kills_what_the_engine_started(pool: WorkerPool, tmp_path: Path) -> None:
    t = task(tmp_path, "spawn-and-crash")
    running = asyncio.create_task(pool.run(t, lambda f, m, **_: None))
    child = await started_child(t)
    with pytest.raises(Unavailable) as err:
        await running
    assert err.value.code == "worker_crashed"
    await gone(child)


async def test_the_engine_sees_no_secret_in_its_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRANSMUTE_S3_SECRET_KEY", "sekrit-4711")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "sekrit-4712")
    p = make_pool()
    await p.start()
    try:
        [out] = await p.run(task(tmp_path, "environ"), lambda f, m, **_: None)
    finally:
        await p.close()
    seen = out.path.read_bytes()  # the worker's /proc/self/environ, then its child's
    assert b"sekrit" not in seen and b"TRANSMUTE_" not in seen
    assert b"PATH=" in seen and b"HOME=" in seen


@pytest.mark.parametrize(("mode", "options"), [("write", {"mib": 64}), ("seek", {})])
async def test_a_write_past_the_file_size_limit_is_cut(
    tmp_path: Path, mode: str, options: dict
) -> None:
    p = make_pool(limits=WorkerLimits(memory_bytes=0, file_bytes=16 * 1024**2))
    await p.start()
    try:
        t = task(tmp_path, mode)
        t.options.update(options)
        with pytest.raises(TransmuteError) as err:
            await p.run(t, lambda f, m, **_: None)
        assert err.value.code == "output_too_large"
        assert max(f.stat().st_size for f in t.output_dir.iterdir()) <= 16 * 1024**2
    finally:
        await p.close()


async def test_the_cpu_time_limit_ends_a_runaway_engine(tmp_path: Path) -> None:
    p = make_pool(timeout=60, limits=WorkerLimits(memory_bytes=0, cpu_seconds=1))
    await p.start()
    try:
        started = time.monotonic()
        with pytest.raises(TransmuteError) as err:
            await p.run(task(tmp_path, "spin"), lambda f, m, **_: None)
        assert err.value.code == "cpu_limit" and not err.value.retryable
        assert time.monotonic() - started < 30
        await run_ok(p, tmp_path)  # replaced, and the new worker has its own budget
    finally:
        await p.close()


async def test_an_engine_that_cannot_load_offers_nothing_and_says_why() -> None:
    p = make_pool(factory="tests.unit.fake_engines:broken")
    with pytest.raises(EngineUnavailable) as err:
        await p.start()
    assert "libfoo" in str(err.value)
    assert p.available.conversions == []
    await p.close()


async def test_the_engine_narrows_what_is_declared() -> None:
    p = make_pool(settings={"lacking": ["bin"]})
    await p.start()
    try:
        [conversion] = p.available.conversions
        assert conversion.outputs == ["txt"] and conversion.inputs == ["txt", "bin"]
    finally:
        await p.close()


async def test_a_job_waits_for_a_worker_only_so_long(tmp_path: Path) -> None:
    p = make_pool(timeout=1, limits=WorkerLimits(memory_bytes=0))
    await p.start()
    try:
        busy = asyncio.create_task(p.run(task(tmp_path, "slow"), lambda f, m, **_: None))
        await asyncio.sleep(0.1)
        with pytest.raises(Unavailable) as err:  # the only worker is taken
            await p.run(task(tmp_path, "ok"), lambda f, m, **_: None)
        assert err.value.code == "no_worker" and err.value.retryable
        with pytest.raises(TransmuteError):
            await busy
    finally:
        await p.close()


def _resident_mb(pid: int) -> float:
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * 4096 / 2**20


async def test_an_idle_worker_gives_back_what_its_jobs_left(
    pool: WorkerPool, tmp_path: Path
) -> None:
    [out] = await pool.run(task(tmp_path, "garbage"), lambda *_a, **_k: None)
    pid = int(out.path.read_text())
    busy = _resident_mb(pid)
    assert busy > 300
    await asyncio.sleep(IDLE_SECONDS + 1.5)
    assert _resident_mb(pid) < busy - 250
