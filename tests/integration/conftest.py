"""Every implementation of each store interface, as parametrized fixtures."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from transmute_common.jobstore import JobStore, open_job_store
from transmute_common.objectstore import ObjectStore, open_object_store
from transmute_common.settings import Settings


@pytest.fixture(params=["directory", "minio"])
async def object_store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[ObjectStore]:
    if request.param == "directory":
        settings = Settings(object_store_url=f"file://{tmp_path / 'objects'}")
    else:
        env = request.getfixturevalue("minio_env")
        settings = Settings(
            object_store_url=env["TRANSMUTE_OBJECT_STORE_URL"].replace(
                "/transmute", f"/contract-{uuid.uuid4().hex[:8]}"
            ),
            s3_access_key=env["TRANSMUTE_S3_ACCESS_KEY"],
            s3_secret_key=env["TRANSMUTE_S3_SECRET_KEY"],
            s3_part_size=5 * 1024 * 1024,
            s3_public_url=env["TRANSMUTE_S3_PUBLIC_URL"],
        )
    s = open_object_store(settings)
    await s.start()
    await s.start()  # idempotent
    yield s
    await s.close()


async def _open_job_store(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[JobStore]:
    s: JobStore
    if kind == "sqlite":
        s = open_job_store(f"sqlite:///{tmp_path / 'jobs.db'}")
    else:
        base = request.getfixturevalue("mongo_url").rsplit("/", 1)[0]
        url = f"{base}/contract_{uuid.uuid4().hex[:8]}"
        # "mongo-path": the code path MongoDB itself takes (conditional updates without
        # version claims), run on FerretDB for everything but races, which only an
        # atomic server can win.
        from transmute_common.jobstore.mongo import MongoJobStore

        s = MongoJobStore(url, claims=False) if kind == "mongo-path" else open_job_store(url)
    await s.start()
    await s.start()  # idempotent
    yield s
    await s.close()


@pytest.fixture(params=["sqlite", "mongo", "mongo-path"])
async def job_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[JobStore]:
    async for s in _open_job_store(request.param, request, tmp_path):
        yield s


@pytest.fixture(params=["sqlite", "mongo"])
async def atomic_job_store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[JobStore]:
    """The stores whose compare-and-set is atomic on the servers the tests have."""
    async for s in _open_job_store(request.param, request, tmp_path):
        yield s
