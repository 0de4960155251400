"""The public gRPC API: the same operations as REST, over transmute.gateway.v1."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator

import grpc

from transmute.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from transmute.jobs.v1 import jobs_pb2
from transmute_common.errors import InvalidArgument
from transmute_common.grpcutil import grpc_errors
from transmute_common.jobs import dict_from_struct, job_to_pb
from transmute_gateway.core import Gateway

DOWNLOAD_CHUNK = 1024 * 1024


class GatewayServicer(gateway_pb2_grpc.GatewayServiceServicer):
    def __init__(self, gw: Gateway):
        self.gw = gw

    @property
    def tenant(self) -> str:
        return self.gw.settings.default_tenant

    @grpc_errors
    async def Upload(
        self,
        request_iterator: AsyncIterable[gateway_pb2.UploadRequest],
        context: grpc.aio.ServicerContext,
    ) -> gateway_pb2.UploadedFile:
        messages = aiter(request_iterator)
        try:
            first = await anext(messages)
        except StopAsyncIteration:
            raise InvalidArgument("the upload stream is empty", code="empty_file") from None
        if not first.HasField("metadata"):
            raise InvalidArgument("the first message must carry metadata", code="missing_metadata")

        async def chunks() -> AsyncIterator[bytes]:
            async for msg in messages:
                yield msg.chunk

        f = await self.gw.upload(self.tenant, first.metadata.filename, chunks())
        return gateway_pb2.UploadedFile(
            id=f.id,
            name=f.name,
            size=f.size,
            sha256=f.sha256,
            content_type=f.content_type,
            format=f.format,
        )

    @grpc_errors
    async def SubmitJob(
        self, request: gateway_pb2.SubmitJobRequest, context: grpc.aio.ServicerContext
    ) -> jobs_pb2.Job:
        job = await self.gw.submit(
            self.tenant,
            await self.gw.files(self.tenant, list(request.inputs)),
            request.target,
            dict_from_struct(request.options),
            request.idempotency_key,
        )
        return job_to_pb(job)

    @grpc_errors
    async def GetJob(
        self, request: gateway_pb2.GetJobRequest, context: grpc.aio.ServicerContext
    ) -> jobs_pb2.Job:
        return job_to_pb(await self.gw.get(self.tenant, request.id))

    @grpc_errors
    async def WatchJob(
        self, request: gateway_pb2.WatchJobRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[jobs_pb2.Job]:
        async for job in self.gw.watch(self.tenant, request.id):
            yield job_to_pb(job)

    @grpc_errors
    async def CancelJob(
        self, request: gateway_pb2.CancelJobRequest, context: grpc.aio.ServicerContext
    ) -> jobs_pb2.Job:
        return job_to_pb(await self.gw.cancel(self.tenant, request.id))

    @grpc_errors
    async def Download(
        self, request: gateway_pb2.DownloadRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[gateway_pb2.DownloadResponse]:
        ref = await self.gw.output(self.tenant, request.job_id, request.name)
        async for chunk in self.gw.store.read(ref.key, DOWNLOAD_CHUNK):
            yield gateway_pb2.DownloadResponse(chunk=chunk)

    @grpc_errors
    async def ListFormats(
        self, request: gateway_pb2.ListFormatsRequest, context: grpc.aio.ServicerContext
    ) -> gateway_pb2.ListFormatsResponse:
        services = await self.gw.catalog.services()
        return gateway_pb2.ListFormatsResponse(services=[c.to_pb() for c in services.values()])
