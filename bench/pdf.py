"""PDF benchmarks: `compress strong` through the whole mesh against the bare Ghostscript
command with the same arguments (built by the engine's own command builder), and
office_to_pdf throughput against a cold LibreOffice per file (Gotenberg's model)."""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import time
from pathlib import Path

import httpx
import pypdfium2 as pdfium
import pyvips

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
            data={
                "target": "pdf",
                "operation": "compress",
                "options": json.dumps(options),
                "cache": "false",
            },
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
            pages_to_webp(client, work, 10 if args.quick else 50)
            if shutil.which(documents.SOFFICE):
                office_throughput(client, work, 12 if args.quick else 60)
    finally:
        mesh.stop()


def office_throughput(client: httpx.Client, work: Path, count: int) -> None:
    """``count`` small DOCX submitted at once through the mesh (each worker keeps a
    LibreOffice warm) against ``soffice --convert-to pdf`` started cold for each file."""
    made = documents.office_documents(work / "office")
    docx = made["docx"].read_bytes()
    files = []
    for i in range(count):
        path = work / "office" / f"letter-{i}.docx"
        path.write_bytes(docx)
        files.append(path)
    # One profile for all cold runs, made before timing: only the start is cold.
    profile = (work / "office" / "cold-profile").as_uri()
    cold_run = [documents.SOFFICE, f"-env:UserInstallation={profile}", "--headless"]
    subprocess.run([*cold_run, "--terminate_after_init"], check=True, capture_output=True)
    start = time.perf_counter()
    for path in files:
        subprocess.run(
            [*cold_run, "--convert-to", "pdf", "--outdir", str(work / "office" / "cold"),
             str(path)],
            check=True, capture_output=True,
        )  # fmt: skip
    cold = time.perf_counter() - start
    # One warm-up job per worker: the instances start once per worker's life.
    warm = [_submit_docx(client, docx) for _ in range(2)]
    for job_id in warm:
        wait_final(client, job_id)
    start = time.perf_counter()
    ids = [_submit_docx(client, docx) for _ in range(count)]
    for job_id in ids:
        assert wait_final(client, job_id)["status"] == "succeeded"
    pooled = time.perf_counter() - start
    name = f"(i) office_to_pdf, {count} small DOCX"
    report(f"{name}, cold soffice per file", f"{count / cold * 60:.0f} documents/min")
    report(f"{name}, through the mesh at once", f"{count / pooled * 60:.0f} documents/min")
    report(f"{name}, throughput ratio mesh / cold", f"{cold / pooled:.1f}", "target >= 2")


def _submit_docx(client: httpx.Client, data: bytes) -> str:
    resp = client.post(
        "/v1/convert",
        files={"file": ("letter.docx", data)},
        data={"target": "pdf", "operation": "office_to_pdf", "cache": "false"},
    )
    resp.raise_for_status()
    return str(resp.json()["id"])


def bare_pages_to_webp(src: Path, out_dir: Path, dpi: int, quality: int) -> float:
    """pypdfium2 renders each page, pyvips encodes it: one process, nothing between."""
    out_dir.mkdir(exist_ok=True)
    start = time.perf_counter()
    doc = pdfium.PdfDocument(src)
    try:
        for i in range(len(doc)):
            bitmap = doc[i].render(scale=dpi / 72, rev_byteorder=True, may_draw_forms=False)
            image = pyvips.Image.new_from_array(bitmap.to_numpy())
            image.webpsave(str(out_dir / f"page-{i + 1}.webp"), Q=quality, effort=4)
    finally:
        doc.close()
    return time.perf_counter() - start


def pages_to_webp(client: httpx.Client, work: Path, pages: int) -> None:
    """to_images of every page at 150 DPI to WebP through the mesh (the PDF service
    renders PNG, the image service encodes WebP) against the bare engines."""
    src = documents.image_pdf(work / "pages.pdf", pages=pages)
    bare = bare_pages_to_webp(src, work / "bare-pages", 150, 80)
    start = time.perf_counter()
    with src.open("rb") as f:
        resp = client.post(
            "/v1/convert",
            files={"file": (src.name, f)},
            data={
                "target": "webp",
                "operation": "to_images",
                "options": '{"dpi": 150}',
                "cache": "false",
            },
        )
    resp.raise_for_status()
    job = wait_final(client, resp.json()["id"])
    assert job["status"] == "succeeded", job
    for output in job["outputs"]:
        client.get(output["url"], follow_redirects=True).raise_for_status()
    whole = time.perf_counter() - start
    name = f"(j) to_images, {pages} pages at 150 DPI -> WebP"
    report(f"{name}, bare pypdfium2 + pyvips", f"{bare:.2f} s")
    report(f"{name}, whole mesh (upload..downloads)", f"{whole:.2f} s")
    report(f"{name}, ratio mesh / bare", f"{whole / bare:.2f}")
