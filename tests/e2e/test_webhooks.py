"""Webhooks against the mesh: a job's final state POSTed to its webhook_url, signed by
the Standard Webhooks convention with the tenant's secret, retried with backoff while
the receiver fails (each attempt recorded on the job), delivered after a restart of the
jobs service, never sent to private targets unless allowed, and the tenant default."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook

from scripts.mesh import Mesh
from tests import images
from tests.e2e.conftest import convert, final_state, wait_for
from tests.e2e.test_clients import transmute
from tests.local_http import serving
from transmute_client import Client

pytestmark = pytest.mark.e2e


class Receiver:
    """What a webhook receiver got; answers with ``codes`` in turn, then 200."""

    def __init__(self, codes: list[int] | None = None):
        self.codes = list(codes or [])
        self.calls: list[tuple[dict[str, str], bytes, float]] = []
        self.lock = threading.Lock()

    def handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                with receiver.lock:
                    receiver.calls.append((dict(self.headers), body, time.monotonic()))
                    code = receiver.codes.pop(0) if receiver.codes else 200
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        return Handler


def secret_of(api: httpx.Client) -> str:
    resp = api.get("/v1/webhooks/secret")
    assert resp.status_code == 200, resp.text
    secret: str = resp.json()["secret"]
    assert secret.startswith("whsec_")
    return secret


def expected_signature(secret: str, headers: dict[str, str], body: bytes) -> str:
    """Standard Webhooks, computed here by hand: HMAC-SHA256 over id.timestamp.body with
    the base64 key after whsec_."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def attempts_of(api: httpx.Client, job_id: str) -> list[dict[str, Any]]:
    attempts: list[dict[str, Any]] = (
        api.get(f"/v1/jobs/{job_id}").json().get("webhook") or {}
    ).get("attempts", [])
    return attempts


def delivered(api: httpx.Client, job_id: str) -> dict[str, Any]:
    """The job once its webhook is delivered."""

    def check() -> dict[str, Any] | None:
        job: dict[str, Any] = api.get(f"/v1/jobs/{job_id}").json()
        return job if (job.get("webhook") or {}).get("state") == "delivered" else None

    result: dict[str, Any] = wait_for(check, timeout=60)
    return result


def webhook_job(api: httpx.Client, url: str, data: bytes | None = None, target: str = "webp"):  # type: ignore[no-untyped-def]
    resp = api.post(
        "/v1/convert",
        files={"file": ("p.png", data or images.png(32, 24))},
        data={"target": target, "cache": "false", "webhook_url": url},
    )
    assert resp.status_code == 202, resp.text
    return resp.json()


def test_the_final_state_is_posted_signed_and_retried_until_delivered(
    api: httpx.Client,
) -> None:
    receiver = Receiver([500, 503])  # two failures, then accepted
    secret = secret_of(api)
    with serving(receiver.handler()) as base:
        job = webhook_job(api, f"{base}/hooks/transmute?token=abc")
        assert job["webhook_url"].endswith("/hooks/transmute?token=abc")
        done = final_state(api, job["id"])
        assert done["status"] == "succeeded"
        wait_for(lambda: len(receiver.calls) >= 3, timeout=30)
        stored = delivered(api, job["id"])
    attempts = stored["webhook"]["attempts"]
    assert [a["status_code"] for a in attempts] == [500, 503, 200]
    assert attempts[0]["error"] == "HTTP 500" and attempts[2]["error"] == ""
    assert stored["webhook"]["delivered_at"]
    # Exponential backoff (0.3 s doubling in the tests): no retry came sooner.
    times = [t for _, _, t in receiver.calls]
    assert times[1] - times[0] >= 0.3 * 0.9 and times[2] - times[1] >= 0.6 * 0.9
    for headers, body, _ in receiver.calls:
        lower = {k.lower(): v for k, v in headers.items()}
        assert lower["webhook-id"] == f"msg_{job['id']}"  # the same on every attempt
        assert abs(int(lower["webhook-timestamp"]) - time.time()) < 120
        assert lower["webhook-signature"] == expected_signature(secret, lower, body)
        Webhook(secret).verify(body, lower)  # and as the reference library checks it
    event = json.loads(receiver.calls[-1][1])
    assert event["type"] == "job.succeeded"
    assert event["data"]["id"] == job["id"] and event["data"]["outputs"][0]["url"]


def test_a_failed_job_is_posted_too_and_the_sdk_names_a_webhook(
    api: httpx.Client, mesh: Mesh, tmp_path: Path
) -> None:
    receiver = Receiver()
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(images.truncated_jpeg())
    with serving(receiver.handler()) as base, Client(mesh.url) as sdk:
        job = sdk.convert(broken, "png", cache=False, webhook_url=f"{base}/h")
        assert sdk.wait(job.id).status == "failed"
        wait_for(lambda: receiver.calls, timeout=30)
        # And the command: one job per file, each with the webhook.
        out = transmute(
            mesh, "--json", "convert", "broken.jpg", "--to", "png", "--no-cache",
            "--webhook-url", f"{base}/cli", "-o", "out", cwd=tmp_path,
        )  # fmt: skip
        assert out.returncode == 1, out.stderr  # the job failed, as it should
        wait_for(lambda: len(receiver.calls) >= 2, timeout=30)
    event = json.loads(receiver.calls[0][1])
    assert event["type"] == "job.failed" and event["data"]["error"]["code"]
    assert event["data"]["webhook_url"] == f"{base}/h"
    assert json.loads(receiver.calls[1][1])["data"]["webhook_url"] == f"{base}/cli"


def test_private_targets_are_refused(api: httpx.Client) -> None:
    """The mesh allows 127.0.0.0/8 (for the receivers above) and nothing else."""
    for url in (
        "http://10.1.2.3/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]:9/hook",
        "http://192.168.0.10/hook",
        "http://[fd00::1]/hook",
    ):
        resp = api.post(
            "/v1/convert",
            files={"file": ("p.png", images.png())},
            data={"target": "webp", "webhook_url": url},
        )
        assert resp.status_code == 400, (url, resp.text)
        assert resp.json()["error"]["code"] == "webhook_url_not_allowed", url
    for url in ("ftp://example.com/x", "http://user:pw@127.0.0.1/x", "not a url"):
        resp = api.post(
            "/v1/convert",
            files={"file": ("p.png", images.png())},
            data={"target": "webp", "webhook_url": url},
        )
        assert resp.status_code == 400, (url, resp.text)
        assert resp.json()["error"]["code"] == "invalid_webhook_url"


def test_deliveries_survive_a_restart_of_the_jobs_service(api: httpx.Client, mesh: Mesh) -> None:
    receiver = Receiver([503] * 1000)  # down until told otherwise
    with serving(receiver.handler()) as base:
        job = webhook_job(api, f"{base}/h")
        assert final_state(api, job["id"])["status"] == "succeeded"
        # Two failed attempts recorded on the job, then the deliverer is killed.
        wait_for(lambda: len(attempts_of(api, job["id"])) >= 2, timeout=30)
        mesh.kill("jobs", signal.SIGKILL)
        before = len(receiver.calls)
        with receiver.lock:
            receiver.codes.clear()  # the receiver comes back while the service is down
        mesh.start_service("jobs")
        wait_for(lambda: len(receiver.calls) > before, timeout=60)
        stored = delivered(api, job["id"])
    codes = [a["status_code"] for a in stored["webhook"]["attempts"]]
    assert codes[-1] == 200 and codes.count(503) >= 2


def test_the_tenants_default_webhook(api: httpx.Client, mesh: Mesh) -> None:
    receiver = Receiver()
    admin = Path(sys.executable).parent / "transmute-admin"
    env = {**os.environ, "TRANSMUTE_JOBS_ADDRESS": f"127.0.0.1:{mesh.jobs_port}"}
    with serving(receiver.handler()) as base:
        subprocess.run(
            [str(admin), "tenants", "set", "default", f'webhook_url="{base}/default"'],
            env=env,
            check=True,
            capture_output=True,
            timeout=60,
        )
        try:
            # Each gateway replica reads tenant settings anew after a few seconds.
            job = wait_for(
                lambda: (j := convert(api, images.png(20, 20), "webp").json())["webhook_url"] and j,
                timeout=30,
                interval=0.5,
            )
            assert job["webhook_url"] == f"{base}/default"
            wait_for(lambda: receiver.calls, timeout=30)
        finally:
            subprocess.run(
                [str(admin), "tenants", "set", "default", "webhook_url="],
                env=env,
                check=True,
                capture_output=True,
                timeout=60,
            )
    assert json.loads(receiver.calls[-1][1])["data"]["id"] == job["id"]
