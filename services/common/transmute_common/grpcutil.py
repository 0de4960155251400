"""gRPC plumbing shared by every server and client: health, reflection, and carrying
TransmuteError codes across the wire."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio

from transmute_common.errors import TransmuteError

F = TypeVar("F", bound=Callable[..., Any])

_STATUS_TO_GRPC = {
    400: grpc.StatusCode.INVALID_ARGUMENT,
    401: grpc.StatusCode.UNAUTHENTICATED,
    403: grpc.StatusCode.PERMISSION_DENIED,
    404: grpc.StatusCode.NOT_FOUND,
    409: grpc.StatusCode.FAILED_PRECONDITION,
    413: grpc.StatusCode.RESOURCE_EXHAUSTED,
    415: grpc.StatusCode.INVALID_ARGUMENT,
    422: grpc.StatusCode.INVALID_ARGUMENT,
    429: grpc.StatusCode.RESOURCE_EXHAUSTED,
    503: grpc.StatusCode.UNAVAILABLE,
}
_GRPC_TO_STATUS = {
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.FAILED_PRECONDITION: 409,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 503,
}


async def _abort(context: grpc.aio.ServicerContext, err: TransmuteError) -> None:
    context.set_trailing_metadata((("error-code", err.code), ("error-status", str(err.status))))
    await context.abort(_STATUS_TO_GRPC.get(err.status, grpc.StatusCode.INTERNAL), err.message)


def grpc_errors(fn: F) -> F:
    """Turns TransmuteError raised by a servicer method into a gRPC status that keeps
    its code (trailing metadata ``error-code``)."""
    if inspect.isasyncgenfunction(fn):

        @functools.wraps(fn)
        async def stream(self: Any, request: Any, context: grpc.aio.ServicerContext) -> Any:
            try:
                async for item in fn(self, request, context):
                    yield item
            except TransmuteError as err:
                await _abort(context, err)

        return stream  # type: ignore[return-value]

    @functools.wraps(fn)
    async def unary(self: Any, request: Any, context: grpc.aio.ServicerContext) -> Any:
        try:
            return await fn(self, request, context)
        except TransmuteError as err:
            await _abort(context, err)

    return unary  # type: ignore[return-value]


def error_from_rpc(exc: grpc.aio.AioRpcError) -> TransmuteError:
    """The TransmuteError a remote servicer raised, rebuilt on the client side."""
    meta = dict(exc.trailing_metadata() or ())
    code = str(meta.get("error-code") or exc.code().name.lower())
    status = int(str(meta.get("error-status") or _GRPC_TO_STATUS.get(exc.code(), 500)))
    err = TransmuteError(exc.details() or exc.code().name, code=code)
    err.status = status
    err.retryable = exc.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
    return err


def channel(address: str) -> grpc.aio.Channel:
    return grpc.aio.insecure_channel(
        address,
        options=[
            ("grpc.max_receive_message_length", 16 * 1024 * 1024),
            ("grpc.keepalive_time_ms", 30_000),
            # gRPC's default backoff grows to two minutes while a peer is down: a
            # restarted jobs service or converter would then stay unused that long.
            ("grpc.initial_reconnect_backoff_ms", 250),
            ("grpc.min_reconnect_backoff_ms", 250),
            ("grpc.max_reconnect_backoff_ms", 2_000),
        ],
    )


async def start_server(
    host: str,
    port: int,
    register: Callable[[grpc.aio.Server], None],
    service_names: Iterable[str],
    health: health_aio.HealthServicer | None = None,
    reflection: bool = False,
) -> tuple[grpc.aio.Server, int]:
    """Starts a gRPC server with the standard health service (and server reflection if
    asked). Returns the server and the port it bound (useful with port 0). Health says SERVING
    until whoever passed ``health`` says otherwise (see transmute_common.readiness)."""
    server = grpc.aio.server(options=[("grpc.max_receive_message_length", 16 * 1024 * 1024)])
    register(server)
    health = health or health_aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    names = [*service_names, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name]
    if reflection:
        from grpc_reflection.v1alpha import reflection as reflecting  # only loaded if used

        reflecting.enable_server_reflection([*names, reflecting.SERVICE_NAME], server)
    bound = server.add_insecure_port(f"{host}:{port}")
    await server.start()
    for name in ["", *names]:
        await health.set(name, health_pb2.HealthCheckResponse.SERVING)
    return server, bound
