"""Converters talking to each other: a converter hands its intermediate results to
another converter's gRPC ``Convert`` (the in-mesh API) to finish the job, e.g. the PDF
service renders pages as PNG and the image service encodes them as WebP or AVIF; or
has inputs it cannot read converted first (an Intake)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import grpc

from transmute.converter.v1 import converter_pb2, converter_pb2_grpc
from transmute_common.errors import Unavailable
from transmute_common.grpcutil import channel, error_from_rpc
from transmute_common.jobs import FileRef, file_from_pb, file_to_pb, struct_from_dict

# Encodings of one job's intermediate files that run at once on the other converter.
PARALLEL = 4


@dataclass(frozen=True)
class Handoff:
    """``operation`` to one of ``targets``: this engine writes ``via``, and ``service``
    converts each of those files to the target."""

    operation: str
    targets: frozenset[str]
    via: str
    service: str

    def applies(self, operation: str, target: str) -> bool:
        return operation == self.operation and target in self.targets


@dataclass(frozen=True)
class Intake:
    """``operation`` reads inputs of ``inputs`` formats only once ``service`` has
    converted each to ``via`` (the PDF service takes WebP pages as PNG from image), with
    the options ``options`` makes of the job's (none if it is not given)."""

    operation: str
    inputs: frozenset[str]
    via: str
    service: str
    options: Callable[[dict[str, Any]], dict[str, Any]] | None = None

    def options_for(self, job_options: dict[str, Any]) -> dict[str, Any]:
        return self.options(job_options) if self.options is not None else {}

    def applies(self, operation: str, fmt: str) -> bool:
        return operation == self.operation and fmt in self.inputs


class ConverterClients:
    """Channels to the other converters, opened when first used."""

    def __init__(self, addresses: dict[str, str], timeout: float):
        self._addresses = addresses
        self._timeout = timeout
        self._channels: dict[str, grpc.aio.Channel] = {}

    async def close(self) -> None:
        for ch in self._channels.values():
            await ch.close()

    def _stub(self, service: str) -> converter_pb2_grpc.ConverterServiceStub:
        if service not in self._channels:
            address = self._addresses.get(service)
            if address is None:
                raise Unavailable(
                    f"no address for the {service} converter", code="converter_unavailable"
                )
            self._channels[service] = channel(address)
        return converter_pb2_grpc.ConverterServiceStub(self._channels[service])

    async def convert(
        self,
        service: str,
        tenant: str,
        source: FileRef,
        target: str,
        output_prefix: str,
        options: dict[str, Any] | None = None,
    ) -> list[FileRef]:
        """One file converted by ``service`` into ``output_prefix``; its outputs."""
        request = converter_pb2.ConvertRequest(
            tenant=tenant,
            operation="convert",
            inputs=[file_to_pb(source)],
            target=target,
            options=struct_from_dict(options or {}),
            output_prefix=output_prefix,
        )
        try:
            async for event in self._stub(service).Convert(request, timeout=self._timeout):
                if event.HasField("result"):
                    return [file_from_pb(f) for f in event.result.outputs]
        except grpc.aio.AioRpcError as exc:
            raise error_from_rpc(exc) from exc
        raise Unavailable(f"the {service} converter ended without a result")

    async def convert_all(
        self,
        service: str,
        tenant: str,
        sources: list[FileRef],
        target: str,
        output_prefix: str,
        done: asyncio.Queue[int] | None = None,
    ) -> list[FileRef]:
        """Every source converted, at most PARALLEL at once, outputs in source order."""
        gate = asyncio.Semaphore(PARALLEL)

        async def one(i: int, source: FileRef) -> list[FileRef]:
            async with gate:
                outputs = await self.convert(service, tenant, source, target, output_prefix)
            if done is not None:
                done.put_nowait(i)
            return outputs

        results = await asyncio.gather(*(one(i, s) for i, s in enumerate(sources)))
        return [ref for refs in results for ref in refs]
