"""The worker pool with engines whose behaviour is known: results, progress, errors,
crashes, time limits and memory limits."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from transmute_common.converter import ConversionTask
from transmute_common.errors import InvalidInput, TransmuteError, Unavailable
from transmute_common.workers import WorkerPool


@pytest.fixture
async def pool() -> AsyncIterator[WorkerPool]:
    p = WorkerPool("tests.unit.fake_engines:Fake", size=1, memory_bytes=2 * 1024**3, timeout=3)
    await p.start()
    yield p
    await p.close()


def task(tmp_path: Path, mode: str) -> ConversionTask:
    out = tmp_path / mode
    out.mkdir(exist_ok=True)
    return ConversionTask("convert", [], "txt", {"mode": mode}, out)


async def run_ok(pool: WorkerPool, tmp_path: Path) -> str:
    seen: list[tuple[float, str]] = []
    [out] = await pool.run(task(tmp_path, "ok"), lambda f, m: seen.append((f, m)))
    assert [f for f, _ in seen] == [1 / 3, 2 / 3, 1.0]
    return out.path.read_text()


async def test_result_and_progress(pool: WorkerPool, tmp_path: Path) -> None:
    first = await run_ok(pool, tmp_path)
    assert await run_ok(pool, tmp_path) == first  # the same worker serves again


async def test_engine_errors_keep_their_code(pool: WorkerPool, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput) as err:
        await pool.run(task(tmp_path, "invalid"), lambda f, m: None)
    assert err.value.code == "invalid_image"
    with pytest.raises(TransmuteError) as bug:
        await pool.run(task(tmp_path, "bug"), lambda f, m: None)
    assert bug.value.code == "conversion_failed" and not bug.value.retryable
    await run_ok(pool, tmp_path)


async def test_a_crashed_worker_is_replaced(pool: WorkerPool, tmp_path: Path) -> None:
    before = await run_ok(pool, tmp_path)
    with pytest.raises(Unavailable) as err:
        await pool.run(task(tmp_path, "crash"), lambda f, m: None)
    assert err.value.code == "worker_crashed" and err.value.retryable
    assert await run_ok(pool, tmp_path) != before  # a new process


async def test_time_limit_kills_the_worker(pool: WorkerPool, tmp_path: Path) -> None:
    with pytest.raises(TransmuteError) as err:
        await pool.run(task(tmp_path, "slow"), lambda f, m: None)
    assert err.value.code == "timeout"
    await run_ok(pool, tmp_path)


async def test_memory_limit_fails_the_job(pool: WorkerPool, tmp_path: Path) -> None:
    with pytest.raises(TransmuteError) as err:
        await pool.run(task(tmp_path, "hog"), lambda f, m: None)
    assert err.value.code == "conversion_failed" and "MemoryError" in err.value.message
    await run_ok(pool, tmp_path)
