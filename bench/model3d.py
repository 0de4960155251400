"""3D rows: a million-face mesh decimated and converted through the whole mesh against
the bare library calls, and the 3D service's peak memory doing it."""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import fast_simplification
import httpx
import numpy as np
import trimesh

from bench.audio import PeakSampler, tree_memory_mb
from bench.common import report, wait_final
from scripts.mesh import Mesh
from tests.models import torus


def through_mesh(
    client: httpx.Client, src: Path, target: str, operation: str, options: dict
) -> float:
    """Upload, job and download, as a client sees it."""
    start = time.perf_counter()
    with src.open("rb") as f:
        resp = client.post(
            "/v1/convert",
            files={"file": (src.name, f)},
            data={
                "target": target,
                "operation": operation,
                "options": json.dumps(options),
                "cache": "false",
            },
        )
    resp.raise_for_status()
    job = wait_final(client, resp.json()["id"])
    assert job["status"] == "succeeded", job
    with client.stream("GET", job["outputs"][0]["url"], follow_redirects=True) as download:
        for _ in download.iter_bytes():
            pass
    return time.perf_counter() - start


def bare_decimate(mesh: trimesh.Trimesh, faces: int) -> float:
    points, triangles = mesh.vertices.astype(np.float32), mesh.faces.astype(np.int32)
    start = time.perf_counter()
    fast_simplification.simplify(points, triangles, target_count=faces)
    return time.perf_counter() - start


def bare_stl_to_glb(src: Path, out: Path) -> float:
    start = time.perf_counter()
    trimesh.load(src, file_type="stl").export(out, file_type="glb")
    return time.perf_counter() - start


def compare(
    name: str, bare_name: str, bare: Callable[[], float], whole: Callable[[], float], runs: int
) -> None:
    """Alternating rounds; medians, and the fastest of each (the cost left when the
    neighbours' noise on a shared machine is least)."""
    bares, wholes = [], []
    for _ in range(runs):
        bares.append(bare())
        wholes.append(whole())
    report(f"{name}, {bare_name}", f"{statistics.median(bares):.2f} s")
    report(f"{name}, whole mesh (upload..download)", f"{statistics.median(wholes):.2f} s")
    ratio = statistics.median(wholes) / statistics.median(bares)
    report(f"{name}, ratio mesh / bare", f"{ratio:.2f}", "target <= 1.15")
    report(
        f"{name}, ratio mesh / bare, fastest runs",
        f"{min(wholes) / min(bares):.2f}",
        f"{min(wholes):.2f} s / {min(bares):.2f} s",
    )


def run_model3d(args: argparse.Namespace, work: Path) -> None:
    print("\n3D (trimesh, fast-simplification), embedded stores:", flush=True)
    faces = 250_000 if args.quick else 1_000_000
    mesh_ = torus(faces)
    count = len(mesh_.faces)
    ply, stl = work / "torus.ply", work / "torus.stl"
    mesh_.export(ply, file_type="ply")
    mesh_.export(stl, file_type="stl")
    runs = 1 if args.quick else 5
    mesh = Mesh.on_free_ports(work / "state-model3d", log_dir=work / "logs-model3d")
    mesh.start()
    try:
        with httpx.Client(base_url=mesh.url, timeout=900) as client:
            target = count // 10
            options = {"face_limit": target}
            for _ in range(2):  # warm-up: each of the two workers once
                through_mesh(client, ply, "ply", "decimate", options)
            # Timed without the memory sampler: reading a big process's page tables
            # 20 times a second slows the job it measures.
            compare(
                f"(k) decimate {count} -> {target} faces",
                "bare fast-simplification",
                lambda: bare_decimate(mesh_, target),
                lambda: through_mesh(client, ply, "ply", "decimate", options),
                runs,
            )
            for _ in range(2):
                through_mesh(client, stl, "glb", "convert", {})
            # Both join the STL's separate corners into shared vertices; the service
            # by exact hashing (weld.py), trimesh by rounding and three sorts.
            compare(
                f"(l) STL -> GLB, {count} faces ({stl.stat().st_size >> 20} MiB)",
                "bare trimesh load + export",
                lambda: bare_stl_to_glb(stl, work / "bare.glb"),
                lambda: through_mesh(client, stl, "glb", "convert", {}),
                runs,
            )
            with PeakSampler(mesh.procs["model3d"].pid) as sampled:
                through_mesh(client, ply, "ply", "decimate", options)
                through_mesh(client, stl, "glb", "convert", {})
            peak = max(rss for rss, _ in sampled.samples)
            report(f"(m) 3D service peak RSS (service + workers), {count} faces", f"{peak:.0f} MB")
            time.sleep(3)  # idle workers give back what the jobs freed
            idle, _ = tree_memory_mb(mesh.procs["model3d"].pid)
            report("(m) 3D service RSS idle again after those jobs", f"{idle:.0f} MB")
    finally:
        mesh.stop()
