"""The Python SDK (sync and async) and the installed `transmute` command against the
running mesh, in both store passes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from scripts.mesh import Mesh
from tests import images
from transmute_client import (
    AsyncClient,
    Client,
    ConflictError,
    InvalidRequestError,
    Job,
    NotFoundError,
)

pytestmark = pytest.mark.e2e
WEBP = (b"RIFF", b"WEBP")


def is_webp(data: bytes) -> bool:
    return data[:4] == WEBP[0] and data[8:12] == WEBP[1]


def test_sdk_converts_with_progress_and_events(mesh: Mesh, tmp_path: Path) -> None:
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(images.jpeg(400, 300))
    sent: list[int] = []
    events: list[Job] = []
    with Client(mesh.url) as tm:
        job = tm.convert(photo, "webp", {"width": 100}, progress=lambda n, _: sent.append(n))
        assert sent[-1] == photo.stat().st_size
        done = tm.wait(job.id, events.append)
        assert done.status == "succeeded" and events[-1].status == "succeeded"
        assert [e.percent for e in events] == sorted(e.percent for e in events)
        saved = tm.download(done, done.outputs[0].name, tmp_path)
        assert saved.parent == tmp_path and is_webp(saved.read_bytes())
        assert images.dimensions(saved.read_bytes())[:2] == (100, 75)
        assert job.id in {j.id for j in tm.jobs(page_size=100)[0]}
        assert any(s["service"] == "image" for s in tm.formats())
        # A retried submission with the same key is the same job.
        uploaded = tm.upload(photo)
        first = tm.submit([uploaded.id], "png", idempotency_key="sdk-retry-1")
        again = tm.submit([uploaded.id], "png", idempotency_key="sdk-retry-1")
        assert first.id == again.id


def test_sdk_raises_the_apis_errors(mesh: Mesh, tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    with Client(mesh.url) as tm:
        with pytest.raises(NotFoundError) as missing:
            tm.job("0" * 32)
        assert missing.value.code == "job_not_found" and missing.value.status == 404
        uploaded = tm.upload(text)  # stored; no converter reads it
        assert uploaded.format == "unknown"
        with pytest.raises(InvalidRequestError) as refused:
            tm.submit([uploaded.id], "webp")
        assert (refused.value.status, refused.value.code) == (415, "unsupported_media_type")
        assert "supported" in refused.value.details


async def test_async_client(mesh: Mesh, tmp_path: Path) -> None:
    picture = tmp_path / "p.png"
    picture.write_bytes(images.png())
    async with AsyncClient(mesh.url) as tm:
        job = await tm.convert(picture, "webp")
        done = await tm.wait(job.id)
        assert done.status == "succeeded"
        with pytest.raises(ConflictError) as finished:
            await tm.cancel(job.id)
        assert finished.value.code == "job_finished"
        saved = await tm.download(job.id, done.outputs[0].name, tmp_path / "out.webp")
        assert is_webp(saved.read_bytes())


def transmute(mesh: Mesh, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    command = Path(sys.executable).parent / "transmute"
    return subprocess.run(
        [str(command), "--url", mesh.url, *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
    )


def test_cli_converts_a_directory_in_parallel(mesh: Mesh, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    (folder / "nested").mkdir(parents=True)
    (folder / "a.jpg").write_bytes(images.jpeg(320, 240))
    (folder / "nested" / "b.png").write_bytes(images.png())
    done = transmute(
        mesh, "--json", "convert", "in", "--to", "webp", "-o", "out", "--option", "width=64",
        "-j", "2", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)
    assert sorted(Path(r["path"]).name for r in results) == ["a.jpg", "b.png"]
    for result in results:
        assert result["status"] == "succeeded" and result["size_after"] > 0
        [output] = result["outputs"]
        data = (tmp_path / output).read_bytes()
        assert is_webp(data) and images.dimensions(data)[0] == 64
    # A file no converter reads fails its row and the exit status, the others still run.
    (folder / "notes.txt").write_text("not an image")
    mixed = transmute(mesh, "--json", "convert", "in", "--to", "png", "-o", "out2", cwd=tmp_path)
    assert mixed.returncode == 1
    rows = {Path(r["path"]).name: r for r in json.loads(mixed.stdout)}
    assert rows["notes.txt"]["status"] == "failed"
    assert rows["notes.txt"]["error"].startswith("unsupported_media_type")
    assert rows["a.jpg"]["status"] == "succeeded"
    # The table for people, with progress on stderr.
    people = transmute(mesh, "convert", "in/a.jpg", "--to", "png", "-o", "out3", cwd=tmp_path)
    assert people.returncode == 0 and "succeeded" in people.stdout


def test_cli_jobs_and_formats(mesh: Mesh, tmp_path: Path) -> None:
    (tmp_path / "a.jpg").write_bytes(images.jpeg(100, 80))
    done = transmute(mesh, "--json", "convert", "a.jpg", "--to", "png", "-o", ".", cwd=tmp_path)
    [row] = json.loads(done.stdout)
    listed = transmute(mesh, "--json", "jobs", "list", "--limit", "50", cwd=tmp_path)
    assert row["job_id"] in {j["id"] for j in json.loads(listed.stdout)}
    watched = transmute(mesh, "--json", "jobs", "watch", row["job_id"], cwd=tmp_path)
    assert watched.returncode == 0 and json.loads(watched.stdout)["status"] == "succeeded"
    fetched = transmute(
        mesh, "--json", "jobs", "download", row["job_id"], "-o", "again", cwd=tmp_path
    )
    [path] = json.loads(fetched.stdout)
    assert (tmp_path / path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    formats = transmute(mesh, "--json", "formats", cwd=tmp_path)
    assert "image" in {s["service"] for s in json.loads(formats.stdout)}
    missing = transmute(mesh, "jobs", "watch", "0" * 32, cwd=tmp_path)
    assert missing.returncode == 1 and "job_not_found" in missing.stderr
    for usage in (
        ["convert", "nowhere.jpg", "--to", "png"],
        ["convert", "a.jpg", "--to", "png", "--option", "novalue"],
        ["convert", "a.jpg"],
    ):
        assert transmute(mesh, *usage, cwd=tmp_path).returncode == 2, usage
