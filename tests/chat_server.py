"""A local server that speaks the OpenAI chat-completions protocol, for tests: it
answers from a script (failures, delays, then answers) and records every request."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.local_http import serving

# What the server does with one request: (status, headers, body, delay seconds).
Step = tuple[int, dict[str, str], Any, float]


def reply(content: str) -> Step:
    body = {"id": "c1", "object": "chat.completion",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                         "finish_reason": "stop"}]}  # fmt: skip
    return (200, {}, body, 0.0)


@dataclass
class ChatServer:
    url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    script: list[Step] = field(default_factory=list)
    # Without a script step: the answer is made from the request.
    default: Callable[[dict[str, Any]], Step] = lambda body: reply(
        "ANSWER " + body["messages"][-1]["content"][:40]
    )


@contextmanager
def chat_server() -> Iterator[ChatServer]:
    state = ChatServer()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            state.requests.append(body)
            state.headers.append(dict(self.headers))
            if self.path != "/v1/chat/completions":
                status, headers, answer, delay = 404, {}, {"error": "no such path"}, 0.0
            elif state.script:
                status, headers, answer, delay = state.script.pop(0)
            else:
                status, headers, answer, delay = state.default(body)
            time.sleep(delay)
            data = json.dumps(answer).encode()
            try:
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except OSError:
                pass  # the client gave up (a timeout test)

        def log_message(self, *args: object) -> None:
            pass

    with serving(Handler) as base:
        state.url = f"{base}/v1"
        yield state
