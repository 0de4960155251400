"""Authentication's cost per request: the same mesh behind two gateways, one with
authentication off and one resolving an API key on every request (cached for a second
as in production, so the verifying call to the jobs service is part of the figure)."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from bench.common import report
from scripts.mesh import Mesh, free_port
from tests.images import png

KEY = "tm_" + "a" * 16 + "_" + "K" * 43  # the bootstrap admin key of tenant "default"


def latencies(call: Callable[[], httpx.Response], count: int) -> list[float]:
    out = []
    for _ in range(count):
        start = time.perf_counter()
        call().raise_for_status()
        out.append((time.perf_counter() - start) * 1000)
    return out


def p50(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def run_auth(args: argparse.Namespace, work: Path) -> None:
    print("\nAuthentication (API key) on vs off, same mesh:", flush=True)
    env = {"TRANSMUTE_BOOTSTRAP_ADMIN_KEY": KEY, "TRANSMUTE_SUBMIT_BURST": "100000"}
    mesh = Mesh.on_free_ports(
        work / "state-auth", log_dir=work / "logs-auth", extra_env=env, converters=["image"]
    )
    mesh.start()
    rounds, per_round = (2, 50) if args.quick else (5, 200)
    try:
        secured = mesh.start_gateway_replica(
            "gateway-auth", free_port(), free_port(), {"TRANSMUTE_AUTH_ENABLED": "true"}
        )
        with (
            httpx.Client(base_url=mesh.url, timeout=60) as off,
            httpx.Client(
                base_url=secured, timeout=60, headers={"Authorization": f"Bearer {KEY}"}
            ) as on,
        ):
            upload = off.post("/v1/files", params={"filename": "p.png"}, content=png()).json()
            job = off.post("/v1/jobs", json={"inputs": [upload["id"]], "target": "webp"}).json()
            body = {"inputs": [upload["id"]], "target": "webp", "cache": False}
            rows: dict[str, dict[str, list[float]]] = {"read": {}, "submit": {}}
            for name, client in (("off", off), ("on", on)):  # warm-up
                latencies(lambda c=client: c.get(f"/v1/jobs/{job['id']}"), 20)
                rows["read"][name], rows["submit"][name] = [], []
            for _ in range(rounds):  # alternating rounds: both see the same machine
                for name, client in (("off", off), ("on", on)):
                    rows["read"][name] += latencies(
                        lambda c=client: c.get(f"/v1/jobs/{job['id']}"), per_round
                    )
                    rows["submit"][name] += latencies(
                        lambda c=client: c.post("/v1/jobs", json=body), per_round // 4
                    )
            for row, label in (("read", "GET /v1/jobs/{id}"), ("submit", "POST /v1/jobs")):
                off_p50, on_p50 = p50(rows[row]["off"]), p50(rows[row]["on"])
                count = len(rows[row]["on"])
                report(f"(n) {label} p50, authentication off ({count})", f"{off_p50:.2f} ms")
                report(f"(n) {label} p50, API key", f"{on_p50:.2f} ms")
                report(
                    f"(n) {label}, authentication overhead p50",
                    f"{on_p50 - off_p50:+.2f} ms",
                    "target <= +1 ms",
                )
    finally:
        mesh.stop()
