"""Hostile and broken input: a clear error every time, no crash, nothing left behind."""

from __future__ import annotations

import httpx
import pytest

from scripts.mesh import Mesh
from tests import images
from tests.e2e.conftest import (
    MAX_UPLOAD,
    convert,
    final_state,
    objects_under,
    uploads_on_disk,
    uses_servers,
)

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize(
    ("data", "target", "options", "status", "code"),
    [
        (b"", "webp", None, 400, "empty_file"),
        (b"hello, I am text wearing a .png name", "webp", None, 415, "unsupported_media_type"),
        ("jpeg", "xcf", None, 422, "unsupported_target"),
        (b"%!PS-Adobe-3.0\n(/etc/passwd) (r) file\n", "pdf", None, 415, "unsupported_media_type"),
        (
            b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 9 9\n",
            "pdf",
            None,
            415,
            "unsupported_media_type",
        ),
        ("jpeg", "webp", "{not json", 400, "invalid_options"),
        ("jpeg", "webp", '{"width": -3}', 422, "invalid_options"),
        ("jpeg", "webp", '{"shape": "round"}', 422, "invalid_options"),
        ("jpeg", "heic", None, 422, "unsupported_target"),
    ],
    ids=[
        "empty",
        "text-as-png",
        "unknown-target",
        "postscript",
        "eps",
        "malformed-options",
        "bad-option-value",
        "unknown-option",
        "input-only-format",
    ],
)
def test_rejected_before_queueing(
    api: httpx.Client,
    mesh: Mesh,
    data: bytes | str,
    target: str,
    options: str | None,
    status: int,
    code: str,
) -> None:
    before = uploads_on_disk(mesh)
    payload = images.jpeg(32, 32) if data == "jpeg" else data
    resp = convert(api, payload, target, name="evil.png", options=options)  # type: ignore[arg-type]
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    assert uploads_on_disk(mesh) == before


def test_over_the_size_limit_is_413_and_nothing_is_stored(api: httpx.Client, mesh: Mesh) -> None:
    before = uploads_on_disk(mesh)
    big = images.jpeg(64, 64) + b"\0" * (MAX_UPLOAD + 1)
    resp = api.post("/v1/files", content=big, params={"filename": "big.jpg"})
    assert resp.status_code == 413
    assert resp.json()["error"]["code"] == "file_too_large"
    assert uploads_on_disk(mesh) == before
    if not uses_servers(mesh):
        assert list((mesh.state_dir / "objects" / "tmp").iterdir()) == []
    multipart = convert(api, big, "webp")
    assert multipart.status_code == 413
    assert uploads_on_disk(mesh) == before


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (images.truncated_jpeg(), "invalid_image"),
        (images.bomb_png(30000), "image_too_large"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 64, "invalid_image"),
    ],
    ids=["truncated-jpeg", "decompression-bomb", "png-header-only"],
)
def test_broken_images_fail_the_job_with_a_code(
    api: httpx.Client, mesh: Mesh, data: bytes, code: str
) -> None:
    resp = convert(api, data, "webp")
    assert resp.status_code == 202, resp.text
    done = final_state(api, resp.json()["id"])
    assert done["status"] == "failed"
    assert done["error"]["code"] == code, done["error"]
    assert done["outputs"] == []
    # The message names the problem, never where the service keeps its files.
    message = done["error"]["message"]
    assert str(mesh.state_dir) not in message and "/tmp" not in message
    assert "input-0" not in message
    assert objects_under(mesh, f"tenants/default/jobs/{done['id']}") == []
    # The converter is still alive and well.
    ok = convert(api, images.jpeg(16, 16), "png")
    assert final_state(api, ok.json()["id"])["status"] == "succeeded"


@pytest.mark.parametrize(
    "path", ["/v1/jobs/nope", "/v1/jobs/nope/events", "/v1/jobs/nope/outputs/x.webp"]
)
def test_unknown_job_is_404(api: httpx.Client, path: str) -> None:
    resp = api.get(path)
    assert resp.status_code == 404
    assert resp.json()["error"]["code"] == "job_not_found"


def test_job_api_validation(api: httpx.Client) -> None:
    unknown = api.post("/v1/jobs", json={"inputs": ["0" * 32], "target": "webp"})
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "file_not_found")
    broken = api.post("/v1/jobs", content=b"{oops", headers={"content-type": "application/json"})
    assert (broken.status_code, broken.json()["error"]["code"]) == (400, "invalid_json")
    missing = api.post("/v1/jobs", json={"target": "webp"})
    assert (missing.status_code, missing.json()["error"]["code"]) == (422, "invalid_request")
    none = api.post("/v1/jobs", json={"inputs": [], "target": "webp"})
    assert (none.status_code, none.json()["error"]["code"]) == (422, "invalid_request")
    route = api.get("/v1/nothing-here")
    assert (route.status_code, route.json()["error"]["code"]) == (404, "not_found")
