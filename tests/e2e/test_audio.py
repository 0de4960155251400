"""The audio converter through the whole mesh: REST with live speed and time left,
gRPC with a preview, hostile files refused or failed with a code, and a SIGKILL of the
audio service mid-job, a cancel that kills FFmpeg."""

from __future__ import annotations

import signal
import tempfile
import time
from pathlib import Path

import grpc
import httpx
import pytest
from google.protobuf import struct_pb2

from scripts.mesh import Mesh
from tests import media
from tests.e2e.conftest import convert, events, final_state, objects_under, wait_for
from tests.e2e.test_cancel import busy_worker, cpu_ticks
from transmute.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from transmute_audio.probe import MediaInfo

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def long_flac(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """Ten minutes of stereo tone: FLAC keeps it small, FFmpeg needs seconds for it."""
    path = tmp_path_factory.mktemp("audio") / "long.flac"
    return media.tone(path, "flac", seconds=600).read_bytes()


def media_bytes(fmt: str, seconds: float = 1.0) -> bytes:
    with tempfile.TemporaryDirectory() as work:
        return media.tone(Path(work) / f"in.{fmt}", fmt, seconds=seconds).read_bytes()


def measure(data: bytes, demuxer: str, work: Path) -> MediaInfo:
    path = work / f"out.{demuxer}"
    path.write_bytes(data)
    return media.measure(path, demuxer)


def test_formats_list_audio_and_its_preview(api: httpx.Client) -> None:
    services = {s["service"]: s for s in api.get("/v1/formats").json()["services"]}
    audio = services["audio"]
    by_operation = {c["operation"]: c for c in audio["conversions"]}
    assert {"mp3", "flac", "wav", "mkv", "webm", "avi"} <= set(by_operation["convert"]["inputs"])
    assert set(by_operation["convert"]["outputs"]) == {
        "mp3",
        "m4a",
        "alac",
        "opus",
        "ogg",
        "flac",
        "wav",
        "aiff",
    }
    assert set(by_operation["preview"]["outputs"]) == {"opus", "mp3"}
    assert "normalize" in {o["name"] for o in audio["options"]}


def test_audio_over_rest_reports_speed_and_time_left(
    api: httpx.Client, long_flac: bytes, tmp_path: Path
) -> None:
    resp = convert(api, long_flac, "opus", name="talk.flac", options='{"quality": "high"}')
    assert resp.status_code == 202, resp.text
    job = resp.json()
    assert job["service"] == "audio"
    stream = events(api, job["id"], timeout=180)
    assert stream[-1][0] == "final" and stream[-1][1]["status"] == "succeeded", stream[-1]
    timed = [d["progress"] for _, d in stream if d["progress"].get("rate")]
    assert timed, [d["progress"] for _, d in stream]
    assert all(p["rate"] > 1 and p["eta_seconds"] >= 0 for p in timed)
    phases = [d["progress"]["phase"] for _, d in stream]
    assert phases.index("fetch") < phases.index("convert") < phases.index("done")
    done = stream[-1][1]
    details = done["outputs"][0]["details"]
    assert details["input"]["duration_seconds"] == pytest.approx(600, abs=0.05)
    assert details["input"]["codec"] == "flac" and details["output"]["codec"] == "opus"
    out = api.get(done["outputs"][0]["url"]).content
    assert details["output"]["size"] == len(out)
    assert details["size_ratio"] == pytest.approx(len(out) / len(long_flac), abs=1e-4)
    got = measure(out, "ogg", tmp_path)
    assert abs(got.duration_seconds - 600) < 0.05 and got.channels == 2


def test_preview_over_grpc(channel: grpc.Channel, tmp_path: Path) -> None:
    stub = gateway_pb2_grpc.GatewayServiceStub(channel)
    data = media.tone(tmp_path / "song.wav", "wav", seconds=8).read_bytes()

    def chunks():  # type: ignore[no-untyped-def]
        yield gateway_pb2.UploadRequest(metadata=gateway_pb2.UploadMetadata(filename="song.wav"))
        for i in range(0, len(data), 64 * 1024):
            yield gateway_pb2.UploadRequest(chunk=data[i : i + 64 * 1024])

    f = stub.Upload(chunks())
    assert f.format == "wav"
    options = struct_pb2.Struct()
    options.update({"start": 2, "duration": 3})
    job = stub.SubmitJob(
        gateway_pb2.SubmitJobRequest(
            inputs=[f.id], target="mp3", options=options, operation="preview"
        )
    )
    assert job.operation == "preview"
    states = list(stub.WatchJob(gateway_pb2.WatchJobRequest(id=job.id)))
    assert states[-1].status == gateway_pb2.JOB_STATUS_SUCCEEDED, states[-1]
    done = states[-1]
    assert done.outputs[0].details["output"]["duration_seconds"] == pytest.approx(3, abs=0.05)
    out = b"".join(
        c.chunk
        for c in stub.Download(
            gateway_pb2.DownloadRequest(job_id=job.id, name=done.outputs[0].name)
        )
    )
    assert abs(measure(out, "mp3", tmp_path).duration_seconds - 3) < 0.05
    with pytest.raises(grpc.RpcError) as err:
        stub.SubmitJob(
            gateway_pb2.SubmitJobRequest(inputs=[f.id], target="wav", operation="preview")
        )
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "cannot preview wav to wav" in (err.value.details() or "")


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("notes.mp3", b"hello, I am a text file named song.mp3\n" * 20),
        ("live.mp3", b"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nfile:///etc/passwd\n"),
        ("list.wav", b"ffconcat version 1.0\nfile /etc/passwd\n"),
    ],
)
def test_text_posing_as_audio_is_refused_at_upload(
    api: httpx.Client, name: str, data: bytes
) -> None:
    resp = convert(api, data, "wav", name=name)
    assert resp.status_code == 415, resp.text
    assert resp.json()["error"]["code"] == "unsupported_media_type"


def test_an_avi_carrying_a_playlist_fails_as_a_job(api: httpx.Client, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET\n")
    playlist = f"#EXTM3U\n#EXTINF:10.0,\nfile://{secret}\n#EXT-X-ENDLIST\n".encode()
    body = b"AVI LIST" + len(playlist).to_bytes(4, "little") + b"hdrl" + playlist
    data = b"RIFF" + len(body).to_bytes(4, "little") + body
    resp = convert(api, data, "mp3", name="movie.avi")
    assert resp.status_code == 202, resp.text
    done = final_state(api, resp.json()["id"])
    assert done["status"] == "failed"
    assert done["error"]["code"] == "invalid_audio"
    assert "TOP-SECRET" not in str(done)


def test_sigkill_of_the_audio_converter_mid_job(
    api: httpx.Client, mesh: Mesh, long_flac: bytes
) -> None:
    resp = convert(api, long_flac, "opus", name="long.flac", options='{"quality": "high"}')
    job_id = resp.json()["id"]
    wait_for(lambda: api.get(f"/v1/jobs/{job_id}").json()["progress"]["phase"] == "convert")
    mesh.kill("audio", signal.SIGKILL)
    assert api.get(f"/v1/jobs/{job_id}").json()["status"] == "running"
    mesh.start_service("audio")
    done = final_state(api, job_id)
    assert done["status"] == "succeeded", done
    assert done["attempts"] >= 2
    assert len(objects_under(mesh, f"tenants/default/jobs/{job_id}")) == 1


def test_cancel_kills_the_running_ffmpeg(api: httpx.Client, mesh: Mesh, long_flac: bytes) -> None:
    """The audio service runs FFmpeg itself (no worker): a cancel kills that FFmpeg."""
    resp = convert(api, long_flac, "mp3", name="long.flac", options='{"quality": "high"}')
    job_id = resp.json()["id"]
    service = mesh.procs["audio"].pid
    ffmpeg = wait_for(lambda: busy_worker(service), timeout=60)
    assert "ffmpeg" in Path(f"/proc/{ffmpeg}/cmdline").read_bytes().decode(errors="replace")
    cancelled_at = time.monotonic()
    assert api.delete(f"/v1/jobs/{job_id}").json()["status"] == "cancelled"
    wait_for(lambda: cpu_ticks(ffmpeg) is None, timeout=10, interval=0.01)
    assert time.monotonic() - cancelled_at < 1.0
    assert objects_under(mesh, f"tenants/default/jobs/{job_id}/") == []
    # The service goes on converting.
    after = convert(api, media_bytes("wav"), "opus", name="next.wav")
    assert final_state(api, after.json()["id"])["status"] == "succeeded"
