"""Identity and tenancy through the real mesh, with authentication on: two gateway
replicas, the jobs service holding keys, counters and tenant settings in each store
(SQLite and directory, then FerretDB and MinIO), an OIDC issuer served here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from playwright.sync_api import expect

from scripts.mesh import Mesh, free_port
from tests import images
from tests.browser import Shots, card, chromium, drop_files, open_app
from tests.e2e.conftest import final_state
from tests.identity_provider import IdentityProvider, identity_provider
from transmute.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from transmute_client import AuthenticationError, Client

pytestmark = pytest.mark.e2e
BOOTSTRAP = "tm_" + "b" * 16 + "_" + "S" * 43  # the bootstrap admin of tenant "default"


@dataclass
class Secured:
    mesh: Mesh
    replica: str  # the second gateway's URL
    provider: IdentityProvider
    tag: str  # makes tenant names unique per store pass

    def tenant(self, name: str) -> str:
        return f"{name}-{self.tag}"

    def admin(self, *args: str) -> Any:
        """transmute-admin against this mesh's jobs service."""
        env = {**os.environ, "TRANSMUTE_JOBS_ADDRESS": f"127.0.0.1:{self.mesh.jobs_port}"}
        out = subprocess.run(
            [str(Path(sys.executable).parent / "transmute-admin"), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)

    def key(self, tenant: str, role: str) -> str:
        token: str = self.admin("keys", "create", "--tenant", tenant, "--role", role)["token"]
        return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module", params=["embedded", "servers"])
def secured(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Secured]:
    root = tmp_path_factory.mktemp(f"auth-{request.param}")
    tag = uuid.uuid4().hex[:6]
    with identity_provider() as provider:
        env = {
            "TRANSMUTE_AUTH_ENABLED": "true",
            "TRANSMUTE_BOOTSTRAP_ADMIN_KEY": BOOTSTRAP,
            "TRANSMUTE_SIGNING_KEY": "a shared signing key of the replicas",
            "TRANSMUTE_GUEST_ENABLED": "true",
            "TRANSMUTE_OIDC_ISSUER": provider.url,
            "TRANSMUTE_OIDC_AUDIENCE": "transmute",
            "TRANSMUTE_CORS_ORIGINS": '["https://app.example.com"]',
        }
        if request.param == "servers":
            env.update(request.getfixturevalue("minio_env"))
            base = request.getfixturevalue("mongo_url").rsplit("/", 1)[0]
            env["TRANSMUTE_OBJECT_STORE_URL"] += "-auth"
            env["TRANSMUTE_JOB_STORE_URL"] = f"{base}/transmute_auth_{tag}"
        mesh = Mesh.on_free_ports(
            root / "state", log_dir=root / "logs", extra_env=env, converters=["image"]
        )
        mesh.start()
        try:
            replica = mesh.start_gateway_replica("gateway-2", free_port(), free_port())
            yield Secured(mesh, replica, provider, tag)
        finally:
            mesh.stop()


@pytest.fixture
def api(secured: Secured) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=secured.mesh.url, timeout=60) as client:
        yield client


def submit(api: httpx.Client, token: str, data: bytes | None = None) -> dict[str, Any]:
    resp = api.post(
        "/v1/convert",
        files={"file": ("p.png", data or images.png()), "target": (None, "webp")},
        headers=bearer(token),
    )
    assert resp.status_code == 202, resp.text
    job: dict[str, Any] = resp.json()
    return job


def test_without_credentials_only_health_and_formats_answer(
    secured: Secured, api: httpx.Client
) -> None:
    for method, path in [
        ("POST", "/v1/files"),
        ("POST", "/v1/convert"),
        ("POST", "/v1/jobs"),
        ("GET", "/v1/jobs"),
        ("GET", f"/v1/jobs/{'0' * 32}"),
        ("GET", f"/v1/jobs/{'0' * 32}/events"),
        ("GET", f"/v1/jobs/{'0' * 32}/outputs/x.webp"),
        ("DELETE", f"/v1/jobs/{'0' * 32}"),
        ("GET", "/v1/keys"),
        ("GET", "/v1/usage"),
    ]:
        resp = api.request(method, path)
        assert resp.status_code == 401, (method, path, resp.text)
        assert resp.json()["error"]["code"] == "missing_credentials"
        assert resp.headers["www-authenticate"].startswith("Bearer")
    assert api.get("/healthz").status_code == 200
    assert api.get("/v1/formats").status_code == 200
    with grpc.insecure_channel(f"127.0.0.1:{secured.mesh.grpc_port}") as channel:
        stub = gateway_pb2_grpc.GatewayServiceStub(channel)
        with pytest.raises(grpc.RpcError) as caught:
            stub.GetJob(gateway_pb2.GetJobRequest(id="0" * 32))
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_keys_are_made_listed_and_never_show_their_secret_again(
    secured: Secured, api: httpx.Client
) -> None:
    made = api.post("/v1/keys", json={"role": "viewer", "name": "dash"}, headers=bearer(BOOTSTRAP))
    assert made.status_code == 201, made.text
    key = made.json()
    assert key["tenant"] == "default" and key["role"] == "viewer"
    assert key["token"].startswith(f"tm_{key['id']}_")
    listed = api.get("/v1/keys", headers=bearer(BOOTSTRAP)).json()["keys"]
    assert key["id"] in {k["id"] for k in listed}
    secret = key["token"].rsplit("_", 1)[1]
    assert secret not in json.dumps(listed) and "secret_hash" not in json.dumps(listed)
    # The viewer reads but may not submit, cancel or manage keys.
    viewer = bearer(key["token"])
    assert api.get("/v1/jobs", headers=viewer).status_code == 200
    assert api.post("/v1/keys", json={}, headers=viewer).status_code == 403
    refused = api.post(
        "/v1/convert",
        files={"file": ("p.png", images.png()), "target": (None, "webp")},
        headers=viewer,
    )
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    bad_role = api.post("/v1/keys", json={"role": "root"}, headers=bearer(BOOTSTRAP))
    assert bad_role.status_code == 400 and bad_role.json()["error"]["code"] == "invalid_role"


def test_another_tenants_jobs_files_and_outputs_are_not_found(
    secured: Secured, api: httpx.Client
) -> None:
    """The isolation matrix: tenant A's job through every REST route, the SSE stream,
    every gRPC method and the download link, asked for by tenant B."""
    alice = secured.key(secured.tenant("alpha"), "user")
    bob = secured.key(secured.tenant("beta"), "admin")
    job = submit(api, alice)
    done = final_state_as(api, job["id"], alice)
    assert done["status"] == "succeeded"
    name = done["outputs"][0]["name"]
    file_id = job["inputs"][0]["file_id"]
    as_bob = bearer(bob)
    for method, path in [
        ("GET", f"/v1/jobs/{job['id']}"),
        ("HEAD", f"/v1/jobs/{job['id']}"),
        ("GET", f"/v1/jobs/{job['id']}/events"),
        ("GET", f"/v1/jobs/{job['id']}/outputs/{name}"),
        ("HEAD", f"/v1/jobs/{job['id']}/outputs/{name}"),
        ("DELETE", f"/v1/jobs/{job['id']}"),
    ]:
        resp = api.request(method, path, headers=as_bob)
        assert resp.status_code == 404, (method, path, resp.status_code)
    reuse = api.post("/v1/jobs", json={"inputs": [file_id], "target": "png"}, headers=as_bob)
    assert reuse.status_code == 404 and reuse.json()["error"]["code"] == "file_not_found"
    assert job["id"] not in api.get("/v1/jobs", headers=as_bob).text
    # The owner's download answers with a link a browser can follow without a key; the
    # same link for another tenant, or tampered with, names nothing.
    link = api.get(f"/v1/jobs/{job['id']}/outputs/{name}", headers=bearer(alice))
    assert link.status_code == 307
    location = link.headers["location"]
    fetched = httpx.get(httpx.URL(secured.mesh.url).join(location), timeout=30)
    assert fetched.status_code == 200 and images.dimensions(fetched.content)[:2] == (64, 48)
    if location.startswith("/v1/links/"):
        beta = location.replace(secured.tenant("alpha"), secured.tenant("beta"), 1)
        assert api.get(beta).status_code == 404
        assert api.get(location[:-4] + "0000").status_code == 404
    with grpc.insecure_channel(f"127.0.0.1:{secured.mesh.grpc_port}") as channel:
        stub = gateway_pb2_grpc.GatewayServiceStub(channel)
        meta = (("authorization", f"Bearer {bob}"),)
        calls = [
            lambda: stub.GetJob(gateway_pb2.GetJobRequest(id=job["id"]), metadata=meta),
            lambda: list(stub.WatchJob(gateway_pb2.WatchJobRequest(id=job["id"]), metadata=meta)),
            lambda: stub.CancelJob(gateway_pb2.CancelJobRequest(id=job["id"]), metadata=meta),
            lambda: list(
                stub.Download(
                    gateway_pb2.DownloadRequest(job_id=job["id"], name=name), metadata=meta
                )
            ),
            lambda: stub.SubmitJob(
                gateway_pb2.SubmitJobRequest(inputs=[file_id], target="png"), metadata=meta
            ),
        ]
        for call in calls:
            with pytest.raises(grpc.RpcError) as caught:
                call()
            assert caught.value.code() == grpc.StatusCode.NOT_FOUND
        own = stub.GetJob(
            gateway_pb2.GetJobRequest(id=job["id"]),
            metadata=(("authorization", f"Bearer {alice}"),),
        )
        assert own.status == gateway_pb2.JOB_STATUS_SUCCEEDED


def final_state_as(api: httpx.Client, job_id: str, token: str) -> dict[str, Any]:
    with httpx.Client(base_url=str(api.base_url), headers=bearer(token), timeout=60) as own:
        return final_state(own, job_id)


def test_bad_keys_are_refused(secured: Secured, api: httpx.Client) -> None:
    good = secured.key(secured.tenant("gamma"), "user")
    key_id = good.split("_")[1]
    for token, code in [
        ("tm_short", "invalid_key"),
        (f"tm_{'f' * 16}_{'x' * 43}", "invalid_key"),  # no such key
        (f"tm_{key_id}_{'x' * 43}", "invalid_key"),  # its id, another secret
        (good + "x", "invalid_key"),
    ]:
        resp = api.get("/v1/jobs", headers=bearer(token))
        assert resp.status_code == 401 and resp.json()["error"]["code"] == code, token
        assert "x" * 43 not in resp.text
    assert api.get("/v1/jobs", headers=bearer(good)).status_code == 200


def test_oidc_tokens_and_guests(secured: Secured, api: httpx.Client) -> None:
    provider = secured.provider
    tenant = secured.tenant("oidc")
    for kid in ("rsa-1", "ec-1"):
        token = provider.token(kid, tenant=tenant, role="user")
        assert api.get("/v1/jobs", headers=bearer(token)).status_code == 200
    expired = provider.token(tenant=tenant, lifetime=-120)
    resp = api.get("/v1/jobs", headers=bearer(expired))
    assert resp.status_code == 401 and resp.json()["error"]["code"] == "token_expired"
    wrong = provider.token(tenant=tenant, audience="someone-else")
    assert api.get("/v1/jobs", headers=bearer(wrong)).status_code == 401
    assert api.get("/v1/jobs", headers=bearer(provider.stranger())).status_code == 401
    # A guest gets a tenant of its own: its job is another guest's 404.
    first = api.post("/v1/guest").json()
    second = api.post("/v1/guest").json()
    assert first["role"] == "guest" and first["tenant"] != second["tenant"]
    job = submit(api, first["token"])
    assert api.get(f"/v1/jobs/{job['id']}", headers=bearer(first["token"])).status_code == 200
    assert api.get(f"/v1/jobs/{job['id']}", headers=bearer(second["token"])).status_code == 404


def test_a_revoked_key_is_refused_by_every_replica_within_a_second(
    secured: Secured, api: httpx.Client
) -> None:
    tenant = secured.tenant("delta")
    admin = secured.key(tenant, "admin")
    doomed = secured.key(tenant, "user")
    urls = [secured.mesh.url, secured.replica]
    for url in urls:  # both replicas have it verified and cached
        assert httpx.get(f"{url}/v1/jobs", headers=bearer(doomed)).status_code == 200
    key_id = doomed.split("_")[1]
    revoked = httpx.delete(f"{secured.replica}/v1/keys/{key_id}", headers=bearer(admin))
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    start = time.monotonic()
    refused_after = {}
    while len(refused_after) < len(urls) and time.monotonic() - start < 5:
        for url in urls:
            if url not in refused_after:
                status = httpx.get(f"{url}/v1/jobs", headers=bearer(doomed)).status_code
                if status == 401:
                    refused_after[url] = time.monotonic() - start
        time.sleep(0.02)
    assert set(refused_after) == set(urls)
    assert max(refused_after.values()) < 1.25, refused_after
    listed = secured.admin("keys", "list", "--tenant", tenant)
    assert next(k for k in listed if k["id"] == key_id)["revoked_at"]


def test_quotas_hold_across_replicas(secured: Secured, api: httpx.Client) -> None:
    tenant = secured.tenant("quota")
    secured.admin("tenants", "set", tenant, "submissions_per_minute=3")
    admin = secured.key(tenant, "admin")
    uploaded = api.post(
        "/v1/files", params={"filename": "p.png"}, content=images.png(), headers=bearer(admin)
    ).json()
    if datetime.now(UTC).second > 50:  # all submissions within one counting minute
        time.sleep(61 - datetime.now(UTC).second)
    answers = []
    for i in range(6):
        url = [secured.mesh.url, secured.replica][i % 2]
        resp = httpx.post(
            f"{url}/v1/jobs",
            json={"inputs": [uploaded["id"]], "target": "webp"},
            headers=bearer(admin),
        )
        answers.append(resp)
    assert [r.status_code for r in answers] == [202, 202, 202, 429, 429, 429]
    refused = answers[3]
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    error = refused.json()["error"]
    assert error["code"] == "quota_exceeded"
    assert error["details"]["limit"] == 3 and error["details"]["used"] == 3
    usage = api.get("/v1/usage", headers=bearer(admin)).json()
    assert usage["limits"]["submissions_per_minute"] == 3
    assert usage["usage"]["submissions_this_minute"] == 3


def test_allowed_targets_and_file_size_per_tenant(secured: Secured, api: httpx.Client) -> None:
    tenant = secured.tenant("narrow")
    overrides = ['allowed_targets=["png"]', "max_file_bytes=20000", "result_retention_seconds=600"]
    secured.admin("tenants", "set", tenant, *overrides)
    user = secured.key(tenant, "user")
    resp = api.post(
        "/v1/convert",
        files={"file": ("p.png", images.png()), "target": (None, "webp")},
        headers=bearer(user),
    )
    assert resp.status_code == 403
    assert resp.json()["error"]["code"] == "conversion_not_allowed"
    assert resp.json()["error"]["details"] == {"target": "webp"}
    kept = api.post(
        "/v1/convert",
        files={"file": ("p.png", images.png()), "target": (None, "png")},
        headers=bearer(user),
    ).json()
    created, expires = (
        datetime.fromisoformat(kept[k].replace("Z", "+00:00")) for k in ("created_at", "expires_at")
    )
    assert (expires - created).total_seconds() == pytest.approx(600, abs=1)
    photo = images.jpeg(1600, 1200)
    assert len(photo) > 20000
    big = api.post(
        "/v1/files",
        params={"filename": "big.jpg"},
        content=photo,
        headers=bearer(user),
    )
    assert big.status_code == 413 and big.json()["error"]["details"]["limit"] == 20000
    bad = subprocess.run(
        [str(Path(sys.executable).parent / "transmute-admin"), "tenants", "set", tenant, "nope=1"],
        env={**os.environ, "TRANSMUTE_JOBS_ADDRESS": f"127.0.0.1:{secured.mesh.jobs_port}"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 1 and "invalid_quota" in bad.stderr


def test_daily_upload_bytes_are_counted_across_replicas(
    secured: Secured, api: httpx.Client
) -> None:
    tenant = secured.tenant("bytes")
    picture = images.png()
    secured.admin("tenants", "set", tenant, f"upload_bytes_per_day={2 * len(picture) + 10}")
    user = secured.key(tenant, "user")
    statuses = [
        httpx.post(
            f"{url}/v1/files", params={"filename": "p.png"}, content=picture, headers=bearer(user)
        ).status_code
        for url in (secured.mesh.url, secured.replica, secured.mesh.url)
    ]
    assert statuses == [201, 201, 429]
    usage = api.get("/v1/usage", headers=bearer(secured.key(tenant, "admin"))).json()
    assert usage["usage"]["upload_bytes_today"] == 2 * len(picture)


def test_cors_answers_only_listed_origins(api: httpx.Client) -> None:
    preflight = {"Access-Control-Request-Method": "POST"}
    allowed = api.options("/v1/convert", headers={"Origin": "https://app.example.com", **preflight})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://app.example.com"
    other = api.options("/v1/convert", headers={"Origin": "https://evil.example", **preflight})
    assert "access-control-allow-origin" not in other.headers


def test_security_headers(api: httpx.Client) -> None:
    resp = api.get("/v1/formats")
    assert resp.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in resp.headers["content-security-policy"]
    docs = api.get("/docs")
    assert "cdn.jsdelivr.net" in docs.headers["content-security-policy"]
    flood = {f"x-h{i}": "v" for i in range(120)}
    assert api.get("/v1/formats", headers=flood).status_code == 431


def test_concurrent_jobs_are_limited_per_tenant(secured: Secured, api: httpx.Client) -> None:
    """The image converter is stopped meanwhile, so that jobs stay queued."""
    tenant = secured.tenant("busy")
    secured.admin("tenants", "set", tenant, "concurrent_jobs=1")
    user = secured.key(tenant, "user")
    secured.mesh.kill("image")
    try:
        first = api.post(
            "/v1/convert",
            files={"file": ("p.png", images.png()), "target": (None, "webp")},
            headers=bearer(user),
        )
        assert first.status_code == 202, first.text
        second = api.post(
            "/v1/convert",
            files={"file": ("p.png", images.png()), "target": (None, "webp")},
            headers=bearer(user),
        )
        assert second.status_code == 429
        assert second.json()["error"]["details"]["quota"] == "concurrent jobs"
        assert api.delete(f"/v1/jobs/{first.json()['id']}", headers=bearer(user)).status_code == 200
        third = api.post(
            "/v1/convert",
            files={"file": ("p.png", images.png()), "target": (None, "webp")},
            headers=bearer(user),
        )
        assert third.status_code == 202
    finally:
        secured.mesh.start_service("image")


def test_the_cli_and_sdk_carry_the_key(secured: Secured, tmp_path: Path) -> None:
    key = secured.key(secured.tenant("cli"), "user")
    command = [str(Path(sys.executable).parent / "transmute"), "--url", secured.mesh.url]
    refused = subprocess.run(
        [*command, "jobs", "list"], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert refused.returncode == 1 and "missing_credentials" in refused.stderr
    (tmp_path / "p.png").write_bytes(images.png())
    done = subprocess.run(
        [*command, "--json", "convert", "p.png", "--to", "webp", "-o", "out"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={**os.environ, "TRANSMUTE_API_KEY": key},
    )
    assert done.returncode == 0, done.stderr
    [row] = json.loads(done.stdout)
    assert (tmp_path / row["outputs"][0]).read_bytes()[8:12] == b"WEBP"  # by the signed link
    with Client(secured.mesh.url, api_key=key) as tm:
        assert row["job_id"] in {j.id for j in tm.jobs()[0]}
    with Client(secured.mesh.url, api_key=key + "x") as tm, pytest.raises(AuthenticationError):
        tm.jobs()


def test_the_web_app_with_an_api_key(secured: Secured, tmp_path: Path) -> None:
    """The browser app on the second replica: asks for a key when refused, keeps it for
    the tab, converts and downloads through a signed link, and shows only the tenant's
    own history."""
    owner = secured.key(secured.tenant("web"), "user")
    other = secured.key(secured.tenant("web-other"), "user")
    shots = Shots(tmp_path)
    with chromium() as browser:
        context = browser.new_context(accept_downloads=True)
        page = open_app(context.new_page(), secured.replica)
        drop_files(page, "label.drop", [("first.png", "image/png", images.png(30, 20))])
        dialog = page.get_by_role("dialog", name="API key")
        expect(dialog).to_be_visible()  # the upload was refused: the app asks for a key
        expect(card(page, "first.png").get_by_role("alert")).to_contain_text("needs an API key")
        dialog.get_by_label("Key").fill(owner)
        dialog.get_by_role("button", name="Save").click()
        expect(dialog).to_be_hidden()
        assert page.evaluate("sessionStorage.getItem('transmute.api-key')") == owner

        drop_files(page, "label.drop", [("second.png", "image/png", images.png(30, 20))])
        second = card(page, "second.png")
        second.get_by_label("Target format for second.png").select_option("webp")
        second.get_by_role("button", name="Convert").click()
        expect(second).to_have_attribute("data-status", "succeeded", timeout=60_000)
        with page.expect_download() as caught:
            second.get_by_role("button", name="Download second.webp").click()
        assert caught.value.url.split("?")[0].endswith("/second.webp")
        assert "signature=" in caught.value.url or "X-Amz-Signature" in caught.value.url
        assert Path(caught.value.path()).read_bytes()[8:12] == b"WEBP"
        job_id = second.locator("[data-job]").get_attribute("data-job")
        page.get_by_role("link", name="History").click()
        expect(page.locator(f"tr[data-job='{job_id}']")).to_be_visible()
        shots(page, "history-with-key")

        # Another tenant's key, same tab: that history holds none of these jobs.
        page.get_by_role("button", name="API key").click()
        page.get_by_role("dialog", name="API key").get_by_label("Key").fill(other)
        page.get_by_role("dialog", name="API key").get_by_role("button", name="Save").click()
        expect(page.get_by_text("No jobs yet.")).to_be_visible()
        expect(page.locator(f"tr[data-job='{job_id}']")).to_have_count(0)
        context.close()


def test_resumable_uploads_belong_to_their_tenant(secured: Secured, api: httpx.Client) -> None:
    owner = secured.key(secured.tenant("tus"), "user")
    other = secured.key(secured.tenant("tus-other"), "user")
    tus = {"Tus-Resumable": "1.0.0"}
    assert api.post("/v1/uploads", headers={**tus, "Upload-Length": "4"}).status_code == 401
    created = api.post("/v1/uploads", headers={**tus, "Upload-Length": "4", **bearer(owner)})
    assert created.status_code == 201, created.text
    where = created.headers["location"]
    patch = {**tus, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"}
    assert api.head(where, headers={**tus, **bearer(other)}).status_code == 404
    stolen = api.patch(where, content=b"evil", headers={**patch, **bearer(other)})
    assert stolen.status_code == 404
    assert api.delete(where, headers={**tus, **bearer(other)}).status_code == 404
    done = api.patch(where, content=b"mine", headers={**patch, **bearer(owner)})
    assert done.status_code == 204 and done.headers["upload-offset"] == "4"
    assert api.get(where, headers=bearer(other)).status_code == 404
    assert api.get(where, headers=bearer(owner)).json()["size"] == 4
