"""The real servers going away and coming back: NATS, MinIO and the Mongo-wire server.
Nothing queued is lost, the API answers 503 meanwhile, and no job stays stuck."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from scripts.mesh import Mesh
from tests import images
from tests.e2e.conftest import (
    SpanCollector,
    convert,
    final_state,
    mesh_env,
    uploads_on_disk,
    wait_for,
)
from tests.e2e.test_resilience import noisy_jpeg
from tests.servers import (
    MINIO_PASSWORD,
    MINIO_USER,
    Server,
    ferretdb_server,
    minio_server,
    nats_server,
)

pytestmark = pytest.mark.e2e
MIB = 1024 * 1024


class Faulty:
    def __init__(self, mesh: Mesh, nats: Server, minio: Server, ferretdb: Server):
        self.mesh, self.nats, self.minio, self.ferretdb = mesh, nats, minio, ferretdb


@pytest.fixture(scope="module")
def faulty(
    tmp_path_factory: pytest.TempPathFactory, span_collector: tuple[SpanCollector, int]
) -> Iterator[Faulty]:
    root = tmp_path_factory.mktemp("faults")
    servers = [nats_server(root), minio_server(root), ferretdb_server(root)]
    for s in servers:
        s.start()
    nats, minio, ferretdb = servers
    env = mesh_env(span_collector[1])
    env.update(
        {
            "OTEL_TRACES_EXPORTER": "none",
            "TRANSMUTE_MAX_UPLOAD_BYTES": str(256 * MIB),
            "TRANSMUTE_NATS_URL": f"nats://127.0.0.1:{nats.port}",
            "TRANSMUTE_OBJECT_STORE_URL": f"s3://127.0.0.1:{minio.port}/faults",
            "TRANSMUTE_S3_ACCESS_KEY": MINIO_USER,
            "TRANSMUTE_S3_SECRET_KEY": MINIO_PASSWORD,
            "TRANSMUTE_JOB_STORE_URL": f"mongodb://127.0.0.1:{ferretdb.port}/faults",
        }
    )
    mesh = Mesh.on_free_ports(root / "state", log_dir=root / "logs", extra_env=env)
    mesh.start()
    yield Faulty(mesh, nats, minio, ferretdb)
    mesh.stop()
    for s in servers:
        s.stop()


@pytest.fixture
def api(faulty: Faulty) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=faulty.mesh.url, timeout=60, follow_redirects=True) as client:
        yield client


def ready(api: httpx.Client) -> bool:
    return api.get("/readyz").status_code == 200


def test_nats_restart_loses_no_queued_job(faulty: Faulty, api: httpx.Client) -> None:
    faulty.mesh.kill("image", signal.SIGTERM)  # nobody consumes: the jobs stay queued
    ids = [convert(api, images.jpeg(64, 48), "webp").json()["id"] for _ in range(5)]
    faulty.nats.stop()
    faulty.nats.start()
    wait_for(lambda: ready(api), timeout=30)
    faulty.mesh.start_service("image")
    for job_id in ids:
        assert final_state(api, job_id)["status"] == "succeeded"
    late = convert(api, images.jpeg(32, 32), "png").json()["id"]
    assert final_state(api, late)["status"] == "succeeded"


def test_a_publish_lost_to_a_nats_outage_is_retried_with_the_same_key(
    faulty: Faulty, api: httpx.Client
) -> None:
    uploaded = api.post("/v1/files", files={"file": ("a.jpg", images.jpeg(64, 48))}).json()
    request = {"inputs": [uploaded["id"]], "target": "webp", "cache": False}
    headers = {"Idempotency-Key": f"nats-outage-{uploaded['id']}"}
    faulty.nats.stop()
    try:
        refused = api.post("/v1/jobs", json=request, headers=headers)
        assert refused.status_code == 503, refused.text
        assert refused.json()["error"]["code"] == "bus_unavailable"
    finally:
        faulty.nats.start()
    wait_for(lambda: ready(api), timeout=30)
    # The same request with the same key publishes the job that was kept queued.
    retried = wait_for(
        lambda: (r := api.post("/v1/jobs", json=request, headers=headers)).status_code == 202 and r,
        timeout=30,
        interval=0.5,
    )
    assert final_state(api, retried.json()["id"])["status"] == "succeeded"


def test_minio_outage_mid_upload(faulty: Faulty, api: httpx.Client) -> None:
    faulty.mesh.kill("image", signal.SIGTERM)
    queued = [convert(api, images.jpeg(64, 48), "webp").json()["id"] for _ in range(3)]
    before = uploads_on_disk(faulty.mesh)
    minio_down = threading.Event()

    def body() -> Iterator[bytes]:
        yield b"\xff\xd8\xff\xe0" + b"\0" * (9 * MIB)  # the first part goes up
        minio_down.wait(30)
        yield b"\0" * (16 * MIB)  # the rest meets a stopped MinIO

    result: dict[str, httpx.Response] = {}
    sender = threading.Thread(
        target=lambda: result.update(
            r=api.post("/v1/files", content=body(), params={"filename": "big.jpg"})
        )
    )
    sender.start()
    time.sleep(1.0)
    faulty.minio.stop()
    minio_down.set()
    sender.join(60)
    resp = result["r"]
    assert resp.status_code == 503, resp.text
    assert resp.json()["error"]["code"] == "object_store_unavailable"
    assert api.get("/readyz").status_code == 503
    # The gateway's gRPC health says the same as /readyz.
    not_serving = health_pb2.HealthCheckResponse.NOT_SERVING
    wait_for(lambda: grpc_health(faulty.mesh.grpc_port, "") == not_serving, timeout=15)
    faulty.minio.start()
    wait_for(lambda: ready(api), timeout=30)
    serving = health_pb2.HealthCheckResponse.SERVING
    wait_for(lambda: grpc_health(faulty.mesh.grpc_port, "") == serving, timeout=15)
    assert uploads_on_disk(faulty.mesh) == before  # no partial object
    faulty.mesh.start_service("image")
    for job_id in queued:
        assert final_state(api, job_id)["status"] == "succeeded"
    again = convert(api, images.jpeg(64, 48), "webp")
    assert final_state(api, again.json()["id"])["status"] == "succeeded"


def test_mongo_wire_outage(faulty: Faulty, api: httpx.Client) -> None:
    running = convert(api, noisy_jpeg(2400, 1800), "avif").json()["id"]
    wait_for(lambda: api.get(f"/v1/jobs/{running}").json()["progress"]["phase"] == "convert")
    faulty.ferretdb.stop()
    try:
        during = api.get(f"/v1/jobs/{running}")
        assert during.status_code == 503
        assert during.json()["error"]["code"] == "job_store_unavailable"
        before = uploads_on_disk(faulty.mesh)
        refused = convert(api, images.jpeg(32, 32), "png")
        assert refused.status_code == 503
        assert uploads_on_disk(faulty.mesh) == before  # the upload was removed again
        # The jobs service says so over gRPC health (converters then pull no work).
        jobs = faulty.mesh.jobs_port
        wait_for(lambda: grpc_health(jobs, "") == health_pb2.HealthCheckResponse.NOT_SERVING, 15)
        time.sleep(3)  # the conversion finishes while the store is away
    finally:
        faulty.ferretdb.start()
    wait_for(lambda: grpc_health(jobs, "") == health_pb2.HealthCheckResponse.SERVING, 30)
    done = final_state(api, running)
    assert done["status"] == "succeeded", done
    assert len(done["outputs"]) == 1
    fresh = convert(api, images.jpeg(32, 32), "png")
    assert final_state(api, fresh.json()["id"])["status"] == "succeeded"


def grpc_health(port: int, service: str) -> int:
    with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
        request = health_pb2.HealthCheckRequest(service=service)
        return int(health_pb2_grpc.HealthStub(ch).Check(request, timeout=5).status)


def converter_health(faulty: Faulty) -> int:
    port = faulty.mesh.converter_ports["image"]
    return grpc_health(port, "transmute.converter.v1.ConverterService")


OUTAGE_SECONDS = 120


def test_a_two_minute_store_outage_fails_no_queued_job(faulty: Faulty, api: httpx.Client) -> None:
    faulty.mesh.kill("image", signal.SIGTERM)
    ids = [convert(api, images.jpeg(64, 48), "webp").json()["id"] for _ in range(20)]
    faulty.minio.stop()
    stopped = time.monotonic()
    try:
        # The converter starts while the store is away: it says NOT_SERVING and pulls
        # nothing, so no delivery is spent on the outage.
        faulty.mesh.start_service("image")
        not_serving = health_pb2.HealthCheckResponse.NOT_SERVING
        wait_for(lambda: converter_health(faulty) == not_serving, timeout=30)
        time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - stopped)))
        states = {api.get(f"/v1/jobs/{job_id}").json()["status"] for job_id in ids}
        assert states == {"queued"}
        assert converter_health(faulty) == not_serving
    finally:
        faulty.minio.start()
    for job_id in ids:
        done = final_state(api, job_id)
        assert done["status"] == "succeeded", done
    assert converter_health(faulty) == health_pb2.HealthCheckResponse.SERVING
