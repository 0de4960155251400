"""Shared fixtures: real NATS, MinIO and a MongoDB-wire server, one of each per session."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import (
    MINIO_PASSWORD,
    MINIO_USER,
    Server,
    ferretdb_server,
    minio_server,
    nats_server,
    uv_binary,
)


@pytest.fixture(scope="session")
def uv() -> str:
    return uv_binary()


@pytest.fixture(scope="session")
def servers_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("servers")


def _run(server: Server) -> Iterator[Server]:
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def nats(servers_dir: Path) -> Iterator[Server]:
    yield from _run(nats_server(servers_dir))


@pytest.fixture(scope="session")
def nats_url(nats: Server) -> str:
    return f"nats://127.0.0.1:{nats.port}"


@pytest.fixture(scope="session")
def minio(servers_dir: Path) -> Iterator[Server]:
    yield from _run(minio_server(servers_dir))


@pytest.fixture(scope="session")
def minio_env(minio: Server) -> dict[str, str]:
    return {
        "TRANSMUTE_S3_ACCESS_KEY": MINIO_USER,
        "TRANSMUTE_S3_SECRET_KEY": MINIO_PASSWORD,
        "TRANSMUTE_OBJECT_STORE_URL": f"s3://127.0.0.1:{minio.port}/transmute",
        # Clients reach this MinIO where the services do: downloads redirect to it.
        "TRANSMUTE_S3_PUBLIC_URL": f"http://127.0.0.1:{minio.port}",
    }


@pytest.fixture(scope="session")
def ferretdb(servers_dir: Path) -> Iterator[Server]:
    yield from _run(ferretdb_server(servers_dir))


@pytest.fixture(scope="session")
def mongo_url(ferretdb: Server) -> str:
    return f"mongodb://127.0.0.1:{ferretdb.port}/transmute"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Names the web app's screenshots taken by this run (tests/browser.py)."""
    browser = sys.modules.get("tests.browser")
    shots = getattr(browser, "SCREENSHOTS", [])
    if shots:
        terminalreporter.section("web app screenshots")
        for path in shots:
            terminalreporter.write_line(str(path))
