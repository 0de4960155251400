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
from transmute_gateway.authn import Authenticator
from transmute_gateway.core import Gateway
from transmute_gateway.identity import Principal
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
    def __init__(self, gw: Gateway, auth: Authenticator):
        self.gw, self.auth = gw, auth

    async def caller(self, context: grpc.aio.ServicerContext, action: str) -> Principal:
        """Who calls (the ``authorization`` metadata, as the REST header) and that their
        role may do ``action``."""
        metadata = dict(context.invocation_metadata() or ())
        who = await self.auth.resolve(metadata.get("authorization"), "grpc")
        return who.allow(action)

    @grpc_errors
    @public_errors
    async def Upload(
        self,
        request_iterator: AsyncIterable[gateway_pb2.UploadRequest],
        context: grpc.aio.ServicerContext,
    ) -> gateway_pb2.UploadedFile:
        who = await self.caller(context, "submit")
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

        f = await self.gw.upload(who, first.metadata.filename, chunks())
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
        who = await self.caller(context, "submit")
        job = await self.gw.submit(
            who,
            await self.gw.files(who.tenant, list(request.inputs)),
            request.target,
            dict_from_struct(request.options),
            request.idempotency_key,
            request.operation,
            not request.no_cache,
            request.webhook_url,
        )
        return job_message(job)

    @grpc_errors
    @public_errors
    async def GetJob(
        self, request: gateway_pb2.GetJobRequest, context: grpc.aio.ServicerContext
    ) -> gateway_pb2.Job:
        who = await self.caller(context, "read")
        return job_message(await self.gw.get(who.tenant, request.id))

    @grpc_errors
    @public_errors
    async def WatchJob(
        self, request: gateway_pb2.WatchJobRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[gateway_pb2.Job]:
        who = await self.caller(context, "read")
        metrics.WATCHERS.add(1, {"api": "grpc"})
        try:
            async for job in self.gw.watch(who.tenant, request.id):
                yield job_message(job)
        finally:
            metrics.WATCHERS.add(-1, {"api": "grpc"})

    @grpc_errors
    @public_errors
    async def CancelJob(
        self, request: gateway_pb2.CancelJobRequest, context: grpc.aio.ServicerContext
    ) -> gateway_pb2.Job:
        who = await self.caller(context, "cancel")
        return job_message(await self.gw.cancel(who.tenant, request.id))

    @grpc_errors
    @public_errors
    async def Download(
        self, request: gateway_pb2.DownloadRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[gateway_pb2.DownloadResponse]:
        who = await self.caller(context, "read")
        ref = await self.gw.output(who.tenant, request.job_id, request.name)
        async for chunk in self.gw.store.read(ref.key, DOWNLOAD_CHUNK):
            yield gateway_pb2.DownloadResponse(chunk=chunk)

    @grpc_errors
    @public_errors
    async def ListFormats(
        self, request: gateway_pb2.ListFormatsRequest, context: grpc.aio.ServicerContext
    ) -> gateway_pb2.ListFormatsResponse:
        services = await self.gw.catalog.services()
        return gateway_pb2.ListFormatsResponse(services=[c.to_pb() for c in services.values()])
