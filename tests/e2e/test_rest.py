"""End to end over REST: the whole mesh converts real images."""

from __future__ import annotations

import httpx
import pymongo
import pytest

from scripts.mesh import Mesh
from tests import images
from tests.e2e.conftest import convert, events, final_state, objects_under, uses_servers

pytestmark = pytest.mark.e2e


def test_curl_style_convert_to_webp(api: httpx.Client, mesh: Mesh) -> None:
    resp = convert(api, images.jpeg(800, 600), "webp", options='{"width": 400}')
    assert resp.status_code == 202, resp.text
    job = resp.json()
    assert job["status"] == "queued" and job["target"] == "webp"
    assert job["options"] == {"width": 400}
    stream = events(api, job["id"])
    assert stream[-1][0] == "final"
    done = stream[-1][1]
    assert done["status"] == "succeeded", done
    percents = [e[1]["progress"]["percent"] for e in stream]
    assert percents == sorted(percents)
    [output] = done["outputs"]
    assert output["name"] == "photo.webp" and output["content_type"] == "image/webp"
    download = api.get(output["url"])
    assert download.status_code == 200
    if uses_servers(mesh):
        # A redirect to a working presigned MinIO URL, and the job is in the Mongo-wire server.
        assert [r.status_code for r in download.history] == [307]
        assert "X-Amz-Signature" in str(download.url)
        with pymongo.MongoClient(mesh.extra_env["TRANSMUTE_JOB_STORE_URL"]) as mongo:
            doc = mongo.get_default_database().jobs.find_one({"_id": job["id"]})
        assert doc is not None and doc["status"] == "succeeded"
    else:
        assert download.history == []
    assert download.headers["content-type"] == "image/webp"
    assert len(download.content) == output["size"]
    assert images.loader(download.content).startswith("webpload")
    assert images.dimensions(download.content)[:2] == (400, 300)


def test_upload_then_job_with_idempotency_key(api: httpx.Client) -> None:
    up = api.post("/v1/files", content=images.png(80, 60), params={"filename": "pic.png"})
    assert up.status_code == 201, up.text
    f = up.json()
    assert (f["format"], f["content_type"], f["name"]) == ("png", "image/png", "pic.png")
    body = {"inputs": [f["id"]], "target": "jpeg", "options": {"quality": 70}}
    first = api.post("/v1/jobs", json=body, headers={"Idempotency-Key": "order-42"})
    again = api.post("/v1/jobs", json=body, headers={"Idempotency-Key": "order-42"})
    assert first.status_code == again.status_code == 202
    assert first.json()["id"] == again.json()["id"]
    done = final_state(api, first.json()["id"])
    assert done["status"] == "succeeded"
    out = api.get(done["outputs"][0]["url"]).content
    assert images.loader(out).startswith("jpegload")


def test_idempotency_key_reused_for_a_different_request(api: httpx.Client) -> None:
    up = api.post("/v1/files", content=images.png(40, 30), params={"filename": "k.png"})
    body = {"inputs": [up.json()["id"]], "target": "webp"}
    first = api.post("/v1/jobs", json=body, headers={"Idempotency-Key": "reuse-1"})
    assert first.status_code == 202, first.text
    other = api.post(
        "/v1/jobs", json={**body, "target": "png"}, headers={"Idempotency-Key": "reuse-1"}
    )
    assert other.status_code == 422, other.text
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    changed = api.post(
        "/v1/jobs", json={**body, "options": {"width": 9}}, headers={"Idempotency-Key": "reuse-1"}
    )
    assert changed.status_code == 422
    replay = api.post("/v1/jobs", json=body, headers={"Idempotency-Key": "reuse-1"})
    assert replay.status_code == 202 and replay.json()["id"] == first.json()["id"]


def test_convert_replayed_with_its_key_keeps_no_second_upload(
    api: httpx.Client, mesh: Mesh
) -> None:
    data = images.png(30, 20)
    headers = {"Idempotency-Key": "convert-replay-1"}
    first = convert(api, data, "webp", name="r.png", headers=headers)
    uploads = set(objects_under(mesh, "tenants/default/uploads/"))
    again = convert(api, data, "webp", name="r.png", headers=headers)
    assert again.status_code == 202 and again.json()["id"] == first.json()["id"]
    assert set(objects_under(mesh, "tenants/default/uploads/")) == uploads
    other = convert(api, images.png(31, 20), "webp", name="r.png", headers=headers)
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    assert set(objects_under(mesh, "tenants/default/uploads/")) == uploads


def test_multipart_upload_endpoint(api: httpx.Client) -> None:
    up = api.post("/v1/files", files={"file": ("a.gif", images.animated_gif())})
    assert up.status_code == 201
    assert up.json()["format"] == "gif"


def test_png_named_jpg_is_converted_as_png(api: httpx.Client) -> None:
    resp = convert(api, images.png(50, 40, alpha=True), "webp", name="really-a-png.jpg")
    assert resp.status_code == 202
    assert resp.json()["inputs"][0]["content_type"] == "image/png"
    done = final_state(api, resp.json()["id"])
    assert done["status"] == "succeeded"
    assert images.dimensions(api.get(done["outputs"][0]["url"]).content)[:2] == (50, 40)


def test_animated_gif_to_webp_keeps_frames(api: httpx.Client) -> None:
    resp = convert(api, images.animated_gif(frames=6, size=24), "webp", name="anim.gif")
    done = final_state(api, resp.json()["id"])
    assert images.dimensions(api.get(done["outputs"][0]["url"]).content) == (24, 24, 6)


def test_get_list_and_cancel(api: httpx.Client) -> None:
    ids = [convert(api, images.jpeg(32, 32), "png").json()["id"] for _ in range(3)]
    for job_id in ids:
        assert api.get(f"/v1/jobs/{job_id}").json()["id"] == job_id
    page = api.get("/v1/jobs", params={"page_size": 2}).json()
    assert len(page["jobs"]) == 2 and page["next_page_token"]
    nxt = api.get("/v1/jobs", params={"page_size": 2, "page_token": page["next_page_token"]})
    assert nxt.status_code == 200
    assert not {j["id"] for j in page["jobs"]} & {j["id"] for j in nxt.json()["jobs"]}
    for job_id in ids:
        final_state(api, job_id)
    again = api.delete(f"/v1/jobs/{ids[0]}")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "job_finished"


def test_cancel_a_queued_job(api: httpx.Client, mesh: Mesh) -> None:
    # Three slow jobs occupy both workers; the last is still queued when cancelled.
    slow = images.gradient(3000, 2000).jpegsave_buffer()
    ids = [convert(api, slow, "avif").json()["id"] for _ in range(3)]
    cancelled = api.delete(f"/v1/jobs/{ids[-1]}")
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert final_state(api, ids[-1])["status"] == "cancelled"
    for job_id in ids[:-1]:
        final_state(api, job_id)
    assert objects_under(mesh, f"tenants/default/jobs/{ids[-1]}") == []


def test_formats_health_and_docs(api: httpx.Client) -> None:
    services = {s["service"]: s for s in api.get("/v1/formats").json()["services"]}
    conv = services["image"]["conversions"][0]
    assert "heic" in conv["inputs"] and "avif" in conv["outputs"]
    assert {o["name"] for o in services["image"]["options"]} >= {"width", "quality", "strip"}
    assert api.get("/healthz").json() == {"status": "ok"}
    ready = api.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"nats": "ok", "object_store": "ok", "jobs": "ok"}
    assert "/v1/convert" in api.get("/openapi.json").json()["paths"]
