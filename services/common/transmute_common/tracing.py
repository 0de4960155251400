"""OpenTelemetry set-up, configured only by the standard ``OTEL_*`` variables.

``OTEL_TRACES_EXPORTER`` picks the exporter (``otlp``, the default, ``console`` or
``none``); ``OTEL_EXPORTER_OTLP_ENDPOINT`` and ``OTEL_SERVICE_NAME`` work as usual.
Trace context crosses NATS in message headers (W3C ``traceparent``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from opentelemetry import context, propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

_provider: TracerProvider | None = None


def tracing_enabled() -> bool:
    exporters = {e.strip() for e in os.environ.get("OTEL_TRACES_EXPORTER", "otlp").split(",")}
    return os.environ.get("OTEL_SDK_DISABLED", "").lower() != "true" and bool(
        exporters - {"none", ""}
    )


def setup_tracing(default_service_name: str) -> TracerProvider | None:
    """Installs the global tracer provider and the gRPC and pymongo instrumentation.
    With no exporter (``OTEL_TRACES_EXPORTER=none``) nothing is installed: spans nobody
    exports would only cost time."""
    global _provider
    if _provider is not None or not tracing_enabled():
        return _provider
    name = os.environ.get("OTEL_SERVICE_NAME") or default_service_name
    provider = TracerProvider(resource=Resource.create({"service.name": name}))
    for exporter_name in os.environ.get("OTEL_TRACES_EXPORTER", "otlp").split(","):
        exporter_name = exporter_name.strip()
        if exporter_name == "otlp":
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        elif exporter_name == "console":
            provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
        elif exporter_name not in ("none", ""):
            raise ValueError(f"unsupported OTEL_TRACES_EXPORTER: {exporter_name}")
    trace.set_tracer_provider(provider)

    from opentelemetry.instrumentation.grpc import (
        GrpcAioInstrumentorClient,
        GrpcAioInstrumentorServer,
    )

    GrpcAioInstrumentorServer().instrument()
    GrpcAioInstrumentorClient().instrument()
    try:  # installed with the MongoDB job store (the jobs service) only
        from opentelemetry.instrumentation.pymongo import PymongoInstrumentor
    except ImportError:
        pass
    else:
        PymongoInstrumentor().instrument()
    _provider = provider
    return provider


def shutdown_tracing() -> None:
    if _provider is not None:
        _provider.shutdown()


def tracer(name: str) -> trace.Tracer:
    return trace.get_tracer(name)


def inject_headers(headers: dict[str, str] | None = None) -> dict[str, str]:
    """Returns ``headers`` plus the current trace context, for a NATS message."""
    carrier = dict(headers or {})
    propagate.inject(carrier)
    return carrier


@contextmanager
def extracted_context(headers: Mapping[str, str] | None) -> Iterator[None]:
    """Makes the trace context carried by NATS headers current for the block."""
    token = context.attach(propagate.extract(dict(headers or {})))
    try:
        yield
    finally:
        context.detach(token)


def current_trace_id() -> str:
    ctx = trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else ""
