"""A local server that speaks a hosted image-to-3D API's queue protocol (fal.ai
style), for tests: submit, status, response, and the model file; every step
scriptable to fail, and every request recorded."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.local_http import serving

# One answer: (status, JSON body).
Answer = tuple[int, Any]


@dataclass
class ModelApiServer:
    base: str = ""  # http://127.0.0.1:<port>
    model: bytes = b""  # served at /files/model.glb
    submits: list[Answer] = field(default_factory=list)  # then 200 with the URLs
    statuses: list[dict[str, Any]] = field(
        default_factory=lambda: [{"status": "COMPLETED"}]
    )  # the last one repeats
    response: dict[str, Any] | None = None  # default: model_mesh at /files/model.glb
    requests: list[tuple[str, str, dict[str, str], bytes]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"{self.base}/tripo/image-to-3d"

    def of(self, method: str, prefix: str) -> list[tuple[str, str, dict[str, str], bytes]]:
        return [r for r in self.requests if r[0] == method and r[1].startswith(prefix)]


@contextmanager
def model_api_server() -> Iterator[ModelApiServer]:
    state = ModelApiServer()

    class Handler(BaseHTTPRequestHandler):
        def _record(self) -> bytes:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            state.requests.append((self.command, self.path, dict(self.headers), body))
            return body

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except OSError:
                pass

        def _json(self, status: int, value: Any) -> None:
            self._send(status, json.dumps(value).encode(), "application/json")

        def do_POST(self) -> None:
            self._record()
            if state.submits:
                self._json(*state.submits.pop(0))
                return
            requests = f"{state.base}/tripo/image-to-3d/requests/r1"
            self._json(200, {"request_id": "r1", "status_url": f"{requests}/status",
                             "response_url": requests})  # fmt: skip

        def do_GET(self) -> None:
            self._record()
            if self.path.endswith("/status"):
                status = state.statuses.pop(0) if len(state.statuses) > 1 else state.statuses[0]
                self._json(200, status)
            elif self.path.startswith("/tripo/image-to-3d/requests/"):
                default = {"model_mesh": {"url": f"{state.base}/files/model.glb"}}
                self._json(200, state.response or default)
            elif self.path == "/files/model.glb":
                self._send(200, state.model, "model/gltf-binary")
            else:
                self._json(404, {"detail": "not found"})

        def log_message(self, *args: object) -> None:
            pass

    with serving(Handler) as base:
        state.base = base
        yield state
