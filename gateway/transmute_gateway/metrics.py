"""The gateway's metrics (OpenTelemetry; exported when the SDK is set up in main):
requests by route and status, their duration, bytes uploaded, clients following jobs,
and refusals by error code."""

from __future__ import annotations

import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from transmute_common.metrics import meter

_m = meter("transmute.gateway")
REQUESTS = _m.create_counter(
    "transmute.gateway.requests", unit="{request}", description="HTTP requests by route and status"
)
REQUEST_DURATION = _m.create_histogram(
    "transmute.gateway.request_duration", unit="s", description="HTTP request duration"
)
UPLOAD_BYTES = _m.create_counter(
    "transmute.gateway.upload_bytes", unit="By", description="Bytes of files stored by uploads"
)
WATCHERS = _m.create_up_down_counter(
    "transmute.gateway.watchers",
    unit="{client}",
    description="Clients following a job (api: sse or grpc)",
)
REJECTIONS = _m.create_counter(
    "transmute.gateway.rejections",
    unit="{request}",
    description="Requests refused, by error code and status (REST and gRPC)",
)

AUTH_FAILURES = _m.create_counter(
    "transmute.gateway.auth_failures",
    unit="{request}",
    description="Failed authentications, by reason (error code) and api (rest or grpc)",
)


def auth_failed(reason: str, api: str) -> None:
    AUTH_FAILURES.add(1, {"reason": reason, "api": api})


def rejected(code: str, status: int, api: str) -> None:
    REJECTIONS.add(1, {"code": code, "status": status, "api": api})


class RequestMetrics:
    """ASGI middleware: counts and times every HTTP request under its route template
    (``/v1/jobs/{job_id}``), never the raw path, so ids do not become label values."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route: Any = scope.get("route")
            attrs = {
                "method": scope["method"],
                "route": getattr(route, "path", "unmatched"),
            }
            REQUESTS.add(1, {**attrs, "status": status})
            REQUEST_DURATION.record(time.perf_counter() - start, attrs)
