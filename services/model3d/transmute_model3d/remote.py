"""image_to_3d by a hosted API, in the queue style of fal.ai's image-to-3D models (the
reference design used Tripo3D there):

1. ``POST {url}`` with ``{"image_url": <data URI>, "face_limit": n}`` answers
   ``{"request_id", "status_url", "response_url"}``;
2. ``GET status_url`` answers ``{"status": "IN_QUEUE" | "IN_PROGRESS" | "COMPLETED",
   "queue_position"?, "progress"?}``, polled with a growing pause up to a deadline;
3. ``GET response_url`` answers ``{"model_mesh": {"url": ...}}`` (or ``model_glb``);
4. the model is fetched from that URL, only from a host allowed by settings, no larger
   than a limit, and only if its bytes are a model.

Runs in a worker (blocking). The key goes in ``Authorization: Key <key>``."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from transmute_common.errors import TransmuteError
from transmute_common.http_retry import RetryPolicy, request
from transmute_common.model_sniff import sniff_model

FAILED = {"FAILED", "ERROR", "CANCELLED"}
Report = Callable[[float, str], None]


@dataclass(frozen=True)
class RemoteSettings:
    url: str
    key: str
    timeout: float = 30.0  # one HTTP request
    max_wait: float = 600.0  # the whole generation
    poll: float = 1.0  # the first pause between status requests, growing to 10 s
    retries: int = 3
    backoff: float = 1.0
    max_result_bytes: int = 256 * 1024**2
    result_hosts: tuple[str, ...] = ()  # besides the API's own host


class RemoteImageTo3D:
    def __init__(self, settings: RemoteSettings) -> None:
        self.settings = settings
        headers = {"Authorization": f"Key {settings.key}"} if settings.key else {}
        self._http = httpx.Client(headers=headers, timeout=settings.timeout)
        # The result may sit on another host (a CDN): the key is never sent there.
        self._plain = httpx.Client(timeout=settings.timeout)
        self._policy = RetryPolicy(
            settings.retries, settings.backoff, "the image-to-3D API",
            "remote_failure", "remote_unavailable",
        )  # fmt: skip
        self._api_host = urlsplit(settings.url).hostname or ""
        self._hosts = {self._api_host, *settings.result_hosts}

    def generate(self, picture: Path, face_limit: int | None, report: Report) -> bytes:
        """The model the API makes of ``picture`` (a PNG), as bytes."""
        image = "data:image/png;base64," + base64.b64encode(picture.read_bytes()).decode()
        body: dict[str, Any] = {"image_url": image}
        if face_limit is not None:
            body["face_limit"] = face_limit
        submitted = self._json(request(self._http, "POST", self.settings.url, self._policy,
                                       json=body))  # fmt: skip
        request_id = str(submitted.get("request_id", ""))
        status_url = (
            submitted.get("status_url") or f"{self.settings.url}/requests/{request_id}/status"
        )
        response_url = submitted.get("response_url") or f"{self.settings.url}/requests/{request_id}"
        # The key goes with these requests: they stay on the API's own host.
        _check_host(str(status_url), {self._api_host})
        _check_host(str(response_url), {self._api_host})
        self._wait(str(status_url), report)
        answer = self._json(request(self._http, "GET", str(response_url), self._policy))
        return self._fetch(_model_url(answer))

    def close(self) -> None:
        self._http.close()
        self._plain.close()

    def _wait(self, status_url: str, report: Report) -> None:
        deadline = time.monotonic() + self.settings.max_wait
        pause = self.settings.poll
        while True:
            state = self._json(request(self._http, "GET", status_url, self._policy))
            status = str(state.get("status", "")).upper()
            if status == "COMPLETED":
                if state.get("error"):
                    raise _failure(f"the image-to-3D API failed: {state['error']}")
                report(1.0, "generated")
                return
            if status in FAILED:
                raise _failure(f"the image-to-3D API failed: {state.get('error') or status}")
            if status == "IN_QUEUE":
                report(
                    0.05,
                    f"queued at the image-to-3D API (position {state.get('queue_position', '?')})",
                )
            else:
                done = state.get("progress")
                fraction = float(done) / 100 if isinstance(done, (int, float)) else 0.5
                report(min(max(fraction, 0.05), 0.95), "generating at the image-to-3D API")
            if time.monotonic() + pause > deadline:
                raise TransmuteError(
                    f"the image-to-3D API did not finish in {self.settings.max_wait:.0f} s",
                    code="remote_timeout",
                )
            time.sleep(pause)
            pause = min(pause * 1.5, 10.0)

    def _fetch(self, url: str) -> bytes:
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http") or parts.hostname not in self._hosts:
            raise _failure(
                f"the image-to-3D API's result is at a host not allowed: {parts.hostname}"
            )
        data = bytearray()
        with self._plain.stream("GET", url) as resp:
            if not resp.is_success:
                raise _failure(
                    f"the image-to-3D API's result could not be fetched ({resp.status_code})"
                )
            for chunk in resp.iter_bytes():
                data += chunk
                limit = self.settings.max_result_bytes
                if len(data) > limit:
                    raise _failure(f"the image-to-3D API's result is over {limit} bytes")
        if sniff_model(bytes(data[:8192])) is None:
            raise _failure("the image-to-3D API's result is not a 3D model")
        return bytes(data)

    @staticmethod
    def _json(resp: httpx.Response) -> dict[str, Any]:
        try:
            value = resp.json()
        except ValueError:
            value = None
        if not isinstance(value, dict):
            raise _failure("the image-to-3D API answered something that is not a JSON object")
        return value


def _model_url(answer: dict[str, Any]) -> str:
    for key in ("model_mesh", "model_glb", "model"):
        value = answer.get(key)
        if isinstance(value, dict) and isinstance(value.get("url"), str):
            return str(value["url"])
        if isinstance(value, str):
            return value
    raise _failure("the image-to-3D API's answer names no model")


def _check_host(url: str, allowed: set[str]) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or parts.hostname not in allowed:
        raise _failure(f"the image-to-3D API pointed at a host not allowed: {parts.hostname}")


def _failure(message: str) -> TransmuteError:
    return TransmuteError(message, code="remote_failure")
