"""Security headers on every response, and bounds on request headers.

Every answer says nosniff, no framing and no referrer; API answers forbid any content
policy at all, the interactive API docs may load Swagger UI from its CDN; HSTS is sent
over TLS (the request's scheme, or ``hsts`` when TLS ends at an ingress). Requests with
more than MAX_HEADERS headers or MAX_HEADER_BYTES of them are refused with 431."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from transmute_gateway.limits import send_error

MAX_HEADERS = 100
MAX_HEADER_BYTES = 32 * 1024
API_POLICY = b"default-src 'none'; frame-ancestors 'none'"
DOCS_POLICY = (
    b"default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    b"style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    b"img-src 'self' data: https://fastapi.tiangolo.com; frame-ancestors 'none'"
)
DOCS = ("/docs", "/redoc")
COMMON = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]
HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")


class SecurityHeaders:
    def __init__(self, app: ASGIApp, hsts: bool = False):
        self.app, self.hsts = app, hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = scope["headers"]
        if (
            len(headers) > MAX_HEADERS
            or sum(len(k) + len(v) for k, v in headers) > MAX_HEADER_BYTES
        ):
            message = f"at most {MAX_HEADERS} headers of {MAX_HEADER_BYTES} bytes in all"
            await send_error(send, 431, "headers_too_large", message)
            return
        policy = DOCS_POLICY if scope["path"].startswith(DOCS) else API_POLICY
        extra = [*COMMON, (b"content-security-policy", policy)]
        if self.hsts or scope.get("scheme") == "https":
            extra.append(HSTS)

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, sending)
