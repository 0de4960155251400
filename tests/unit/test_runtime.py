"""The converter runtime's start: what a service offers comes from its engine's workers,
and a service whose engine cannot load still starts, offering nothing."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from tests.unit.fake_engines import DECLARED
from transmute_common.runtime import ConverterRuntime, ConverterSettings


def runtime(factory: str, tmp_path: Path) -> ConverterRuntime:
    settings = ConverterSettings(work_dir=tmp_path, concurrency=1)
    return ConverterRuntime("fake", factory, DECLARED, settings, None, None, None)  # type: ignore[arg-type]


async def test_a_service_whose_engine_cannot_load_still_starts(tmp_path: Path) -> None:
    r = runtime("tests.unit.fake_engines:broken", tmp_path)
    await r.start()
    try:
        assert r.capabilities.conversions == []
        assert r.capabilities.missing_from(DECLARED)  # what it left out, for its log
    finally:
        await r.pool.close()


async def test_a_service_offers_what_its_engine_offers(tmp_path: Path) -> None:
    r = runtime("tests.unit.fake_engines:Fake", tmp_path)
    assert r.capabilities.conversions == []  # nothing before a worker has said so
    await r.start()
    try:
        assert r.capabilities == DECLARED
    finally:
        await r.pool.close()


def test_engines_get_no_infrastructure_settings() -> None:
    settings = ConverterSettings(
        s3_secret_key="sekrit",  # type: ignore[arg-type]
        job_store_url="mongodb://user:pw@db/x",
    )
    given = settings.engine_settings()
    assert "s3_secret_key" not in given and "job_store_url" not in given
    assert "sekrit" not in str(given) and "pw@" not in str(given)
    assert given["convert_timeout_seconds"] == settings.convert_timeout_seconds


async def test_work_left_by_a_killed_process_is_removed_at_start(tmp_path: Path) -> None:
    ended = await asyncio.create_subprocess_exec(sys.executable, "-c", "pass")
    await ended.wait()  # reaped: its pid names no process now
    stale = tmp_path / f"fake-{ended.pid}-abc"
    live = tmp_path / f"fake-{os.getpid()}-def"
    for d in (stale, live):
        (d / "out").mkdir(parents=True)
    r = runtime("tests.unit.fake_engines:Fake", tmp_path)
    await r.start()
    try:
        assert not stale.exists() and live.exists()
    finally:
        await r.pool.close()
