"""Async client of the jobs service, speaking the job model rather than protobuf."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from transmute.jobs.v1 import jobs_pb2, jobs_pb2_grpc
from transmute_common.access_client import AccessClient
from transmute_common.errors import Unavailable
from transmute_common.grpcutil import channel, error_from_rpc
from transmute_common.jobs import (
    FileRef,
    Job,
    JobError,
    Progress,
    file_to_pb,
    job_from_pb,
    progress_to_pb,
    struct_from_dict,
)

T = TypeVar("T")


class JobsClient:
    def __init__(self, address: str, timeout: float = 10.0):
        self._channel = channel(address)
        self._stub = jobs_pb2_grpc.JobServiceStub(self._channel)
        self._timeout = timeout
        self.access = AccessClient(self._channel, self._call)

    async def close(self) -> None:
        await self._channel.close()

    async def ping(self) -> None:
        """Raises unless the jobs service answers that it is serving."""
        resp = await health_pb2_grpc.HealthStub(self._channel).Check(
            health_pb2.HealthCheckRequest(), timeout=self._timeout
        )
        if resp.status != health_pb2.HealthCheckResponse.SERVING:
            raise Unavailable("the jobs service is not serving")

    async def _call(self, rpc: Callable[..., Awaitable[T]], request: Any) -> T:
        try:
            return await rpc(request, timeout=self._timeout)
        except grpc.aio.AioRpcError as exc:
            raise error_from_rpc(exc) from exc

    async def create(
        self,
        *,
        tenant: str,
        service: str,
        operation: str,
        inputs: list[FileRef],
        target: str,
        options: dict[str, Any],
        idempotency_key: str = "",
        trace_id: str = "",
        ttl_seconds: int = 0,
        cache_key: str = "",
        webhook_url: str = "",
    ) -> tuple[Job, bool]:
        resp = await self._call(
            self._stub.CreateJob,
            jobs_pb2.CreateJobRequest(
                tenant=tenant,
                service=service,
                operation=operation,
                inputs=[file_to_pb(f) for f in inputs],
                target=target,
                options=struct_from_dict(options),
                idempotency_key=idempotency_key,
                trace_id=trace_id,
                ttl_seconds=ttl_seconds,
                cache_key=cache_key,
                webhook_url=webhook_url,
            ),
        )
        return job_from_pb(resp.job), resp.created

    async def get(self, tenant: str, job_id: str) -> Job:
        pb = await self._call(self._stub.GetJob, jobs_pb2.GetJobRequest(tenant=tenant, id=job_id))
        return job_from_pb(pb)

    async def list_jobs(
        self, tenant: str, page_size: int, page_token: str
    ) -> tuple[list[Job], str]:
        resp = await self._call(
            self._stub.ListJobs,
            jobs_pb2.ListJobsRequest(tenant=tenant, page_size=page_size, page_token=page_token),
        )
        return [job_from_pb(j) for j in resp.jobs], resp.next_page_token

    async def watch(self, tenant: str, job_id: str) -> AsyncIterator[Job]:
        """The job's current state, then each change, ending after a terminal state."""
        call = self._stub.WatchJob(jobs_pb2.WatchJobRequest(tenant=tenant, id=job_id))
        try:
            async for pb in call:
                yield job_from_pb(pb)
        except grpc.aio.AioRpcError as exc:
            raise error_from_rpc(exc) from exc
        finally:
            call.cancel()

    async def report_progress(
        self, tenant: str, job_id: str, attempt: int, progress: Progress
    ) -> Job:
        pb = await self._call(
            self._stub.ReportProgress,
            jobs_pb2.ReportProgressRequest(
                tenant=tenant, id=job_id, attempt=attempt, progress=progress_to_pb(progress)
            ),
        )
        return job_from_pb(pb)

    async def complete(self, tenant: str, job_id: str, outputs: list[FileRef]) -> Job:
        pb = await self._call(
            self._stub.CompleteJob,
            jobs_pb2.CompleteJobRequest(
                tenant=tenant, id=job_id, outputs=[file_to_pb(f) for f in outputs]
            ),
        )
        return job_from_pb(pb)

    async def fail(self, tenant: str, job_id: str, error: JobError) -> Job:
        pb = await self._call(
            self._stub.FailJob,
            jobs_pb2.FailJobRequest(
                tenant=tenant,
                id=job_id,
                error=error.to_pb(),
            ),
        )
        return job_from_pb(pb)

    async def cancel(self, tenant: str, job_id: str) -> Job:
        pb = await self._call(
            self._stub.CancelJob, jobs_pb2.CancelJobRequest(tenant=tenant, id=job_id)
        )
        return job_from_pb(pb)
