"""The 3D converter through the whole mesh: every model format recognised by content,
conversion, decimation and analysis over REST, a conversion over gRPC, and hostile
models failed with a code."""

from __future__ import annotations

import io
import json
import tempfile
from pathlib import Path

import grpc
import httpx
import pytest
import trimesh
from google.protobuf import struct_pb2

from tests import models
from tests.e2e.conftest import convert, final_state
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
    assert set(model3d) == {"convert", "decimate", "repair", "analyze"}
    assert set(model3d["convert"]["inputs"]) == set(models.FORMATS)
    assert model3d["analyze"]["outputs"] == ["json"]
    options = {o["name"]: o for o in services["model3d"]["options"]}
    assert options["face_limit"]["operations"] == ["decimate"]


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
