"""tus 1.0 resumable uploads against the mesh, with the tuspy client: chunked uploads
that end as ordinary files, a connection cut mid-upload and resumed from the server's
offset, offsets that do not match, termination, expiry, limits and type sniffing."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import socket
import threading
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import httpx
import pytest
from tusclient.client import TusClient
from tusclient.exceptions import TusCommunicationError, TusUploadFailed

from scripts.mesh import Mesh
from tests import images
from tests.e2e.conftest import MAX_UPLOAD, final_state, objects_under
from tests.e2e.test_resilience import noisy_jpeg

pytestmark = pytest.mark.e2e
TUS = {"Tus-Resumable": "1.0.0"}
MIB = 1024 * 1024


class CuttingProxy:
    """Forwards TCP to the gateway; the first connection that sends more than
    ``cut_after`` bytes is cut there (both ways), as a dropped network would."""

    def __init__(self, target_port: int, cut_after: int):
        self.target, self.cut_after = target_port, cut_after
        self.cut = threading.Event()
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target))
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, counting: bool) -> None:
        sent = 0
        try:
            while data := src.recv(65536):
                if counting and not self.cut.is_set() and sent + len(data) > self.cut_after:
                    dst.sendall(data[: self.cut_after - sent])
                    self.cut.set()
                    break
                sent += len(data)
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def close(self) -> None:
        self.server.close()


@pytest.fixture
def tus_url(mesh: Mesh) -> str:
    return f"{mesh.url}/v1/uploads"


def file_of(api: httpx.Client, upload_url: str) -> dict:
    path = "/" + upload_url.split("://", 1)[1].split("/", 1)[1]
    resp = api.get(path)
    assert resp.status_code == 200, resp.text
    record: dict = resp.json()
    return record


def test_a_chunked_upload_becomes_a_file_jobs_can_convert(api: httpx.Client, tus_url: str) -> None:
    data = noisy_jpeg(3600, 2400)  # > one 8 MiB segment: joined from a segment and a tail
    assert len(data) > 8 * MIB
    uploader = TusClient(tus_url).uploader(
        file_stream=io.BytesIO(data), chunk_size=3 * MIB, metadata={"filename": "big.jpg"}
    )
    uploader.upload()
    record = file_of(api, uploader.url)
    assert record["id"] == uploader.url.rsplit("/", 1)[1]
    assert record["name"] == "big.jpg" and record["size"] == len(data)
    assert record["sha256"] == hashlib.sha256(data).hexdigest()
    assert record["format"] == "jpeg"  # sniffed from the bytes, as any upload
    job = api.post(
        "/v1/jobs",
        json={"inputs": [record["id"]], "target": "png", "options": {"width": 90}, "cache": False},
    )
    assert job.status_code == 202, job.text
    done = final_state(api, job.json()["id"])
    assert done["status"] == "succeeded", done
    assert images.dimensions(api.get(done["outputs"][0]["url"]).content)[0] == 90


def test_a_connection_cut_mid_upload_resumes_from_the_servers_offset(
    api: httpx.Client, mesh: Mesh, tus_url: str
) -> None:
    data = noisy_jpeg(3000, 2200)
    proxy = CuttingProxy(mesh.http_port, cut_after=3 * MIB + 12345)
    try:
        client = TusClient(f"http://127.0.0.1:{proxy.port}/v1/uploads")
        uploader = client.uploader(
            file_stream=io.BytesIO(data), chunk_size=len(data), metadata={"filename": "n.jpg"}
        )
        with pytest.raises(Exception):  # noqa: B017 - whatever the cut raises in requests
            uploader.upload()
        assert proxy.cut.is_set()
        # A new client learns the offset with HEAD: every byte that arrived counts.
        resumed = TusClient(tus_url).uploader(
            file_stream=io.BytesIO(data),
            url=uploader.url.replace(str(proxy.port), str(mesh.http_port)),
            chunk_size=len(data),
        )
        assert 0 < resumed.offset <= 3 * MIB + 12345
        assert resumed.offset > 3 * MIB  # not just whole segments: the tail is kept too
        resumed.upload()
    finally:
        proxy.close()
    record = file_of(api, resumed.url)
    assert record["size"] == len(data)
    assert record["sha256"] == hashlib.sha256(data).hexdigest()


def test_tuspy_retries_a_cut_chunk_by_itself(mesh: Mesh, api: httpx.Client) -> None:
    data = images.png(300, 200)  # sent in 1 KiB chunks, a connection each
    proxy = CuttingProxy(mesh.http_port, cut_after=900)  # the first PATCH is cut
    try:
        uploader = TusClient(f"http://127.0.0.1:{proxy.port}/v1/uploads").uploader(
            file_stream=io.BytesIO(data), chunk_size=1024, retries=3, retry_delay=0.2
        )
        uploader.upload()
    finally:
        proxy.close()
    assert proxy.cut.is_set()
    record = file_of(api, uploader.url.replace(str(proxy.port), str(mesh.http_port)))
    assert record["sha256"] == hashlib.sha256(data).hexdigest() and record["format"] == "png"


def test_an_offset_that_does_not_match_is_409(api: httpx.Client) -> None:
    created = api.post("/v1/uploads", headers={**TUS, "Upload-Length": "10"})
    assert created.status_code == 201, created.text
    where = created.headers["location"]
    patch = {**TUS, "Content-Type": "application/offset+octet-stream"}
    first = api.patch(where, content=b"01234", headers={**patch, "Upload-Offset": "0"})
    assert first.status_code == 204 and first.headers["upload-offset"] == "5"
    for wrong in ("0", "3", "7"):
        resp = api.patch(where, content=b"56789", headers={**patch, "Upload-Offset": wrong})
        assert resp.status_code == 409, resp.text
        assert resp.json()["error"]["code"] == "offset_mismatch"
        assert resp.json()["error"]["details"]["offset"] == 5
    head = api.head(where, headers=TUS)
    assert head.headers["upload-offset"] == "5" and head.headers["upload-length"] == "10"
    assert head.headers["cache-control"] == "no-store"
    # More than declared is refused, and nothing of it is kept.
    over = api.patch(where, content=b"56789xx", headers={**patch, "Upload-Offset": "5"})
    assert over.status_code == 413
    assert api.head(where, headers=TUS).headers["upload-offset"] == "5"
    last = api.patch(where, content=b"56789", headers={**patch, "Upload-Offset": "5"})
    assert last.status_code == 204 and last.headers["upload-offset"] == "10"
    assert api.get(where).json()["format"] == "unknown"  # text: no converter reads it


def test_tuspy_is_told_409_for_a_stale_offset(tus_url: str) -> None:
    data = images.png(120, 80)
    client = TusClient(tus_url)
    first = client.uploader(file_stream=io.BytesIO(data), chunk_size=200)
    first.upload(stop_at=400)  # two chunks in
    stale = client.uploader(file_stream=io.BytesIO(data), url=first.url, chunk_size=200)
    assert stale.offset == 400
    stale.offset = 200  # a client that lost track
    with pytest.raises(TusUploadFailed) as caught:
        stale.upload_chunk()
    assert caught.value.status_code == 409
    stale.offset = stale.get_offset()  # and recovers by asking
    stale.upload()
    assert stale.offset == len(data)


def test_creation_with_upload_termination_and_expiry(api: httpx.Client, mesh: Mesh) -> None:
    options = api.options("/v1/uploads")
    assert options.status_code == 204
    assert options.headers["tus-version"] == "1.0.0"
    extensions = set(options.headers["tus-extension"].split(","))
    assert extensions == {"creation", "creation-with-upload", "termination", "expiration"}
    assert int(options.headers["tus-max-size"]) == MAX_UPLOAD

    png = images.png(40, 30)
    name = base64.b64encode(b"tiny.png").decode()
    created = api.post(
        "/v1/uploads",
        content=png,
        headers={
            **TUS,
            "Upload-Length": str(len(png)),
            "Upload-Metadata": f"filename {name},is_confidential",
            "Content-Type": "application/offset+octet-stream",
        },
    )
    assert created.status_code == 201, created.text
    assert created.headers["upload-offset"] == str(len(png))
    record = api.get(created.headers["location"]).json()
    assert record["name"] == "tiny.png" and record["format"] == "png"

    pending = api.post("/v1/uploads", headers={**TUS, "Upload-Length": "100"})
    expires = parsedate_to_datetime(pending.headers["upload-expires"])
    assert timedelta(hours=23) < expires - datetime.now(UTC) <= timedelta(hours=24)
    where = pending.headers["location"]
    assert api.get(where).json()["error"]["code"] == "upload_incomplete"
    gone = api.delete(where, headers=TUS)
    assert gone.status_code == 204
    assert api.head(where, headers=TUS).status_code == 404
    upload_id = where.rsplit("/", 1)[1]
    assert objects_under(mesh, f"tenants/default/uploads/{upload_id}") == []


def test_limits_and_protocol_errors(api: httpx.Client) -> None:
    too_big = api.post("/v1/uploads", headers={**TUS, "Upload-Length": str(MAX_UPLOAD + 1)})
    assert too_big.status_code == 413 and too_big.json()["error"]["code"] == "file_too_large"
    empty = api.post("/v1/uploads", headers={**TUS, "Upload-Length": "0"})
    assert empty.status_code == 400 and empty.json()["error"]["code"] == "empty_file"
    no_length = api.post("/v1/uploads", headers=TUS)
    assert no_length.status_code == 400
    assert api.post("/v1/uploads", headers={"Upload-Length": "5"}).status_code == 412
    where = api.post("/v1/uploads", headers={**TUS, "Upload-Length": "5"}).headers["location"]
    wrong_type = api.patch(
        where, content=b"abc", headers={**TUS, "Upload-Offset": "0", "Content-Type": "text/plain"}
    )
    assert wrong_type.status_code == 415
    assert api.head("/v1/uploads/" + "0" * 32, headers=TUS).status_code == 404
    assert api.head("/v1/uploads/not-an-id", headers=TUS).status_code == 404


def test_tuspy_reports_a_refused_upload(tus_url: str) -> None:
    uploader = TusClient(tus_url).uploader(file_stream=io.BytesIO(b"x" * (MAX_UPLOAD + 1)))
    with pytest.raises(TusCommunicationError) as caught:
        uploader.upload()
    assert caught.value.status_code == 413
