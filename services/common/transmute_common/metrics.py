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
from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation, View
from opentelemetry.sdk.resources import Resource

_provider: MeterProvider | None = None
# Bucket boundaries of every duration histogram (unit "s"), fit for 5 ms to 10 min: the
# SDK's defaults (0, 5, 10, 25, ...) would put every sub-second job in one bucket.
DURATION_BUCKETS = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    120.0,
    300.0,
    600.0,
)
VIEWS = [
    View(
        instrument_unit="s",
        aggregation=ExplicitBucketHistogramAggregation(boundaries=DURATION_BUCKETS),
    )
]


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
        resource=Resource.create({"service.name": service}), metric_readers=readers, views=VIEWS
    )
    metrics.set_meter_provider(_provider)


def shutdown_metrics() -> None:
    if _provider is not None:
        _provider.shutdown()


def meter(name: str) -> metrics.Meter:
    return metrics.get_meter(name)
