"""Bounds on what a client may send besides files: the size of a JSON body (enforced
while it arrives) and the shape of JSON options (depth and item count)."""

from __future__ import annotations

import json
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from transmute_common.errors import InvalidArgument
from transmute_gateway.views import error_body

MAX_OPTIONS_DEPTH = 8
MAX_OPTIONS_ITEMS = 1000


def check_options_shape(value: Any) -> None:
    """Options nest at most MAX_OPTIONS_DEPTH deep and hold at most MAX_OPTIONS_ITEMS
    values in all; walked without recursion, so no input can exhaust the stack."""
    pending: list[tuple[Any, int]] = [(value, 1)]
    items = 0
    while pending:
        node, depth = pending.pop()
        if depth > MAX_OPTIONS_DEPTH:
            raise InvalidArgument(
                f"options nest deeper than {MAX_OPTIONS_DEPTH} levels", code="invalid_options"
            )
        children = node.values() if isinstance(node, dict) else node
        if not isinstance(node, dict | list):
            continue
        for child in children:
            items += 1
            if items > MAX_OPTIONS_ITEMS:
                raise InvalidArgument(
                    f"options hold more than {MAX_OPTIONS_ITEMS} values", code="invalid_options"
                )
            pending.append((child, depth + 1))


class BodyLimit:
    """Refuses a request body over ``limit`` bytes with 413 as soon as it is seen, from
    Content-Length or while it streams; upload paths, which stream into the store with
    limits of their own, are left alone."""

    def __init__(self, app: ASGIApp, limit: int, exempt: tuple[str, ...]):
        self.app = app
        self.limit = limit
        self.exempt = exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self.exempt):
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > self.limit:
                await self._refuse(send)
                return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.limit:
                raise HTTPException(413, f"the request body is larger than {self.limit} bytes")
            return message

        await self.app(scope, limited_receive, send)

    async def _refuse(self, send: Send) -> None:
        message = f"the request body is larger than {self.limit} bytes"
        await send_error(send, 413, "body_too_large", message)


async def send_error(send: Send, status: int, code: str, message: str) -> None:
    """An error answered before the app runs, in the body every error has; the
    connection is closed, as the rest of the request is not read."""
    body = json.dumps(error_body(code, message)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
