"""OpenTelemetry metrics, configured by the standard ``OTEL_METRICS_EXPORTER`` (``otlp``,
the default, ``console`` or ``none``) and ``OTEL_EXPORTER_OTLP_ENDPOINT``. The collector
turns them into Prometheus series for the dashboards."""

from __future__ import annotations

import os

from opentelemetry import metrics
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    ConsoleMetricExporter,
    MetricReader,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import Resource

_provider: MeterProvider | None = None


def setup_metrics(default_service_name: str) -> None:
    global _provider
    if _provider is not None or os.environ.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return
    readers: list[MetricReader] = []
    for name in os.environ.get("OTEL_METRICS_EXPORTER", "otlp").split(","):
        name = name.strip()
        if name == "otlp":
            from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import (
                OTLPMetricExporter,
            )

            readers.append(PeriodicExportingMetricReader(OTLPMetricExporter()))
        elif name == "console":
            readers.append(PeriodicExportingMetricReader(ConsoleMetricExporter()))
        elif name not in ("none", ""):
            raise ValueError(f"unsupported OTEL_METRICS_EXPORTER: {name}")
    if not readers:
        return
    service = os.environ.get("OTEL_SERVICE_NAME") or default_service_name
    _provider = MeterProvider(
        resource=Resource.create({"service.name": service}), metric_readers=readers
    )
    metrics.set_meter_provider(_provider)


def shutdown_metrics() -> None:
    if _provider is not None:
        _provider.shutdown()


def meter(name: str) -> metrics.Meter:
    return metrics.get_meter(name)
