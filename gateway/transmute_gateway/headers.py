"""Security headers on every response, and bounds on request headers.

Every answer says nosniff, no framing and no referrer; API answers forbid any content
policy at all, the interactive API docs may load Swagger UI from its CDN, the web app
loads only its own files (and downloads from the object store's public URL); HSTS is sent
over TLS (the request's scheme, or ``hsts`` when TLS ends at an ingress). Requests with
more than MAX_HEADERS headers or MAX_HEADER_BYTES of them are refused with 431."""

from __future__ import annotations

from urllib.parse import urlsplit

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
# The web app: its scripts are its own files; previews read local blobs; pdf.js runs a
# worker (and WebAssembly image decoders); styles may be set by the viewers' elements.
WEB_POLICY = (
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' blob: data:; media-src 'self' blob:; "
    "connect-src 'self' blob: data:{store}; worker-src 'self' blob:; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
COMMON = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]
HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")


class SecurityHeaders:
    def __init__(self, app: ASGIApp, hsts: bool = False, store_url: str | None = None):
        self.app, self.hsts = app, hsts
        # Outputs may be fetched from the object store's public address (presigned).
        store = urlsplit(store_url) if store_url else None
        origin = f" {store.scheme}://{store.netloc}" if store and store.netloc else ""
        self.web_policy = WEB_POLICY.format(store=origin).encode()

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
        path = scope["path"]
        if path == "/" or path.startswith("/assets/"):
            policy = self.web_policy
        else:
            policy = DOCS_POLICY if path.startswith(DOCS) else API_POLICY
        extra = [*COMMON, (b"content-security-policy", policy)]
        if self.hsts or scope.get("scheme") == "https":
            extra.append(HSTS)

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, sending)
