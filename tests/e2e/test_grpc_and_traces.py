"""End to end over the public gRPC API, and one trace across the whole mesh."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import httpx
import pytest
from google.protobuf import struct_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from scripts.mesh import Mesh
from tests import images
from tests.e2e.conftest import SpanCollector, convert, final_state, objects_under, wait_for
from transmute.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from transmute.jobs.v1 import jobs_pb2

pytestmark = pytest.mark.e2e


@pytest.fixture
def channel(mesh: Mesh) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(f"127.0.0.1:{mesh.grpc_port}") as ch:
        yield ch


def upload(stub: gateway_pb2_grpc.GatewayServiceStub, data: bytes, name: str):  # type: ignore[no-untyped-def]
    def messages():  # type: ignore[no-untyped-def]
        yield gateway_pb2.UploadRequest(metadata=gateway_pb2.UploadMetadata(filename=name))
        for i in range(0, len(data), 32 * 1024):
            yield gateway_pb2.UploadRequest(chunk=data[i : i + 32 * 1024])

    return stub.Upload(messages())


def test_convert_over_grpc(channel: grpc.Channel) -> None:
    stub = gateway_pb2_grpc.GatewayServiceStub(channel)
    formats = stub.ListFormats(gateway_pb2.ListFormatsRequest())
    assert "webp" in formats.services[0].conversions[0].outputs
    f = upload(stub, images.jpeg(300, 200), "grpc.jpg")
    assert (f.format, f.size > 0) == ("jpeg", True)
    options = struct_pb2.Struct()
    options.update({"height": 100})
    job = stub.SubmitJob(
        gateway_pb2.SubmitJobRequest(inputs=[f.id], target="webp", options=options)
    )
    states = [j.status for j in stub.WatchJob(gateway_pb2.WatchJobRequest(id=job.id))]
    assert states[-1] == jobs_pb2.JOB_STATUS_SUCCEEDED
    done = stub.GetJob(gateway_pb2.GetJobRequest(id=job.id))
    data = b"".join(
        c.chunk
        for c in stub.Download(
            gateway_pb2.DownloadRequest(job_id=job.id, name=done.outputs[0].name)
        )
    )
    assert images.dimensions(data)[:2] == (150, 100)


def test_grpc_errors_carry_codes(channel: grpc.Channel) -> None:
    stub = gateway_pb2_grpc.GatewayServiceStub(channel)
    with pytest.raises(grpc.RpcError) as err:
        stub.GetJob(gateway_pb2.GetJobRequest(id="missing"))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    assert ("error-code", "job_not_found") in err.value.trailing_metadata()
    with pytest.raises(grpc.RpcError) as err:
        upload(stub, b"", "empty.png")
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    f = upload(stub, images.jpeg(8, 8), "a.jpg")
    with pytest.raises(grpc.RpcError) as err:
        stub.SubmitJob(gateway_pb2.SubmitJobRequest(inputs=[f.id], target="mp3"))
    assert ("error-code", "unsupported_target") in err.value.trailing_metadata()


def test_health_and_reflection(channel: grpc.Channel, mesh: Mesh) -> None:
    for port in [mesh.grpc_port, mesh.jobs_port, *mesh.converter_ports.values()]:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
            resp = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest())
            assert resp.status == health_pb2.HealthCheckResponse.SERVING
    reflect = reflection_pb2_grpc.ServerReflectionStub(channel)
    [answer] = list(
        reflect.ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")])
        )
    )
    names = {s.name for s in answer.list_services_response.service}
    assert "transmute.gateway.v1.GatewayService" in names


def test_one_conversion_is_one_trace(
    api: httpx.Client, span_collector: tuple[SpanCollector, int]
) -> None:
    collector, _ = span_collector
    resp = convert(api, images.jpeg(64, 64), "png")
    trace_id = resp.json()["trace_id"]
    assert len(trace_id) == 32
    assert final_state(api, resp.json()["id"])["status"] == "succeeded"
    expected = {"transmute-gateway", "transmute-jobs", "transmute-image"}
    wait_for(lambda: collector.services_in(trace_id) >= expected, timeout=20)
    names = {name for tid, _, name in collector.spans if tid == trace_id}
    assert "convert image" in names
    assert any("JobService/CompleteJob" in n for n in names)


def test_job_metrics_are_exported(
    api: httpx.Client, span_collector: tuple[SpanCollector, int]
) -> None:
    collector, _ = span_collector
    resp = convert(api, images.jpeg(16, 16), "png")
    assert final_state(api, resp.json()["id"])["status"] == "succeeded"
    expected = {
        "transmute.jobs.created",
        "transmute.jobs.finished",
        "transmute.job.duration",
        "transmute.job.queue_wait",
    }
    wait_for(lambda: collector.metrics.names >= expected, timeout=20)


def test_in_mesh_convert_api_of_the_image_service(channel: grpc.Channel, mesh: Mesh) -> None:
    from transmute.converter.v1 import converter_pb2, converter_pb2_grpc
    from transmute.jobs.v1 import jobs_pb2 as jpb

    f = upload(gateway_pb2_grpc.GatewayServiceStub(channel), images.png(120, 80), "page.png")
    source = jpb.FileRef(
        key=f"tenants/default/uploads/{f.id}",
        name="page.png",
        content_type="image/png",
        size=f.size,
    )
    with grpc.insecure_channel(f"127.0.0.1:{mesh.converter_ports['image']}") as ch:
        stub = converter_pb2_grpc.ConverterServiceStub(ch)
        caps = stub.Capabilities(converter_pb2.CapabilitiesRequest())
        assert caps.service == "image" and "png" in caps.conversions[0].inputs
        options = struct_pb2.Struct()
        options.update({"width": 60})
        events = list(
            stub.Convert(
                converter_pb2.ConvertRequest(
                    tenant="default",
                    operation="convert",
                    inputs=[source],
                    target="webp",
                    options=options,
                    output_prefix="tenants/default/pages/p1/",
                )
            )
        )
        phases = [e.progress.phase for e in events if e.HasField("progress")]
        assert phases[0] == "fetch" and "store" in phases
        [out] = events[-1].result.outputs
        assert out.key == "tenants/default/pages/p1/page.webp" and out.size > 0
        assert objects_under(mesh, "tenants/default/pages/p1/") == [out.key]
        with pytest.raises(grpc.RpcError) as err:
            list(
                stub.Convert(
                    converter_pb2.ConvertRequest(
                        tenant="other",
                        inputs=[source],
                        target="webp",
                        output_prefix="tenants/other/x/",
                    )
                )
            )
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
