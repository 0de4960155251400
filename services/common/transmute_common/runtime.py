"""What every converter service runs: subscribe, fetch input, convert, report, put output.

A service supplies only its engine (a Converter) and its settings; this module wires the
engine to JetStream, the object store, the jobs service and the converter gRPC API.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, Literal

import grpc
import nats
from grpc_health.v1.health import aio as health_aio
from opentelemetry import trace

from transmute.converter.v1 import converter_pb2, converter_pb2_grpc
from transmute_common.bus import (
    Bus,
    ConversionRequest,
    Delivery,
    messaging_attributes,
)
from transmute_common.bus import output_prefix as job_output_prefix
from transmute_common.converter import (
    Capabilities,
    ConversionTask,
    EngineHost,
    InputFile,
    OutputFile,
    ProgressFn,
    engine_version,
)
from transmute_common.converter_metrics import ConverterMetrics
from transmute_common.converter_settings import ConverterSettings
from transmute_common.errors import (
    InvalidArgument,
    InvalidInput,
    NotFound,
    TransmuteError,
    check_job_id,
    check_tenant,
    shown,
)
from transmute_common.formats import BY_NAME, by_name, format_of
from transmute_common.grpcutil import grpc_errors, start_server
from transmute_common.handoff import ConverterClients, Handoff, Intake
from transmute_common.jobs import (
    FileRef,
    Job,
    JobError,
    JobStatus,
    Progress,
    dict_from_struct,
    file_from_pb,
    file_to_pb,
    progress_to_pb,
)
from transmute_common.jobs_client import JobsClient
from transmute_common.logging import get_logger, setup_logging
from transmute_common.memory import settle_after_start
from transmute_common.metrics import setup_metrics, shutdown_metrics
from transmute_common.objectstore import ObjectStore, open_object_store
from transmute_common.objectstore.base import check_key
from transmute_common.program_host import ProgramHost
from transmute_common.progress import ProgressReporter
from transmute_common.readiness import Readiness
from transmute_common.tracing import setup_tracing, shutdown_tracing, tracer
from transmute_common.workers import EngineUnavailable, WorkerPool

log = get_logger(__name__)
FETCHING = Progress(percent=1, phase="fetch", message="fetching input")
Report = Callable[[Progress], Awaitable[None]]
PENDING_INTERVAL_SECONDS = 5.0
EngineHostKind = Literal["workers", "programs"]
_UNSAFE = re.compile(r"[^\w. -]+")


def output_name(input_name: str, extension: str, part: str = "") -> str:
    """A safe output file name: the input's stem, no path parts, the part of the result
    it holds (e.g. ``page-3``) when there are several, the target extension."""
    stem = _UNSAFE.sub("_", Path(input_name.replace("\\", "/")).stem).strip(" .") or "output"
    suffix = "-" + _UNSAFE.sub("_", part)[:60] if part else ""
    return f"{stem[:100]}{suffix}.{extension}"


def output_names(input_name: str, outputs: list[OutputFile], extension: str) -> list[str]:
    """Names for an engine's outputs: one output is named after the input; several are
    told apart by the engine's own names (``page-3.png``), or by their place."""
    if len(outputs) == 1:
        return [output_name(input_name, outputs[0].extension or extension)]
    parts = [Path(o.name).stem for o in outputs]
    if len(set(parts)) < len(parts):
        parts = [str(i + 1) for i in range(len(outputs))]
    return [
        output_name(input_name, o.extension or extension, part)
        for o, part in zip(outputs, parts, strict=True)
    ]


class ConverterRuntime:
    def __init__(
        self,
        service: str,
        factory_path: str,
        declared: Capabilities,
        settings: ConverterSettings,
        store: ObjectStore,
        jobs: JobsClient,
        bus: Bus,
        handoffs: list[Handoff] | None = None,
        host: EngineHostKind = "workers",
        intakes: list[Intake] | None = None,
    ):
        self.service = service
        self.settings = settings
        self.store = store
        self.jobs = jobs
        self.bus = bus
        self.declared = declared
        # Nothing is offered until a worker has built the engine and said what it can do.
        self.capabilities = declared.without(
            {i for c in declared.conversions for i in c.inputs}, set()
        )
        host_class = ProgramHost if host == "programs" else WorkerPool
        self.pool: EngineHost = host_class(
            factory_path,
            settings.concurrency,
            settings.worker_limits(),
            settings.convert_timeout_seconds,
            declared,
            settings.engine_settings(),
            home=settings.work_dir,
        )
        self.handoffs = handoffs or []
        self.intakes = intakes or []
        self.converters = ConverterClients(settings.converters, settings.convert_timeout_seconds)
        self.metrics = ConverterMetrics(service)
        if isinstance(self.pool, WorkerPool):
            self.pool.on_restart = self.metrics.restarted
        self._tracer = tracer(f"transmute.{service}")
        self.stopping = asyncio.Event()  # set on SIGTERM: no more waiting on the jobs service
        self.readiness: Readiness | None = None  # told at once when a dependency fails

    async def start(self) -> None:
        """Starts the engine's workers. A service whose engine cannot load here still
        runs, offers nothing and says why; one whose engine lacks some codec or program
        offers the rest and says what it left out."""
        await asyncio.to_thread(self._remove_stale_work)
        try:
            await self.pool.start()
        except EngineUnavailable as exc:
            log.error("engine_unavailable", reason=str(exc), offered=[])
        self.capabilities = self.pool.available.model_copy(
            update={"engine_version": engine_version(self.service)}
        )
        left_out = self.capabilities.missing_from(self.declared)
        if left_out:
            log.warning("capabilities_reduced", left_out=left_out)

    def _remove_stale_work(self) -> None:
        """Job directories left by a process of this service that was killed."""
        for path in self.settings.work_dir.glob(f"{self.service}-*-*"):
            pid = path.name.split("-")[1]
            if pid.isdigit() and not _alive(int(pid)):
                shutil.rmtree(path, ignore_errors=True)

    # --- the pipeline, shared by queued jobs and in-mesh Convert calls -----------------

    async def run(
        self,
        operation: str,
        inputs: list[FileRef],
        target: str,
        options: dict[str, Any],
        output_prefix: str,
        report: Report,
        written: list[str] | None = None,
    ) -> list[FileRef]:
        """Fetches, converts and stores. Outputs have names derived from the inputs, so
        a repeated attempt replaces what an earlier one stored; nothing is ever deleted
        here. The keys this call stores are appended to ``written`` as it goes."""
        written = [] if written is None else written
        target_format = by_name(target)
        if target_format is None:
            raise InvalidArgument(
                f"unknown target format {shown(target)}", code="unsupported_target"
            )
        # One directory per job, named after this process: removed when the job ends,
        # or at the next start if this process is killed.
        work = Path(
            tempfile.mkdtemp(prefix=f"{self.service}-{os.getpid()}-", dir=self.settings.work_dir)
        )
        try:
            with self._tracer.start_as_current_span("fetch input"):
                local_inputs = []
                for i, ref in enumerate(inputs):
                    fmt = format_of(ref.content_type)
                    if fmt is None or not self.capabilities.accepts(operation, fmt.name, target):
                        raise InvalidInput(
                            f"{self.service} cannot {operation} {ref.content_type} to {target}",
                            code="unsupported_conversion",
                        )
                    intake = next((x for x in self.intakes if x.applies(operation, fmt.name)), None)
                    if intake is not None:
                        prefix = f"{output_prefix}intake/{i}/"
                        written.append(prefix)
                        with self._tracer.start_as_current_span(f"intake by {intake.service}"):
                            [ref] = await self.converters.convert(
                                intake.service, output_prefix.split("/")[1], ref, intake.via,
                                prefix, intake.options_for(options),
                            )  # fmt: skip
                        fmt = BY_NAME[intake.via]
                    path = work / f"input-{i}.{fmt.extension}"
                    try:
                        await self.store.get_file(ref.key, path)
                    except NotFound:
                        raise InvalidInput(
                            f"input {shown(ref.name)} is no longer stored", code="input_missing"
                        ) from None
                    finally:
                        if intake is not None:  # the converted copy was only a means
                            with contextlib.suppress(TransmuteError):
                                await self.store.delete_prefix(prefix)
                            written.remove(prefix)
                    local_inputs.append(InputFile(path=path, name=ref.name, format=fmt.name))
            await report(Progress(percent=10, phase="convert", message="converting"))
            out_dir = work / "out"
            out_dir.mkdir()
            handoff = next((h for h in self.handoffs if h.applies(operation, target)), None)
            task = ConversionTask(
                operation,
                local_inputs,
                handoff.via if handoff else target,
                options,
                out_dir,
                handoff_target=target if handoff else "",
            )
            with self._tracer.start_as_current_span(
                "convert", attributes={"transmute.operation": operation}
            ):
                started = time.monotonic()
                try:
                    forward = self._progress_forwarder(report, 40 if handoff else 80)
                    outputs = await self.pool.run(task, forward)
                finally:
                    self.metrics.engine_time.record(
                        time.monotonic() - started,
                        {"service": self.service, "operation": operation},
                    )
            if handoff is None:
                await report(Progress(percent=90, phase="store", message="storing output"))
            # What another converter finishes is stored in a folder of its own first.
            prefix = output_prefix + "handoff/" if handoff else output_prefix
            extension = BY_NAME[handoff.via].extension if handoff else target_format.extension
            with self._tracer.start_as_current_span("store output"):
                refs = []
                names = output_names(inputs[0].name, outputs, extension)
                for out, name in zip(outputs, names, strict=True):
                    written.append(prefix + name)
                    info = await self.store.put_file(prefix + name, out.path, out.media_type)
                    refs.append(
                        FileRef(
                            key=info.key,
                            name=name,
                            size=info.size,
                            sha256=info.sha256,
                            content_type=out.media_type,
                            details=out.details,
                        )
                    )
            if handoff is not None:
                refs = await self._hand_off(handoff, refs, target, output_prefix, report, written)
            return refs
        finally:
            await asyncio.to_thread(shutil.rmtree, work, True)

    async def _hand_off(
        self,
        handoff: Handoff,
        sources: list[FileRef],
        target: str,
        output_prefix: str,
        report: Report,
        written: list[str],
    ) -> list[FileRef]:
        """``sources`` converted to ``target`` by another converter, stored under
        ``output_prefix``; the intermediate files are removed whatever happens."""
        tenant = output_prefix.split("/")[1]
        extension = BY_NAME[target].extension
        # Known before they exist, so a cancel in the middle removes them too.
        written.extend(output_prefix + output_name(s.name, extension) for s in sources)
        done: asyncio.Queue[int] = asyncio.Queue()

        async def follow() -> None:
            for count in range(1, len(sources) + 1):
                await done.get()
                await report(
                    Progress(
                        percent=50 + 40 * count / len(sources),
                        phase="convert",
                        message=f"{handoff.service}: {count} of {len(sources)} files",
                    )
                )

        following = asyncio.create_task(follow())
        try:
            with self._tracer.start_as_current_span(
                f"hand off to {handoff.service}", attributes={"transmute.target": target}
            ):
                outputs = await self.converters.convert_all(
                    handoff.service, tenant, sources, target, output_prefix, done
                )
        finally:
            following.cancel()
            intermediate = {s.key for s in sources}
            for key in intermediate:
                with contextlib.suppress(TransmuteError):
                    await self.store.delete_prefix(key)
            written[:] = [k for k in written if k not in intermediate]
        await report(Progress(percent=90, phase="store", message="stored output"))
        return outputs

    def _progress_forwarder(self, report: Report, span: float = 80) -> ProgressFn:
        """Maps the engine's 0..1 progress onto 10..(10 + span) %, at most one report per
        interval."""
        last = time.monotonic()  # short conversions send no engine progress at all
        pending: set[asyncio.Task[None]] = set()

        def forward(
            fraction: float,
            message: str,
            rate: float | None = None,
            eta_seconds: float | None = None,
        ) -> None:
            nonlocal last
            now = time.monotonic()
            if now - last < self.settings.progress_interval_seconds:
                return
            last = now
            progress = Progress(
                percent=10 + span * fraction,
                phase="convert",
                message=message,
                rate=rate,
                eta_seconds=eta_seconds,
            )
            task = asyncio.ensure_future(report(progress))
            pending.add(task)
            task.add_done_callback(pending.discard)

        return forward

    # --- queued jobs from JetStream ----------------------------------------------------

    async def handle(self, delivery: Delivery) -> None:
        r = delivery.request
        subject = f"convert.{r.service}"
        producer = trace.get_current_span().get_span_context()
        with self._tracer.start_as_current_span(
            f"process {subject}",
            kind=trace.SpanKind.CONSUMER,
            links=[trace.Link(producer)] if producer.is_valid else None,
            attributes={
                **messaging_attributes(subject, r.job_id, "process"),
                "messaging.consumer.group.name": self.service,
                "transmute.job_id": r.job_id,
                "transmute.attempt": delivery.attempt,
                "transmute.target": r.target,
            },
        ) as span:
            if delivery.attempt > 1:
                self.metrics.redeliveries.add(1, {"service": self.service})
            outcome = await self._process(delivery, r)
            self.metrics.outcome(outcome, r.operation)
            span.set_attribute("transmute.outcome", outcome)
            log.info("job_processed", job_id=r.job_id, attempt=delivery.attempt, outcome=outcome)

    async def _process(self, delivery: Delivery, r: ConversionRequest) -> str:
        try:
            check_request(r)
            job = await self.jobs.get(r.tenant, r.job_id)
        except TransmuteError as err:
            if err.retryable:
                if self.readiness is not None:
                    self.readiness.doubt()
                await delivery.nak(self.bus.backoff(delivery.attempt))
                return f"retry:{err.code}"
            await delivery.term()  # forged or for a job that is gone: never work on it
            return f"refused:{err.code}"
        if job.status.terminal:
            # A repeated delivery (lost ack, redelivery after an outage): the job is
            # settled and its outputs are left exactly as they are.
            await delivery.ack()
            return f"already_{job.status.value}"

        async def send(p: Progress) -> None:
            await self.jobs.report_progress(r.tenant, r.job_id, delivery.attempt, p)

        reporter = ProgressReporter(send, self.settings.progress_interval_seconds)
        written: list[str] = []
        # A cancel (or any end of the job decided elsewhere) stops the engine at once:
        # the work is cancelled, which kills the worker and everything it started.
        ended_elsewhere = await self._watch_for_end(r)
        work = asyncio.create_task(self._convert_and_complete(delivery, r, reporter, written))
        try:
            await asyncio.wait({work, ended_elsewhere}, return_when=asyncio.FIRST_COMPLETED)
            if not work.done():
                work.cancel()
                with contextlib.suppress(asyncio.CancelledError, TransmuteError):
                    await work
                reporter.stop()
                await self._drop(written)
                await delivery.ack()
                return "cancelled"
            await work
        except TransmuteError as err:
            reporter.stop()
            if err.status in (404, 409):
                status = await self._status(r)
                if status in (JobStatus.RUNNING, None) and not delivery.last_attempt:
                    # Refused while the job still runs, or said to be gone (a job store
                    # that has just come back, say): acking now could leave it running
                    # for ever. The next delivery finds out again, and ends at once if
                    # the job is gone for good.
                    await delivery.nak(self.bus.backoff(delivery.attempt))
                    return f"retry:{err.code}"
                # Cancelled, failed or gone meanwhile: remove what this attempt wrote,
                # unless another attempt succeeded (its outputs have the same names).
                if status is not JobStatus.SUCCEEDED:
                    await self._drop(written)
                await delivery.ack()
                return "dropped"
            if err.retryable and not delivery.last_attempt:
                if self.readiness is not None and err.code != "worker_crashed":
                    self.readiness.doubt()  # a dependency is failing: pull nothing more
                await delivery.nak(self.bus.backoff(delivery.attempt))
                return f"retry:{err.code}"
            error = JobError(code=err.code, message=err.message, details=err.details)
            await self._settle(lambda: self.jobs.fail(r.tenant, r.job_id, error))
            await delivery.ack()
            return f"failed:{err.code}"
        finally:
            ended_elsewhere.cancel()
            if not work.done():  # the service is stopping: the engine stops with it
                work.cancel()
                with contextlib.suppress(BaseException):
                    await work
        await delivery.ack()
        return "succeeded"

    async def _convert_and_complete(
        self,
        delivery: Delivery,
        r: ConversionRequest,
        reporter: ProgressReporter,
        written: list[str],
    ) -> None:
        # Not awaited: a refusal (job cancelled meanwhile) surfaces at the next report.
        await reporter.report(FETCHING)
        outputs = await self.run(
            r.operation,
            r.inputs,
            r.target,
            r.options,
            # Derived here from the job, never taken from the message.
            job_output_prefix(r.tenant, r.job_id),
            reporter.report,
            written=written,
        )
        # Not waiting for progress still in flight: a report arriving after this is
        # refused by the jobs service and never shown to watchers.
        reporter.stop()
        await self._settle(lambda: self.jobs.complete(r.tenant, r.job_id, outputs))

    async def _watch_for_end(self, r: ConversionRequest) -> asyncio.Task[None]:
        """A task that finishes when the job ends without us (cancelled, failed or
        expired), seen on the jobs service's event fan-out."""
        try:
            sub = await self.bus.subscribe_job_events(r.tenant, r.job_id)
        except (TransmuteError, nats.errors.Error):
            # NATS away: a refused progress report still tells, at the next report.
            return asyncio.create_task(_never())

        async def wait() -> None:
            try:
                async for msg in sub.messages:
                    status = Job.model_validate_json(msg.data).status
                    if status.terminal and status is not JobStatus.SUCCEEDED:
                        log.info("job_ended_elsewhere", job_id=r.job_id, status=status.value)
                        return
            finally:
                with contextlib.suppress(Exception):
                    await sub.unsubscribe()

        return asyncio.create_task(wait())

    async def _status(self, r: ConversionRequest) -> JobStatus | None:
        """The job's status now; SUCCEEDED when it cannot be told (what is stored is then
        kept: the TTL sweep removes it in time), None when the job is gone."""
        try:
            return (await self.jobs.get(r.tenant, r.job_id)).status
        except TransmuteError as err:
            return None if err.status == 404 else JobStatus.SUCCEEDED

    async def _drop(self, written: list[str]) -> None:
        """Removes the outputs this attempt stored, and nothing else."""
        for key in written:
            with contextlib.suppress(TransmuteError):
                await self.store.delete_prefix(key)

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
                if self.stopping.is_set():
                    raise  # stopping: the message goes back to the stream instead
                log.warning("jobs_service_unavailable", error=err.message, retry_in=delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), delay)
            delay = min(delay * 2, 5.0)


def check_request(r: ConversionRequest) -> None:
    """A conversion request names a real job id of a valid tenant, and inputs under
    that tenant's prefix; anything else is refused before any work or store call."""
    check_job_id(r.job_id)
    prefix = f"tenants/{check_tenant(r.tenant)}/"
    for ref in r.inputs:
        if not ref.key.startswith(prefix):
            raise InvalidArgument("inputs must be under the tenant's prefix", code="foreign_input")
        check_key(ref.key)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


async def _never() -> None:
    await asyncio.Event().wait()


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
        tenant_prefix = f"tenants/{check_tenant(request.tenant)}/"
        out = request.output_prefix
        if (
            not out.startswith(tenant_prefix)
            or not out.endswith("/")
            or out.count("/") < 4  # a folder of its own below tenants/<tenant>/<area>/
            or any(not f.key.startswith(tenant_prefix) for f in request.inputs)
        ):
            raise InvalidArgument(
                "inputs and output_prefix must be under the tenant's prefix, and "
                "output_prefix a folder of its own (tenants/<tenant>/<area>/<name>/)"
            )
        check_key(out + "x")
        for f in request.inputs:
            check_key(f.key)
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


async def serve_converter(
    service: str,
    factory_path: str,
    declared: Capabilities,
    settings: ConverterSettings,
    handoffs: list[Handoff] | None = None,
    host: EngineHostKind = "workers",
    intakes: list[Intake] | None = None,
) -> None:
    """Runs a converter service until SIGTERM or SIGINT: ``declared`` says what it can
    do, ``factory_path`` ("module:callable") builds its engine: a Converter inside each
    worker process (``host="workers"``), or a ProgramConverter in this process
    (``host="programs"``), whose programs are confined instead.

    It starts even while the object store or the jobs service is down: it then reports
    NOT_SERVING and pulls no work until they are back."""
    setup_logging(service)
    setup_tracing(f"transmute-{service}")
    setup_metrics(f"transmute-{service}")
    store = open_object_store(settings)
    jobs = JobsClient(settings.jobs_address)
    bus = Bus(settings)
    await bus.connect(f"transmute-{service}")
    runtime = ConverterRuntime(
        service, factory_path, declared, settings, store, jobs, bus, handoffs, host, intakes
    )
    await runtime.start()
    store_started = False

    async def store_ready() -> None:
        nonlocal store_started
        if not store_started:
            await store.start()  # the bucket and its expiry rule, once
            store_started = True
        else:
            await store.ping()

    def register(server: grpc.aio.Server) -> None:
        converter_pb2_grpc.add_ConverterServiceServicer_to_server(
            ConverterServicer(runtime), server
        )

    names = [converter_pb2.DESCRIPTOR.services_by_name["ConverterService"].full_name]
    health = health_aio.HealthServicer()
    readiness = Readiness(
        {"object_store": store_ready, "jobs": jobs.ping, "nats": bus.ping}, health, names
    )
    runtime.readiness = readiness
    server, port = await start_server(
        settings.grpc_host,
        settings.grpc_port,
        register,
        names,
        health=health,
        reflection=settings.grpc_reflection,
    )
    await readiness.check_once()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_signal() -> None:
        stop.set()
        runtime.stopping.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal)
    settle_after_start()
    log.info("converter_started", grpc_port=port, concurrency=settings.concurrency)
    watching = asyncio.create_task(readiness.run(stop))
    counting = asyncio.create_task(_count_pending(bus, runtime.metrics, service, stop))
    try:
        await bus.consume(
            service,
            runtime.handle,
            settings.concurrency,
            stop,
            settings.stop_grace_seconds,
            ready=readiness.ready,
        )
    finally:
        log.info("converter_stopping")
        watching.cancel()
        counting.cancel()
        await server.stop(grace=5)
        await bus.close()
        await runtime.pool.close()
        await runtime.converters.close()
        await jobs.close()
        await store.close()
        shutdown_metrics()
        shutdown_tracing()


async def _count_pending(
    bus: Bus, metrics: ConverterMetrics, service: str, stop: asyncio.Event
) -> None:
    """Keeps the pending-messages gauge fresh from the consumer's own count."""
    while not stop.is_set():
        with contextlib.suppress(Exception):
            metrics.pending = await bus.pending(service)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), PENDING_INTERVAL_SECONDS)
