"""What the converters can do, from their Capabilities RPC, cached for a short while.
The gateway rejects conversions no service offers before anything is queued."""

from __future__ import annotations

import asyncio
import math
import time
from typing import Any

import grpc

from transmute.converter.v1 import converter_pb2, converter_pb2_grpc
from transmute_common.converter import Capabilities, Conversion, OptionSpec
from transmute_common.errors import InvalidArgument, TransmuteError, Unavailable, shown
from transmute_common.grpcutil import channel
from transmute_common.logging import get_logger

log = get_logger(__name__)


class Catalog:
    def __init__(self, converters: dict[str, str], ttl_seconds: float):
        self._channels = {name: channel(addr) for name, addr in converters.items()}
        self._ttl = ttl_seconds
        self._cached: dict[str, Capabilities] = {}
        self._fetched_at = -math.inf
        self._lock = asyncio.Lock()

    async def close(self) -> None:
        for ch in self._channels.values():
            await ch.close()

    async def _fetch(self, name: str, ch: grpc.aio.Channel) -> Capabilities | None:
        try:
            pb = await converter_pb2_grpc.ConverterServiceStub(ch).Capabilities(
                converter_pb2.CapabilitiesRequest(), timeout=3
            )
        except grpc.aio.AioRpcError as exc:
            log.warning("capabilities_unavailable", service=name, error=exc.code().name)
            return None
        return Capabilities.from_pb(pb)

    async def services(self) -> dict[str, Capabilities]:
        """Every reachable converter's capabilities; unreachable ones keep their last
        known answer until they come back."""
        if time.monotonic() - self._fetched_at < self._ttl and self._cached:
            return self._cached
        async with self._lock:
            if time.monotonic() - self._fetched_at >= self._ttl or not self._cached:
                names = list(self._channels)
                found = await asyncio.gather(*(self._fetch(n, self._channels[n]) for n in names))
                fresh = {n: c for n, c in zip(names, found, strict=True) if c is not None}
                self._cached = {**self._cached, **fresh}
                # Try again soon while some converter is missing.
                complete = len(fresh) == len(names)
                self._fetched_at = time.monotonic() - (0 if complete else self._ttl * 0.9)
        if not self._cached:
            raise Unavailable("no converter service is reachable", code="converters_unavailable")
        return self._cached

    async def route(
        self, operation: str, input_formats: list[str | None], target: str
    ) -> tuple[Capabilities, Conversion]:
        """The service and conversion that take every input to ``target``, or a clear
        refusal."""
        services = await self.services()
        operations = sorted({c.operation for s in services.values() for c in s.conversions})
        if operation not in operations:
            raise TransmuteError(
                f"unknown operation {shown(operation)}",
                code="unsupported_operation",
                details={"supported": operations},
            ).with_status(422)
        targets = sorted({o for c in services.values() for o in c.outputs()})
        if target not in targets:
            raise TransmuteError(
                f"unknown target format {shown(target)}",
                code="unsupported_target",
                details={"supported": targets},
            ).with_status(422)
        readable = {i for c in services.values() for conv in c.conversions for i in conv.inputs}
        for fmt in input_formats:
            if fmt is None or fmt not in readable:
                raise TransmuteError(
                    "the file's type is not supported",
                    code="unsupported_media_type",
                    details={"detected": fmt or "unknown", "supported": sorted(readable)},
                ).with_status(415)
        formats = sorted({f for f in input_formats if f is not None})
        for caps in services.values():
            conversion = caps.conversion(operation, formats, target)
            if conversion is not None:
                if len(input_formats) > conversion.max_inputs:
                    raise TransmuteError(
                        f"{operation} takes at most {conversion.max_inputs} "
                        f"input{'s' if conversion.max_inputs > 1 else ''}",
                        code="too_many_inputs",
                    ).with_status(422)
                return caps, conversion
        if len(formats) > 1 and any(
            caps.accepts(operation, f, target) for caps in services.values() for f in formats
        ):
            raise TransmuteError(
                f"no service can {operation} {' and '.join(formats)} together to {target}",
                code="mixed_inputs",
            ).with_status(422)
        raise TransmuteError(
            f"cannot {operation} {' and '.join(formats)} to {target}",
            code="unsupported_conversion",
        ).with_status(422)


def validate_options(
    options: Any, specs: list[OptionSpec], operation: str = "convert"
) -> dict[str, Any]:
    """Checks options against a service's published specs (names, types, ranges, and
    the operations that read them)."""
    if not isinstance(options, dict):
        raise InvalidArgument("options must be a JSON object", code="invalid_options")
    by_name = {s.name: s for s in specs if s.applies_to(operation)}
    for name, value in options.items():
        spec = by_name.get(name)
        if spec is None:
            raise _bad(f"unknown option {shown(name)}", sorted(by_name))
        ok = {
            "integer": (isinstance(value, int) and not isinstance(value, bool))
            or (isinstance(value, float) and value.is_integer()),
            "number": isinstance(value, int | float) and not isinstance(value, bool),
            "boolean": isinstance(value, bool),
            "string": isinstance(value, str),
        }[spec.type]
        if not ok:
            raise _bad(f"option {shown(name)} must be a {spec.type}")
        if spec.choices and value not in spec.choices:
            raise _bad(f"option {shown(name)} must be one of {', '.join(spec.choices)}")
        if spec.minimum is not None and value < spec.minimum:
            raise _bad(f"option {shown(name)} must be at least {spec.minimum:g}")
        if spec.maximum is not None and value > spec.maximum:
            raise _bad(f"option {shown(name)} must be at most {spec.maximum:g}")
    return options


def _bad(message: str, known: list[str] | None = None) -> TransmuteError:
    details = {"known": known} if known else {}
    return TransmuteError(message, code="invalid_options", details=details).with_status(422)
