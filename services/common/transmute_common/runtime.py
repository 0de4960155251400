"""What every converter service runs: subscribe, fetch input, convert, report, put output.

A service supplies only its engine (a Converter) and its settings; this module wires the
engine to JetStream, the object store, the jobs service and the converter gRPC API.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import signal
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc
from opentelemetry import trace
from pydantic import Field

from transmute.converter.v1 import converter_pb2, converter_pb2_grpc
from transmute_common.bus import Bus, ConversionRequest, Delivery
from transmute_common.converter import Capabilities, ConversionTask, InputFile
from transmute_common.errors import InvalidArgument, InvalidInput, TransmuteError
from transmute_common.formats import by_name, format_of
from transmute_common.grpcutil import grpc_errors, start_server
from transmute_common.jobs import (
    FileRef,
    JobError,
    Progress,
    dict_from_struct,
    file_from_pb,
    file_to_pb,
    progress_to_pb,
)
from transmute_common.jobs_client import JobsClient
from transmute_common.logging import get_logger, setup_logging
from transmute_common.objectstore import ObjectStore, open_object_store
from transmute_common.progress import ProgressReporter
from transmute_common.settings import Settings
from transmute_common.tracing import setup_tracing, shutdown_tracing, tracer
from transmute_common.workers import WorkerPool, load_factory

log = get_logger(__name__)
FETCHING = Progress(percent=1, phase="fetch", message="fetching input")
Report = Callable[[Progress], Awaitable[None]]
_UNSAFE = re.compile(r"[^\w. -]+")


class ConverterSettings(Settings):
    concurrency: int = Field(default=2, ge=1)
    convert_timeout_seconds: float = Field(default=300.0, gt=0)
    worker_memory_bytes: int = Field(default=4 * 1024**3, ge=0)  # 0: no limit
    work_dir: Path = Path(tempfile.gettempdir())
    progress_interval_seconds: float = 0.5
    # How long a finished conversion waits for the jobs service to record it.
    settle_retry_seconds: float = Field(default=300.0, ge=0)


def output_name(input_name: str, extension: str, index: int = 0) -> str:
    """A safe output file name: the input's stem, no path parts, the target extension."""
    stem = _UNSAFE.sub("_", Path(input_name.replace("\\", "/")).stem).strip(" .") or "output"
    suffix = f"-{index}" if index else ""
    return f"{stem[:100]}{suffix}.{extension}"


class ConverterRuntime:
    def __init__(
        self,
        service: str,
        factory_path: str,
        settings: ConverterSettings,
        store: ObjectStore,
        jobs: JobsClient,
        bus: Bus,
    ):
        self.service = service
        self.settings = settings
        self.store = store
        self.jobs = jobs
        self.bus = bus
        self.capabilities: Capabilities = load_factory(factory_path)().capabilities()
        self.pool = WorkerPool(
            factory_path,
            settings.concurrency,
            settings.worker_memory_bytes,
            settings.convert_timeout_seconds,
        )
        self._tracer = tracer(f"transmute.{service}")

    # --- the pipeline, shared by queued jobs and in-mesh Convert calls -----------------

    async def run(
        self,
        operation: str,
        inputs: list[FileRef],
        target: str,
        options: dict[str, Any],
        output_prefix: str,
        report: Report,
        fresh: bool = False,
    ) -> list[FileRef]:
        """Fetches, converts and stores. ``fresh`` says no earlier attempt can have left
        outputs behind."""
        target_format = by_name(target)
        if target_format is None:
            raise InvalidArgument(f"unknown target format {target!r}", code="unsupported_target")
        work = Path(tempfile.mkdtemp(prefix=f"{self.service}-", dir=self.settings.work_dir))
        try:
            local_inputs = []
            for i, ref in enumerate(inputs):
                fmt = format_of(ref.content_type)
                if fmt is None or not self.capabilities.accepts(operation, fmt.name, target):
                    raise InvalidInput(
                        f"{self.service} cannot {operation} {ref.content_type} to {target}",
                        code="unsupported_conversion",
                    )
                path = work / f"input-{i}.{fmt.extension}"
                await self.store.get_file(ref.key, path)
                local_inputs.append(InputFile(path=path, name=ref.name, format=fmt.name))
            await report(Progress(percent=10, phase="convert", message="converting"))
            out_dir = work / "out"
            out_dir.mkdir()
            task = ConversionTask(operation, local_inputs, target, options, out_dir)
            outputs = await self.pool.run(task, self._progress_forwarder(report))
            await report(Progress(percent=90, phase="store", message="storing output"))
            if not fresh:
                # Outputs of an earlier, interrupted attempt are replaced, never added to.
                await self.store.delete_prefix(output_prefix)
            refs = []
            for i, out in enumerate(outputs):
                name = output_name(inputs[0].name, target_format.extension, i)
                info = await self.store.put_file(output_prefix + name, out.path, out.media_type)
                refs.append(
                    FileRef(
                        key=info.key,
                        name=name,
                        size=info.size,
                        sha256=info.sha256,
                        content_type=out.media_type,
                    )
                )
            return refs
        finally:
            await asyncio.to_thread(shutil.rmtree, work, True)

    def _progress_forwarder(self, report: Report) -> Callable[[float, str], None]:
        """Maps the engine's 0..1 progress onto 10..90 %, at most one report per interval."""
        last = time.monotonic()  # short conversions send no engine progress at all
        pending: set[asyncio.Task[None]] = set()

        def forward(fraction: float, message: str) -> None:
            nonlocal last
            now = time.monotonic()
            if now - last < self.settings.progress_interval_seconds:
                return
            last = now
            task = asyncio.ensure_future(
                report(Progress(percent=10 + 80 * fraction, phase="convert", message=message))
            )
            pending.add(task)
            task.add_done_callback(pending.discard)

        return forward

    # --- queued jobs from JetStream ----------------------------------------------------

    async def handle(self, delivery: Delivery) -> None:
        r = delivery.request
        with self._tracer.start_as_current_span(
            f"convert {r.service}",
            kind=trace.SpanKind.CONSUMER,
            attributes={
                "transmute.job_id": r.job_id,
                "transmute.attempt": delivery.attempt,
                "transmute.target": r.target,
            },
        ) as span:
            outcome = await self._process(delivery, r)
            span.set_attribute("transmute.outcome", outcome)
            log.info("job_processed", job_id=r.job_id, attempt=delivery.attempt, outcome=outcome)

    async def _process(self, delivery: Delivery, r: ConversionRequest) -> str:
        async def send(p: Progress) -> None:
            await self.jobs.report_progress(r.tenant, r.job_id, delivery.attempt, p)

        reporter = ProgressReporter(send, self.settings.progress_interval_seconds)
        try:
            # Not awaited: a refusal (job cancelled meanwhile) surfaces at the next report.
            await reporter.report(FETCHING)
            outputs = await self.run(
                r.operation,
                r.inputs,
                r.target,
                r.options,
                r.output_prefix,
                reporter.report,
                fresh=delivery.attempt == 1,
            )
            # Not waiting for progress still in flight: a report arriving after this is
            # refused by the jobs service and never shown to watchers.
            reporter.stop()
            await self._settle(lambda: self.jobs.complete(r.tenant, r.job_id, outputs))
        except TransmuteError as err:
            reporter.stop()
            if err.status in (404, 409):
                # Cancelled, already finished or gone: nothing more to do for it.
                await self.store.delete_prefix(r.output_prefix)
                await delivery.ack()
                return "dropped"
            if err.retryable and not delivery.last_attempt:
                await delivery.nak(self.bus.backoff(delivery.attempt))
                return f"retry:{err.code}"
            error = JobError(code=err.code, message=err.message)
            await self._settle(lambda: self.jobs.fail(r.tenant, r.job_id, error))
            await delivery.ack()
            return f"failed:{err.code}"
        await delivery.ack()
        return "succeeded"

    async def _settle(self, call: Callable[[], Awaitable[object]]) -> None:
        """Records a job's outcome, waiting out an outage of the jobs service or its store
        (heartbeats keep the message ours meanwhile) rather than spending a delivery."""
        deadline = time.monotonic() + self.settings.settle_retry_seconds
        delay = 0.2
        while True:
            try:
                await call()
                return
            except TransmuteError as err:
                if not err.retryable or time.monotonic() + delay > deadline:
                    raise
                log.warning("jobs_service_unavailable", error=err.message, retry_in=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


class ConverterServicer(converter_pb2_grpc.ConverterServiceServicer):
    """The converter gRPC API, for the gateway and for other converters."""

    def __init__(self, runtime: ConverterRuntime):
        self.runtime = runtime

    async def Capabilities(
        self, request: converter_pb2.CapabilitiesRequest, context: grpc.aio.ServicerContext
    ) -> converter_pb2.CapabilitiesResponse:
        return self.runtime.capabilities.to_pb()

    @grpc_errors
    async def Convert(
        self, request: converter_pb2.ConvertRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[converter_pb2.ConvertResponse]:
        tenant_prefix = f"tenants/{request.tenant}/"
        if (
            not request.tenant
            or not request.output_prefix.startswith(tenant_prefix)
            or any(not f.key.startswith(tenant_prefix) for f in request.inputs)
        ):
            raise InvalidArgument("inputs and output_prefix must be under the tenant's prefix")
        events: asyncio.Queue[converter_pb2.ConvertResponse] = asyncio.Queue()

        async def report(p: Progress) -> None:
            await events.put(converter_pb2.ConvertResponse(progress=progress_to_pb(p)))

        await report(FETCHING)
        work = asyncio.create_task(
            self.runtime.run(
                request.operation or "convert",
                [file_from_pb(f) for f in request.inputs],
                request.target,
                dict_from_struct(request.options),
                request.output_prefix,
                report,
            )
        )
        try:
            while not work.done() or not events.empty():
                getter = asyncio.ensure_future(events.get())
                await asyncio.wait({getter, work}, return_when=asyncio.FIRST_COMPLETED)
                if getter.done():
                    yield getter.result()
                else:
                    getter.cancel()
            outputs = work.result()
        finally:
            work.cancel()
        yield converter_pb2.ConvertResponse(
            result=converter_pb2.ConvertResult(outputs=[file_to_pb(f) for f in outputs])
        )


async def serve_converter(service: str, factory_path: str, settings: ConverterSettings) -> None:
    """Runs a converter service until SIGTERM or SIGINT."""
    setup_logging(service)
    setup_tracing(f"transmute-{service}")
    store = open_object_store(settings)
    await store.start()
    jobs = JobsClient(settings.jobs_address)
    bus = Bus(settings)
    await bus.connect(f"transmute-{service}")
    runtime = ConverterRuntime(service, factory_path, settings, store, jobs, bus)
    await runtime.pool.start()

    def register(server: grpc.aio.Server) -> None:
        converter_pb2_grpc.add_ConverterServiceServicer_to_server(
            ConverterServicer(runtime), server
        )

    server, port = await start_server(
        settings.grpc_host,
        settings.grpc_port,
        register,
        [converter_pb2.DESCRIPTOR.services_by_name["ConverterService"].full_name],
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    log.info("converter_started", grpc_port=port, concurrency=settings.concurrency)
    try:
        await bus.consume(service, runtime.handle, settings.concurrency, stop)
    finally:
        log.info("converter_stopping")
        await server.stop(grace=5)
        await bus.close()
        await runtime.pool.close()
        await jobs.close()
        await store.close()
        shutdown_tracing()
