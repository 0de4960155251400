"""The 3D converter through the whole mesh: every model format recognised by content,
conversion, decimation and analysis over REST, a conversion over gRPC, and hostile
models failed with a code."""

from __future__ import annotations

import base64
import io
import json
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import pytest
import trimesh
from google.protobuf import struct_pb2
from PIL import Image

from scripts.mesh import Mesh
from tests import images, models
from tests.e2e.conftest import convert, events, final_state, objects_under, wait_for
from tests.model_api_server import ModelApiServer, model_api_server
from transmute.gateway.v1 import gateway_pb2, gateway_pb2_grpc

pytestmark = pytest.mark.e2e


def model_bytes(mesh: trimesh.Trimesh, fmt: str) -> bytes:
    with tempfile.TemporaryDirectory() as work:
        return models.write(mesh, Path(work) / f"m.{fmt}").read_bytes()


def read(data: bytes, fmt: str) -> trimesh.Trimesh:
    mesh = trimesh.load(io.BytesIO(data), file_type=fmt, force="mesh")
    assert isinstance(mesh, trimesh.Trimesh)
    return mesh


def finished(api: httpx.Client, resp: httpx.Response) -> dict:  # type: ignore[type-arg]
    assert resp.status_code == 202, resp.text
    return final_state(api, resp.json()["id"])


def test_formats_list_the_3d_operations(api: httpx.Client) -> None:
    services = {s["service"]: s for s in api.get("/v1/formats").json()["services"]}
    model3d = {c["operation"]: c for c in services["model3d"]["conversions"]}
    assert set(model3d) == {"convert", "decimate", "repair", "analyze", "thumbnail", "image_to_3d"}
    assert model3d["image_to_3d"]["max_inputs"] == 20
    assert {"webp", "heic", "svg"} <= set(model3d["image_to_3d"]["inputs"])
    assert set(model3d["convert"]["inputs"]) == {*models.FORMATS, "zip"}
    assert set(model3d["convert"]["outputs"]) == set(models.FORMATS)
    assert model3d["analyze"]["outputs"] == ["json"]
    options = {o["name"]: o for o in services["model3d"]["options"]}
    assert options["face_limit"]["operations"] == ["decimate", "image_to_3d"]
    assert options["mode"]["choices"] == ["relief", "lithophane"]


@pytest.mark.parametrize("source", models.FORMATS)
def test_each_format_is_recognised_and_becomes_glb(api: httpx.Client, source: str) -> None:
    sphere = models.sphere(3)
    # The name says nothing: the type comes from the bytes.
    job = finished(api, convert(api, model_bytes(sphere, source), "glb", name="upload.bin"))
    assert job["status"] == "succeeded", job.get("error")
    [out] = job["outputs"]
    data = api.get(out["url"], follow_redirects=True).content
    assert len(read(data, "glb").faces) == len(sphere.faces)
    assert out["details"]["output"]["faces"] == len(sphere.faces)


def test_an_obj_package_becomes_a_textured_glb(api: httpx.Client, tmp_path: Path) -> None:
    package = models.textured_quad_package(tmp_path / "quad.zip").read_bytes()
    job = finished(api, convert(api, package, "glb", name="quad.zip"))
    assert job["status"] == "succeeded", job.get("error")
    [out] = job["outputs"]
    assert out["name"] == "quad.glb"
    scene = trimesh.load(io.BytesIO(api.get(out["url"]).content), file_type="glb")
    [quad] = scene.geometry.values()
    assert quad.visual.material.baseColorTexture.size == (64, 32)


def test_decimate_and_analyze(api: httpx.Client) -> None:
    sphere = model_bytes(models.sphere(5), "ply")
    options = json.dumps({"face_limit": 1000})
    resp = api.post(
        "/v1/convert",
        files={"file": ("ball.ply", sphere)},
        data={"target": "stl", "operation": "decimate", "options": options},
    )
    job = finished(api, resp)
    assert job["status"] == "succeeded", job.get("error")
    [out] = job["outputs"]
    assert out["name"] == "ball.stl"
    assert 990 <= out["details"]["decimation"]["faces_after"] <= 1000
    smaller = api.get(out["url"], follow_redirects=True).content
    resp = api.post(
        "/v1/convert",
        files={"file": ("ball.stl", smaller)},
        data={"target": "json", "operation": "analyze"},
    )
    job = finished(api, resp)
    assert job["status"] == "succeeded", job.get("error")
    report = json.loads(api.get(job["outputs"][0]["url"], follow_redirects=True).content)
    assert report["faces"] == out["details"]["decimation"]["faces_after"]
    assert report["watertight"] is True and report["bodies"] == 1


def test_a_repair_with_its_thumbnail(api: httpx.Client) -> None:
    broken = models.box()
    broken.update_faces(list(range(1, 12)))  # one face missing: not watertight
    options = json.dumps({"thumbnail": True, "size": 128})
    resp = api.post(
        "/v1/convert",
        files={"file": ("part.obj", model_bytes(broken, "obj"))},
        data={"target": "stl", "operation": "repair", "options": options},
    )
    job = finished(api, resp)
    assert job["status"] == "succeeded", job.get("error")
    model, picture = job["outputs"]
    assert (model["name"], picture["name"]) == ("part-model.stl", "part-thumbnail.png")
    assert model["details"]["repair"]["watertight"] is True
    assert picture["content_type"] == "image/png" and picture["details"]["width"] == 128
    png = api.get(picture["url"], follow_redirects=True).content
    assert png.startswith(b"\x89PNG")
    assert read(api.get(model["url"], follow_redirects=True).content, "stl").is_watertight


def test_pictures_become_models_through_the_image_service(api: httpx.Client) -> None:
    """A WebP and a JPEG: the image service makes each a grey PNG at the resolution,
    the 3D service a solid of it; one job, one model each, in order."""
    ids = []
    for name, data in (
        ("a.webp", images.gradient(300, 200).webpsave_buffer()),
        ("b.jpg", images.jpeg(120, 240)),
    ):
        resp = api.post("/v1/files", content=data, params={"filename": name})
        assert resp.status_code == 201, resp.text
        ids.append(resp.json()["id"])
    body = {"inputs": ids, "operation": "image_to_3d", "target": "stl",
            "options": {"resolution": 64, "width": 50}}  # fmt: skip
    resp = api.post("/v1/jobs", json=body)
    job = finished(api, resp)
    assert job["status"] == "succeeded", job.get("error")
    first, second = job["outputs"]
    assert (first["name"], second["name"]) == ("a-1-a.stl", "a-2-b.stl")
    # Resized by the image service within 64 pixels a side, keeping the aspect ratio.
    assert first["details"]["picture"] == {"width": 64, "height": 43}
    assert second["details"]["picture"] == {"width": 32, "height": 64}
    solid = read(api.get(first["url"]).content, "stl")
    assert solid.is_watertight and solid.extents[0] == pytest.approx(50, abs=0.01)


def test_hostile_models_fail_with_a_code(api: httpx.Client) -> None:
    evil = b"mtllib ../../../etc/passwd\nv 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n"
    job = finished(api, convert(api, evil, "stl", name="evil.obj"))
    assert job["status"] == "failed" and job["error"]["code"] == "external_reference", job
    cut = model_bytes(models.sphere(2), "stl")[:-70]
    job = finished(api, convert(api, cut, "glb", name="cut.stl"))
    assert job["status"] == "failed" and job["error"]["code"] == "invalid_model", job
    text = b"solid ground is what this text is about, named model.stl\n"
    resp = convert(api, text, "glb", name="model.stl")
    assert resp.status_code == 415, resp.text


def test_sigkill_of_the_3d_converter_mid_job(api: httpx.Client, mesh: Mesh, tmp_path: Path) -> None:
    """A million faces decimated take seconds: the service dies in the middle, the job
    is delivered again and ends with its one output, stored once."""
    src = models.write(models.torus(1_000_000), tmp_path / "torus.ply")
    with src.open("rb") as f:
        ident = api.post("/v1/files", content=f, params={"filename": src.name}).json()["id"]
    body = {"inputs": [ident], "operation": "decimate", "target": "ply",
            "options": {"face_limit": 5000}}  # fmt: skip
    job_id = api.post("/v1/jobs", json=body).json()["id"]
    wait_for(lambda: api.get(f"/v1/jobs/{job_id}").json()["progress"]["phase"] == "convert")
    mesh.kill("model3d", signal.SIGKILL)
    assert api.get(f"/v1/jobs/{job_id}").json()["status"] == "running"
    mesh.start_service("model3d")
    done = final_state(api, job_id)
    assert done["status"] == "succeeded", done.get("error")
    assert done["attempts"] >= 2
    [out] = done["outputs"]
    assert out["name"] == "torus.ply" and out["details"]["decimation"]["faces_after"] <= 5000
    assert objects_under(mesh, f"tenants/default/jobs/{job_id}") == [
        f"tenants/default/jobs/{job_id}/torus.ply"
    ]


def test_convert_over_grpc(channel: grpc.Channel) -> None:
    stub = gateway_pb2_grpc.GatewayServiceStub(channel)
    box = models.box()

    def send():  # type: ignore[no-untyped-def]
        yield gateway_pb2.UploadRequest(metadata=gateway_pb2.UploadMetadata(filename="box.obj"))
        yield gateway_pb2.UploadRequest(chunk=model_bytes(box, "obj"))

    ident = stub.Upload(send()).id
    job = stub.SubmitJob(
        gateway_pb2.SubmitJobRequest(
            inputs=[ident], target="off", operation="convert", options=struct_pb2.Struct()
        )
    )
    states = list(stub.WatchJob(gateway_pb2.WatchJobRequest(id=job.id)))
    assert states[-1].status == gateway_pb2.JOB_STATUS_SUCCEEDED, states[-1]
    [out] = states[-1].outputs
    data = b"".join(
        c.chunk for c in stub.Download(gateway_pb2.DownloadRequest(job_id=job.id, name=out.name))
    )
    assert len(read(data, "off").faces) == 12


@pytest.fixture(scope="module")
def remote_mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Mesh, ModelApiServer]]:
    """A mesh whose 3D service is configured with a hosted image-to-3D API: the local
    server that speaks its protocol."""
    work = tmp_path_factory.mktemp("remote")
    with model_api_server() as api:
        api.model = models.write(models.sphere(3), work / "made.glb").read_bytes()
        env = {
            "TRANSMUTE_IMAGE_TO_3D_URL": api.url,
            "TRANSMUTE_IMAGE_TO_3D_KEY": "mesh-secret",
            "TRANSMUTE_IMAGE_TO_3D_POLL_SECONDS": "0.05",
        }
        mesh = Mesh.on_free_ports(work / "state", log_dir=work / "logs", extra_env=env)
        mesh.start()
        try:
            yield mesh, api
        finally:
            mesh.stop()


def test_a_picture_becomes_the_model_a_hosted_api_makes(
    remote_mesh: tuple[Mesh, ModelApiServer],
) -> None:
    mesh, model_api = remote_mesh
    # Queued for about two seconds: long enough for the job to show it (progress is
    # reported at most twice a second).
    model_api.statuses = [{"status": "IN_QUEUE", "queue_position": 1}] * 8 + [
        {"status": "COMPLETED"}
    ]
    with httpx.Client(base_url=mesh.url, timeout=60, follow_redirects=True) as api:
        services = {s["service"]: s for s in api.get("/v1/formats").json()["services"]}
        [backend] = [o for o in services["model3d"]["options"] if o["name"] == "backend"]
        assert backend["choices"] == ["local", "remote"]  # offered: an API is configured
        resp = api.post(
            "/v1/convert",
            files={"file": ("photo.jpg", images.jpeg(2000, 1500))},
            data={"target": "glb", "operation": "image_to_3d",
                  "options": json.dumps({"backend": "remote", "face_limit": 600})},
        )  # fmt: skip
        stream = events(api, resp.json()["id"])
    job = stream[-1][1]
    assert job["status"] == "succeeded", job.get("error")
    [out] = job["outputs"]
    assert out["details"]["backend"] == "remote" and out["details"]["output"]["faces"] <= 600
    messages = [e[1]["progress"]["message"] for e in stream if e[0] == "progress"]
    assert any("queued at the image-to-3D API" in m for m in messages), messages
    # The API got the picture in colour, made at most 1024 pixels a side by the image
    # service, and the key.
    [(_m, _p, headers, body)] = model_api.of("POST", "/tripo")
    assert headers["Authorization"] == "Key mesh-secret"
    picture = base64.b64decode(json.loads(body)["image_url"].split(",", 1)[1])
    with Image.open(io.BytesIO(picture)) as sent:
        assert sent.size == (1024, 768) and sent.mode == "RGB"
