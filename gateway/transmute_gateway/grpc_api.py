"""The public gRPC API: the same operations as REST, over transmute.gateway.v1."""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncIterable, AsyncIterator, Callable
from typing import Any, TypeVar

import grpc

from transmute.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from transmute_common.errors import InvalidArgument, TransmuteError
from transmute_common.grpcutil import grpc_errors
from transmute_common.jobs import dict_from_struct
from transmute_gateway import metrics
from transmute_gateway.core import Gateway
from transmute_gateway.views import job_message, public_error

DOWNLOAD_CHUNK = 1024 * 1024


F = TypeVar("F", bound=Callable[..., Any])


def public_errors(fn: F) -> F:
    """Server-side failures reach clients as their code and a fixed message only."""
    if inspect.isasyncgenfunction(fn):

        @functools.wraps(fn)
        async def stream(self: Any, request: Any, context: Any) -> Any:
            try:
                async for item in fn(self, request, context):
                    yield item
            except TransmuteError as err:
                metrics.rejected(err.code, err.status, "grpc")
                raise public_error(err) from None

        return stream  # type: ignore[return-value]

    @functools.wraps(fn)
    async def unary(self: Any, request: Any, context: Any) -> Any:
        try:
            return await fn(self, request, context)
        except TransmuteError as err:
            metrics.rejected(err.code, err.status, "grpc")
            raise public_error(err) from None

    return unary  # type: ignore[return-value]


class GatewayServicer(gateway_pb2_grpc.GatewayServiceServicer):
    def __init__(self, gw: Gateway):
        self.gw = gw

    @property
    def tenant(self) -> str:
        return self.gw.settings.default_tenant

    @grpc_errors
    @public_errors
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
    @public_errors
    async def SubmitJob(
        self, request: gateway_pb2.SubmitJobRequest, context: grpc.aio.ServicerContext
    ) -> gateway_pb2.Job:
        job = await self.gw.submit(
            self.tenant,
            await self.gw.files(self.tenant, list(request.inputs)),
            request.target,
            dict_from_struct(request.options),
            request.idempotency_key,
            request.operation,
        )
        return job_message(job)

    @grpc_errors
    @public_errors
    async def GetJob(
        self, request: gateway_pb2.GetJobRequest, context: grpc.aio.ServicerContext
    ) -> gateway_pb2.Job:
        return job_message(await self.gw.get(self.tenant, request.id))

    @grpc_errors
    @public_errors
    async def WatchJob(
        self, request: gateway_pb2.WatchJobRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[gateway_pb2.Job]:
        metrics.WATCHERS.add(1, {"api": "grpc"})
        try:
            async for job in self.gw.watch(self.tenant, request.id):
                yield job_message(job)
        finally:
            metrics.WATCHERS.add(-1, {"api": "grpc"})

    @grpc_errors
    @public_errors
    async def CancelJob(
        self, request: gateway_pb2.CancelJobRequest, context: grpc.aio.ServicerContext
    ) -> gateway_pb2.Job:
        return job_message(await self.gw.cancel(self.tenant, request.id))

    @grpc_errors
    @public_errors
    async def Download(
        self, request: gateway_pb2.DownloadRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[gateway_pb2.DownloadResponse]:
        ref = await self.gw.output(self.tenant, request.job_id, request.name)
        async for chunk in self.gw.store.read(ref.key, DOWNLOAD_CHUNK):
            yield gateway_pb2.DownloadResponse(chunk=chunk)

    @grpc_errors
    @public_errors
    async def ListFormats(
        self, request: gateway_pb2.ListFormatsRequest, context: grpc.aio.ServicerContext
    ) -> gateway_pb2.ListFormatsResponse:
        services = await self.gw.catalog.services()
        return gateway_pb2.ListFormatsResponse(services=[c.to_pb() for c in services.values()])
