"""End to end over the public gRPC API, and one trace across the whole mesh."""

from __future__ import annotations

from typing import Any

import grpc
import httpx
import pytest
from google.protobuf import struct_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from scripts.mesh import Mesh
from tests import images
from tests.e2e.conftest import (
    SpanCollector,
    SpanRecord,
    convert,
    final_state,
    objects_under,
    wait_for,
)
from transmute.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from transmute_common.metrics import DURATION_BUCKETS

pytestmark = pytest.mark.e2e


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
    assert states[-1] == gateway_pb2.JOB_STATUS_SUCCEEDED
    done = stub.GetJob(gateway_pb2.GetJobRequest(id=job.id))
    # The public message: file ids and download names, never store keys.
    assert type(done).DESCRIPTOR.full_name == "transmute.gateway.v1.Job"
    assert [i.file_id for i in done.inputs] == [f.id] and done.inputs[0].name == "grpc.jpg"
    assert done.outputs[0].url == f"/v1/jobs/{job.id}/outputs/{done.outputs[0].name}"
    assert "tenants/" not in str(done)
    data = b"".join(
        c.chunk
        for c in stub.Download(
            gateway_pb2.DownloadRequest(job_id=job.id, name=done.outputs[0].name)
        )
    )
    assert images.dimensions(data)[:2] == (150, 100)


def test_public_api_does_not_expose_internal_contracts() -> None:
    # Only the converter's format listing is shared; jobs are the gateway's own messages.
    deps = {d.name for d in gateway_pb2.DESCRIPTOR.dependencies}
    assert "transmute/jobs/v1/jobs.proto" not in deps
    service = gateway_pb2.DESCRIPTOR.services_by_name["GatewayService"]
    for method in service.methods:
        for message in (method.input_type, method.output_type):
            assert not message.full_name.startswith("transmute.jobs."), method.name


def test_grpc_idempotency_key_reused_for_a_different_request(channel: grpc.Channel) -> None:
    stub = gateway_pb2_grpc.GatewayServiceStub(channel)
    f = upload(stub, images.jpeg(8, 8), "k.jpg")
    first = stub.SubmitJob(
        gateway_pb2.SubmitJobRequest(inputs=[f.id], target="webp", idempotency_key="grpc-k1")
    )
    again = stub.SubmitJob(
        gateway_pb2.SubmitJobRequest(inputs=[f.id], target="webp", idempotency_key="grpc-k1")
    )
    assert again.id == first.id
    with pytest.raises(grpc.RpcError) as err:
        stub.SubmitJob(
            gateway_pb2.SubmitJobRequest(inputs=[f.id], target="png", idempotency_key="grpc-k1")
        )
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert ("error-code", "idempotency_key_reused") in err.value.trailing_metadata()


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
        stub.SubmitJob(gateway_pb2.SubmitJobRequest(inputs=[f.id], target="xcf"))
    assert ("error-code", "unsupported_target") in err.value.trailing_metadata()
    # A target some service writes, but not from this input.
    with pytest.raises(grpc.RpcError) as err:
        stub.SubmitJob(gateway_pb2.SubmitJobRequest(inputs=[f.id], target="mp3"))
    assert ("error-code", "unsupported_conversion") in err.value.trailing_metadata()
    with pytest.raises(grpc.RpcError) as err:
        stub.SubmitJob(gateway_pb2.SubmitJobRequest(inputs=[f.id], target="png", operation="x"))
    assert ("error-code", "unsupported_operation") in err.value.trailing_metadata()


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
    # Internal services do not describe themselves to whoever asks.
    with grpc.insecure_channel(f"127.0.0.1:{mesh.jobs_port}") as ch:
        request = iter([reflection_pb2.ServerReflectionRequest(list_services="")])
        with pytest.raises(grpc.RpcError) as refused:
            list(reflection_pb2_grpc.ServerReflectionStub(ch).ServerReflectionInfo(request))
        assert refused.value.code() == grpc.StatusCode.UNIMPLEMENTED


def test_one_conversion_is_one_trace(
    api: httpx.Client, span_collector: tuple[SpanCollector, int]
) -> None:
    collector, _ = span_collector
    resp = convert(api, images.jpeg(64, 64), "png")
    trace_id, job_id = resp.json()["trace_id"], resp.json()["id"]
    assert len(trace_id) == 32
    assert final_state(api, job_id)["status"] == "succeeded"
    expected = {"transmute-gateway", "transmute-jobs", "transmute-image"}
    wait_for(lambda: collector.services_in(trace_id) >= expected, timeout=20)
    # Each service exports in its own batches: wait until every part has arrived.
    parts = {
        ("transmute-gateway", "send convert.image"),
        ("transmute-gateway", "objectstore put"),
        ("transmute-image", "process convert.image"),
        ("transmute-image", "store output"),
        ("transmute-image", "objectstore put_file"),
        ("transmute-jobs", "/transmute.jobs.v1.JobService/CompleteJob"),
    }
    wait_for(lambda: parts <= {(s.service, s.name) for s in collector.trace(trace_id)}, 20)
    spans = collector.trace(trace_id)
    by_id = {s.span_id: s for s in spans}

    def one(name: str, service: str) -> SpanRecord:
        found = [s for s in spans if s.name == name and s.service == service]
        assert len(found) == 1, (name, [(s.service, s.name) for s in spans])
        return found[0]

    def ancestors(span: SpanRecord) -> list[str]:
        names = []
        while span.parent_id in by_id:
            span = by_id[span.parent_id]
            names.append(span.name)
        return names

    # The gateway publishes (PRODUCER) inside the request; the converter processes
    # (CONSUMER) as the publish's child, with a link to it.
    publish = one("send convert.image", "transmute-gateway")
    assert publish.kind == 4
    assert publish.attributes["messaging.system"] == "nats"
    assert publish.attributes["messaging.destination.name"] == "convert.image"
    assert publish.attributes["messaging.message.id"] == job_id
    assert publish.attributes["transmute.job_id"] == job_id
    assert "POST /v1/convert" in ancestors(publish)
    process = one("process convert.image", "transmute-image")
    assert process.kind == 5 and process.parent_id == publish.span_id
    assert process.links == [publish.span_id]
    assert process.attributes["messaging.operation.type"] == "process"
    assert process.attributes["transmute.job_id"] == job_id
    # The converter's phases, each with its object-store calls.
    for phase in ("fetch input", "convert", "store output"):
        assert one(phase, "transmute-image").parent_id == process.span_id
    fetch = one("objectstore get_file", "transmute-image")
    assert ancestors(fetch)[0] == "fetch input"
    assert fetch.attributes["transmute.object.key"].startswith("tenants/default/uploads/")
    stored = one("objectstore put_file", "transmute-image")
    assert ancestors(stored)[0] == "store output"
    assert stored.attributes["transmute.object.key"].startswith(f"tenants/default/jobs/{job_id}/")
    upload = [s for s in spans if s.name == "objectstore put" and s.service == "transmute-gateway"]
    assert upload and all("POST /v1/convert" in ancestors(s) for s in upload)
    # The jobs service's side of every report, in the same trace.
    names = {s.name for s in spans}
    for rpc in ("CreateJob", "ReportProgress", "CompleteJob"):
        assert any(n.endswith(f"JobService/{rpc}") for n in names), rpc


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
    # Duration histograms have buckets fit for 5 ms .. 10 min, not the SDK's defaults.
    for name in ("transmute.job.duration", "transmute.job.queue_wait"):
        assert collector.metrics.bounds[name] == list(DURATION_BUCKETS)


def test_gateway_converter_and_bus_metrics_are_exported(
    api: httpx.Client, span_collector: tuple[SpanCollector, int]
) -> None:
    collector, _ = span_collector
    resp = convert(api, images.jpeg(16, 16), "png")
    assert final_state(api, resp.json()["id"])["status"] == "succeeded"
    assert api.get("/v1/jobs/" + "0" * 32).status_code == 404
    metrics = collector.metrics

    def seen(name: str, **attrs: Any) -> bool:
        return any(attrs.items() <= p.items() for p in metrics.points.get(name, []))

    wait_for(
        lambda: (
            seen("transmute.converter.jobs", service="image", outcome="succeeded")
            and seen("transmute.gateway.requests", route="/v1/convert", status=202)
            and seen("transmute.gateway.rejections", code="job_not_found", status=404)
            and seen("transmute.bus.pending", service="image")
        ),
        timeout=20,
    )
    assert seen("transmute.gateway.upload_bytes")
    assert seen("transmute.gateway.watchers", api="sse")
    # Ids never become label values: routes are templates.
    assert not any("0" * 32 in str(p) for p in metrics.points["transmute.gateway.requests"])
    for name in ("transmute.converter.engine_time", "transmute.gateway.request_duration"):
        assert metrics.bounds[name] == list(DURATION_BUCKETS), name


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
        for prefix in ["tenants/default/", "tenants/default/jobs/", "tenants/default/../x/"]:
            with pytest.raises(grpc.RpcError) as err:
                list(
                    stub.Convert(
                        converter_pb2.ConvertRequest(
                            tenant="default", inputs=[source], target="webp", output_prefix=prefix
                        )
                    )
                )
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, prefix
