"""gRPC face of the jobs service."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from transmute.jobs.v1 import jobs_pb2, jobs_pb2_grpc
from transmute_common.grpcutil import grpc_errors
from transmute_common.jobs import (
    JobError,
    dict_from_struct,
    file_from_pb,
    job_to_pb,
    progress_from_pb,
)
from transmute_jobs.service import JobService


class JobServicer(jobs_pb2_grpc.JobServiceServicer):
    def __init__(self, jobs: JobService):
        self.jobs = jobs

    @grpc_errors
    async def CreateJob(
        self, request: jobs_pb2.CreateJobRequest, context: grpc.aio.ServicerContext
    ) -> jobs_pb2.CreateJobResponse:
        job, created = await self.jobs.create(
            tenant=request.tenant,
            service=request.service,
            operation=request.operation or "convert",
            inputs=[file_from_pb(f) for f in request.inputs],
            target=request.target,
            options=dict_from_struct(request.options),
            idempotency_key=request.idempotency_key,
            trace_id=request.trace_id,
            ttl_seconds=request.ttl_seconds,
            cache_key=request.cache_key,
            webhook_url=request.webhook_url,
        )
        return jobs_pb2.CreateJobResponse(job=job_to_pb(job), created=created)

    @grpc_errors
    async def GetJob(
        self, request: jobs_pb2.GetJobRequest, context: grpc.aio.ServicerContext
    ) -> jobs_pb2.Job:
        return job_to_pb(await self.jobs.get(request.tenant, request.id))

    @grpc_errors
    async def ListJobs(
        self, request: jobs_pb2.ListJobsRequest, context: grpc.aio.ServicerContext
    ) -> jobs_pb2.ListJobsResponse:
        jobs, token = await self.jobs.list_jobs(
            request.tenant, request.page_size, request.page_token
        )
        return jobs_pb2.ListJobsResponse(jobs=[job_to_pb(j) for j in jobs], next_page_token=token)

    @grpc_errors
    async def WatchJob(
        self, request: jobs_pb2.WatchJobRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[jobs_pb2.Job]:
        async for job in self.jobs.watch(request.tenant, request.id):
            yield job_to_pb(job)

    @grpc_errors
    async def ReportProgress(
        self, request: jobs_pb2.ReportProgressRequest, context: grpc.aio.ServicerContext
    ) -> jobs_pb2.Job:
        job = await self.jobs.report_progress(
            request.tenant, request.id, request.attempt, progress_from_pb(request.progress)
        )
        return job_to_pb(job)

    @grpc_errors
    async def CompleteJob(
        self, request: jobs_pb2.CompleteJobRequest, context: grpc.aio.ServicerContext
    ) -> jobs_pb2.Job:
        outputs = [file_from_pb(f) for f in request.outputs]
        return job_to_pb(await self.jobs.complete(request.tenant, request.id, outputs))

    @grpc_errors
    async def FailJob(
        self, request: jobs_pb2.FailJobRequest, context: grpc.aio.ServicerContext
    ) -> jobs_pb2.Job:
        error = JobError.from_pb(request.error)
        error.code = error.code or "failed"
        return job_to_pb(await self.jobs.fail(request.tenant, request.id, error))

    @grpc_errors
    async def CancelJob(
        self, request: jobs_pb2.CancelJobRequest, context: grpc.aio.ServicerContext
    ) -> jobs_pb2.Job:
        return job_to_pb(await self.jobs.cancel(request.tenant, request.id))
