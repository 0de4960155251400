"""The result cache through the whole mesh: the same bytes, request and engine complete
at once from the kept outputs; anything different, or an opt-out, converts again."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

from scripts.mesh import Mesh
from tests import images
from tests.e2e.conftest import convert, final_state

pytestmark = pytest.mark.e2e


def test_the_same_request_is_served_from_the_kept_result(mesh: Mesh, api: httpx.Client) -> None:
    # Bytes no other test sends: a JPEG with a comment of its own.
    data = images.jpeg(240, 160) + f"{uuid.uuid4()}".encode()
    options = json.dumps({"width": 120, "quality": 70})
    first = convert(api, data, "webp", "a.jpg", options, cache=True)
    assert first.status_code == 202 and first.json()["cached"] is False
    done = final_state(api, first.json()["id"])
    assert done["status"] == "succeeded"
    # Another name, options in another order: the same request.
    reordered = json.dumps({"quality": 70, "width": 120})
    again = convert(api, data, "webp", "b.jpg", reordered, cache=True)
    assert again.status_code == 202
    cached = again.json()
    assert cached["cached"] is True and cached["status"] == "succeeded"
    assert cached["id"] != done["id"] and cached["expires_at"] == done["expires_at"]
    assert cached["progress"]["percent"] == 100
    original = api.get(done["outputs"][0]["url"]).content
    # The same stored output, named after this job's input.
    assert [o["name"] for o in cached["outputs"]] == ["b.webp"]
    reused = api.get(cached["outputs"][0]["url"])
    assert reused.content == original and "b.webp" in reused.headers["content-disposition"]
    assert images.dimensions(original)[0] == 120
    assert final_state(api, cached["id"])["cached"] is True
    # Other options, another target, or asking for a fresh conversion: converted.
    other_options = json.dumps({"width": 100, "quality": 70})
    other = convert(api, data, "webp", "c.jpg", other_options, cache=True)
    assert other.json()["cached"] is False
    fresh = api.post(
        "/v1/convert",
        files={"file": ("d.jpg", data), "target": (None, "webp"), "options": (None, options),
               "cache": (None, "false")},
    )  # fmt: skip
    assert fresh.status_code == 202 and fresh.json()["cached"] is False
    assert final_state(api, fresh.json()["id"])["status"] == "succeeded"
    uploaded = api.post("/v1/files", params={"filename": "e.jpg"}, content=data).json()
    body = {"inputs": [uploaded["id"]], "target": "webp", "options": json.loads(options)}
    assert api.post("/v1/jobs", json=body).json()["cached"] is True
    assert api.post("/v1/jobs", json={**body, "cache": False}).json()["cached"] is False


def test_every_converter_states_its_engine_version(api: httpx.Client) -> None:
    services = api.get("/v1/formats").json()["services"]
    versions = {s["service"]: s["engine_version"] for s in services}
    assert set(versions) == {"image", "audio", "pdf", "model3d"}
    assert all(len(v) == 16 for v in versions.values()), versions
