"""PDF benchmarks: `compress strong` through the whole mesh against the bare Ghostscript
command with the same arguments (built by the engine's own command builder)."""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import time
from pathlib import Path

import httpx

from bench.common import report, wait_final
from scripts.mesh import Mesh
from tests import documents
from transmute_pdf.compress import ghostscript_command


def bare_gs(gs: str, src: Path, out: Path, dpi: int, quality: int) -> float:
    start = time.perf_counter()
    subprocess.run(
        ghostscript_command(gs, src, out, dpi, quality),
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - start


def through_mesh(client: httpx.Client, src: Path, options: dict) -> tuple[float, int]:
    start = time.perf_counter()
    with src.open("rb") as f:
        resp = client.post(
            "/v1/convert",
            files={"file": (src.name, f)},
            data={"target": "pdf", "operation": "compress", "options": json.dumps(options)},
        )
    resp.raise_for_status()
    job = wait_final(client, resp.json()["id"])
    assert job["status"] == "succeeded", job
    size = 0
    with client.stream("GET", job["outputs"][0]["url"], follow_redirects=True) as download:
        for chunk in download.iter_bytes():
            size += len(chunk)
    return time.perf_counter() - start, size


def run_pdf(args: argparse.Namespace, work: Path) -> None:
    gs = shutil.which("gs")
    if gs is None:
        print("\nPDF: Ghostscript is not installed (make install installs it as root)")
        return
    print("\nPDF (Ghostscript), embedded stores:", flush=True)
    pages = 10 if args.quick else 50
    src = documents.image_pdf(work / "scans.pdf", pages=pages)
    mesh = Mesh.on_free_ports(work / "state-pdf", log_dir=work / "logs-pdf")
    mesh.start()
    try:
        with httpx.Client(base_url=mesh.url, timeout=900) as client:
            options = {"level": "strong", "dpi": 150, "image_quality": 75}
            through_mesh(client, src, options)  # warm-up: worker, page cache
            bares, wholes, sizes = [], [], []
            for _ in range(1 if args.quick else 3):
                bares.append(bare_gs(gs, src, work / "bare.pdf", 150, 75))
                seconds, size = through_mesh(client, src, options)
                wholes.append(seconds)
                sizes.append(size)
            bare, whole = statistics.median(bares), statistics.median(wholes)
            name = f"(h) compress strong, {pages} scanned pages ({src.stat().st_size >> 20} MiB)"
            report(f"{name}, bare gs (median)", f"{bare:.2f} s")
            report(f"{name}, whole mesh (median)", f"{whole:.2f} s")
            report(f"{name}, ratio mesh / bare", f"{whole / bare:.2f}", "target <= 1.05")
            bare_size = (work / "bare.pdf").stat().st_size
            report(
                f"{name}, output bytes mesh / bare",
                f"{sizes[-1]} / {bare_size}",
                "target: equal",
            )
    finally:
        mesh.stop()
