"""A converter service's metrics (OpenTelemetry): requests handled by outcome, time in
the engine, worker replacements, timeouts, and the service's JetStream consumer
(redeliveries, messages pending)."""

from __future__ import annotations

from collections.abc import Iterable

from opentelemetry.metrics import CallbackOptions, Observation

from transmute_common.metrics import meter


class ConverterMetrics:
    def __init__(self, service: str) -> None:
        m = meter("transmute.converter")
        self.service = {"service": service}
        self.pending: int | None = None  # refreshed from the consumer's info
        self.jobs = m.create_counter(
            "transmute.converter.jobs",
            unit="{job}",
            description="Conversion requests handled, by outcome (and error code)",
        )
        self.engine_time = m.create_histogram(
            "transmute.converter.engine_time",
            unit="s",
            description="Time a conversion spent in its worker",
        )
        self.worker_restarts = m.create_counter(
            "transmute.converter.worker_restarts",
            unit="{worker}",
            description="Workers killed and replaced, by reason",
        )
        self.timeouts = m.create_counter(
            "transmute.converter.timeouts",
            unit="{job}",
            description="Conversions stopped at the time limit",
        )
        self.redeliveries = m.create_counter(
            "transmute.bus.redeliveries",
            unit="{message}",
            description="Conversion requests delivered again (attempt 2 and later)",
        )
        m.create_observable_gauge(
            "transmute.bus.pending",
            callbacks=[self._observe_pending],
            unit="{message}",
            description="Conversion requests waiting for this service's consumer",
        )

    def outcome(self, outcome: str, operation: str) -> None:
        """Records ``succeeded``, ``failed:<code>``, ``retry:<code>``, ``cancelled``..."""
        kind, _, code = outcome.partition(":")
        attrs = {**self.service, "outcome": kind, "operation": operation}
        if code:
            attrs["error_code"] = code
        self.jobs.add(1, attrs)
        if code == "timeout":
            self.timeouts.add(1, self.service)

    def restarted(self, reason: str) -> None:
        self.worker_restarts.add(1, {**self.service, "reason": reason})

    def _observe_pending(self, _: CallbackOptions) -> Iterable[Observation]:
        if self.pending is None:
            return []
        return [Observation(self.pending, self.service)]
