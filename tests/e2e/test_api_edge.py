"""The API's edges as odd clients find them: malformed ids and options, HEAD, Allow,
duplicate fields, a client hanging up mid-upload, cancel twice, the SSE error event."""

from __future__ import annotations

import json
import signal
import socket
import time

import grpc
import httpx
import pytest

from scripts.mesh import Mesh
from tests import images
from tests.e2e.conftest import convert, final_state, uploads_on_disk, uses_servers, wait_for
from tests.e2e.test_resilience import noisy_jpeg
from transmute.gateway.v1 import gateway_pb2, gateway_pb2_grpc

pytestmark = pytest.mark.e2e
ODD_IDS = ["a b", "a.b", ">", "*", "ABC", "0" * 31, "%00", "x" * 300, "é"]


@pytest.mark.parametrize("job_id", ODD_IDS)
def test_malformed_job_ids_are_404_on_rest(api: httpx.Client, job_id: str) -> None:
    quoted = httpx.URL(f"/v1/jobs/{job_id}").raw_path.decode()
    for method, path in [
        ("GET", quoted),
        ("GET", quoted + "/events"),
        ("GET", quoted + "/outputs/out.png"),
        ("HEAD", quoted + "/outputs/out.png"),
        ("DELETE", quoted),
    ]:
        resp = api.request(method, path)
        assert resp.status_code == 404, (method, path, resp.text)
        if method != "HEAD":
            assert resp.json()["error"]["code"] == "job_not_found"
            assert len(resp.json()["error"]["message"]) < 120


def test_malformed_and_huge_job_ids_over_grpc(mesh: Mesh) -> None:
    with grpc.insecure_channel(f"127.0.0.1:{mesh.grpc_port}") as ch:
        stub = gateway_pb2_grpc.GatewayServiceStub(ch)
        for job_id in [*ODD_IDS, "f" * 20_000]:
            calls = [
                lambda i=job_id: stub.GetJob(gateway_pb2.GetJobRequest(id=i)),
                lambda i=job_id: list(stub.WatchJob(gateway_pb2.WatchJobRequest(id=i))),
                lambda i=job_id: stub.CancelJob(gateway_pb2.CancelJobRequest(id=i)),
            ]
            for call in calls:
                with pytest.raises(grpc.RpcError) as err:
                    call()
                assert err.value.code() == grpc.StatusCode.NOT_FOUND, err.value.details()
                assert ("error-code", "job_not_found") in err.value.trailing_metadata()
                assert len(err.value.details()) < 1100


def nested(depth: int) -> str:
    return '{"a": ' * depth + "1" + "}" * depth


@pytest.mark.parametrize("depth", [12, 5000])
def test_deeply_nested_options_are_refused_with_the_error_shape(
    api: httpx.Client, mesh: Mesh, depth: int
) -> None:
    before = uploads_on_disk(mesh)
    resp = convert(api, images.jpeg(16, 16), "png", options=nested(depth))
    assert resp.status_code == 400, resp.text[:300]
    assert resp.json()["error"]["code"] == "invalid_options"
    assert uploads_on_disk(mesh) == before

    up = api.post("/v1/files", content=images.jpeg(16, 16)).json()
    body = f'{{"inputs": ["{up["id"]}"], "target": "png", "options": {nested(depth)}}}'
    resp = api.post("/v1/jobs", content=body, headers={"content-type": "application/json"})
    assert resp.status_code == 400, resp.text[:300]
    assert resp.json()["error"]["code"] in {"invalid_options", "invalid_json"}


def test_a_json_body_over_its_limit_is_refused_while_it_arrives(api: httpx.Client) -> None:
    big = json.dumps({"inputs": ["x"], "target": "png", "options": {"pad": "x" * 300_000}})
    resp = api.post("/v1/jobs", content=big, headers={"content-type": "application/json"})
    assert resp.status_code == 413
    assert resp.json()["error"]["code"] == "body_too_large"

    def chunks():  # type: ignore[no-untyped-def]
        yield big.encode()  # no Content-Length: counted as it streams

    resp = api.post("/v1/jobs", content=chunks(), headers={"content-type": "application/json"})
    assert resp.status_code == 413
    assert resp.json()["error"]["code"] == "body_too_large"


def test_head_is_answered_like_get_without_a_body(api: httpx.Client, mesh: Mesh) -> None:
    done = final_state(api, convert(api, images.png(40, 30), "png", name="h.png").json()["id"])
    output = done["outputs"][0]
    for path in ["/healthz", "/readyz", "/v1/formats", "/v1/jobs", f"/v1/jobs/{done['id']}"]:
        head = api.head(path)
        assert head.status_code == 200, path
        assert head.content == b""
    with httpx.Client(base_url=mesh.url) as plain:  # no redirects followed
        head = plain.head(output["url"])
    assert head.status_code == 200  # a presigned URL is for GET only: HEAD is answered here
    assert int(head.headers["content-length"]) == output["size"]
    assert head.headers["content-type"] == "image/png"
    assert head.content == b""
    if uses_servers(mesh):
        with httpx.Client(base_url=mesh.url) as plain:
            assert plain.get(output["url"]).status_code == 307


def test_405_names_every_allowed_method(api: httpx.Client) -> None:
    for method, path, allowed in [
        ("PUT", "/v1/jobs", {"GET", "HEAD", "POST"}),
        ("TRACE", "/v1/jobs/0", {"GET", "HEAD", "DELETE"}),
        ("POST", "/healthz", {"GET", "HEAD"}),
    ]:
        resp = api.request(method, path)
        assert resp.status_code == 405
        assert set(resp.headers["allow"].replace(" ", "").split(",")) == allowed
        assert resp.json()["error"]["code"] == "method_not_allowed"


def test_a_single_valued_field_sent_twice_is_refused(api: httpx.Client, mesh: Mesh) -> None:
    before = uploads_on_disk(mesh)
    resp = api.post(
        "/v1/convert",
        files=[
            ("file", ("a.png", images.png(8, 8))),
            ("target", (None, "webp")),
            ("target", (None, "png")),
        ],
    )
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "duplicate_field"
    assert uploads_on_disk(mesh) == before


def test_a_client_hanging_up_mid_upload_is_logged_as_normal(mesh: Mesh) -> None:
    assert mesh.log_dir is not None
    log = mesh.log_dir / "gateway.log"
    start = log.stat().st_size
    body = b"\x89PNG\r\n\x1a\n" + b"\0" * 200_000
    with socket.create_connection(("127.0.0.1", mesh.http_port)) as sock:
        sock.sendall(
            b"POST /v1/files HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
            b"Content-Length: 10000000\r\n\r\n" + body
        )
        time.sleep(0.3)
    wait_for(lambda: b"upload_aborted" in log.read_bytes()[start:], timeout=10)
    lines = log.read_bytes()[start:].decode(errors="replace").splitlines()
    [aborted] = [json.loads(line) for line in lines if "upload_aborted" in line]
    assert aborted["level"] == "info" and aborted["bytes_received"] >= len(body)
    assert not any("Exception in ASGI application" in line for line in lines)
    assert not any('"level": "error"' in line or '"level":"error"' in line for line in lines)


def test_cancel_is_idempotent_and_a_finished_job_refuses_it(api: httpx.Client) -> None:
    up = api.post("/v1/files", content=noisy_jpeg(1500, 1000)).json()
    job = api.post("/v1/jobs", json={"inputs": [up["id"]], "target": "avif"}).json()
    first = api.delete(f"/v1/jobs/{job['id']}")
    again = api.delete(f"/v1/jobs/{job['id']}")
    assert first.status_code == again.status_code == 200
    assert first.json()["status"] == again.json()["status"] == "cancelled"
    assert again.json()["version"] == first.json()["version"]  # nothing changed
    done = final_state(api, convert(api, images.png(8, 8), "png").json()["id"])
    refused = api.delete(f"/v1/jobs/{done['id']}")
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "job_finished"


def test_sse_says_error_when_the_jobs_service_goes_away(api: httpx.Client, mesh: Mesh) -> None:
    job = convert(api, noisy_jpeg(2400, 1800), "avif").json()
    seen: list[tuple[str, dict]] = []
    try:
        with api.stream("GET", f"/v1/jobs/{job['id']}/events", timeout=60) as resp:
            name = ""
            for line in resp.iter_lines():
                if line.startswith("event: "):
                    name = line.removeprefix("event: ")
                elif line.startswith("data: "):
                    seen.append((name, json.loads(line.removeprefix("data: "))))
                    if name == "progress" and len(seen) == 1:
                        # A graceful stop: SIGKILL mid-write can wedge a job on
                        # FerretDB (see docs/operations.md), which is not this test.
                        mesh.kill("jobs", signal.SIGTERM)
    finally:
        if "jobs" not in mesh.procs:
            mesh.start_service("jobs")
    assert seen[-1][0] == "error"
    assert seen[-1][1]["error"]["code"] == "unavailable"
    message = seen[-1][1]["error"]["message"]  # no addresses or channel details
    assert "127.0.0.1" not in message and "ipv4" not in message
    assert str(mesh.jobs_port) not in message
    # A client reconnects once the gateway is ready again: the work was not lost.
    wait_for(lambda: api.get("/readyz").status_code == 200, timeout=60)
    assert final_state(api, job["id"])["status"] == "succeeded"
