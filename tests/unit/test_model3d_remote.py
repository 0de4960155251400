"""image_to_3d by a hosted API, against a local server that speaks its protocol:
queue, progress, result, and each way it can fail."""

from __future__ import annotations

import base64
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import models
from tests.model_api_server import ModelApiServer, model_api_server
from transmute_common.converter import ConversionTask, InputFile, OutputFile
from transmute_common.errors import InvalidArgument, TransmuteError
from transmute_model3d.capabilities import CAPABILITIES
from transmute_model3d.engine import Model3dConverter


@pytest.fixture
def api() -> Iterator[ModelApiServer]:
    with model_api_server() as server, tempfile.TemporaryDirectory() as work:
        server.model = models.write(models.sphere(3), Path(work) / "m.glb").read_bytes()
        yield server


def settings(api: ModelApiServer, **more: Any) -> dict[str, Any]:
    return {
        "image_to_3d_url": api.url,
        "image_to_3d_key": "secret-key",
        "image_to_3d_poll_seconds": 0.02,
        "image_to_3d_backoff_seconds": 0.01,
        **more,
    }


def generate(
    api: ModelApiServer, tmp_path: Path, config: dict[str, Any] | None = None, **options: Any
) -> tuple[list[OutputFile], list[str]]:
    picture = tmp_path / "photo.png"
    picture.write_bytes(base64.b64decode(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC"
    ))  # fmt: skip
    out_dir = tmp_path / f"out-{len(list(tmp_path.iterdir()))}"
    out_dir.mkdir()
    messages: list[str] = []
    task = ConversionTask(
        "image_to_3d",
        [InputFile(picture, picture.name, "png")],
        "stl",
        {"backend": "remote", **options},
        out_dir,
    )
    engine = Model3dConverter(settings(api) if config is None else config)
    outputs = engine.convert(task, lambda _f, message, **_k: messages.append(message))
    return outputs, messages


def test_a_picture_becomes_the_model_the_api_makes(api: ModelApiServer, tmp_path: Path) -> None:
    api.statuses = [
        {"status": "IN_QUEUE", "queue_position": 2},
        {"status": "IN_PROGRESS", "progress": 40},
        {"status": "COMPLETED"},
    ]
    [out], messages = generate(api, tmp_path, face_limit=500)
    assert out.details["backend"] == "remote"
    assert out.details["generated"]["faces"] == 1280  # what the API returned
    assert out.details["output"]["faces"] <= 500  # held to the face limit here
    assert "1 of 1: queued at the image-to-3D API (position 2)" in messages
    assert "1 of 1: generating at the image-to-3D API" in messages
    [(_m, _p, headers, body)] = api.of("POST", "/tripo")
    assert headers["Authorization"] == "Key secret-key"
    sent = json.loads(body)
    assert sent["image_url"].startswith("data:image/png;base64,") and sent["face_limit"] == 500
    # The key goes to the API, never with the download of the result.
    [(_m, _p, fetched, _b)] = api.of("GET", "/files/")
    assert "Authorization" not in fetched


def test_busy_answers_are_retried(api: ModelApiServer, tmp_path: Path) -> None:
    api.submits = [(503, {"detail": "busy"}), (429, {"detail": "slow down"})]
    [out], _ = generate(api, tmp_path)
    assert out.details["output"]["faces"] == 1280
    assert len(api.of("POST", "/tripo")) == 3


@pytest.mark.parametrize(
    ("setup", "code", "words"),
    [
        (lambda a: a.submits.append((401, {"detail": "bad key"})), "remote_failure", "401"),
        (lambda a: a.submits.extend([(502, {})] * 4), "remote_unavailable", "after 4 attempts"),
        (lambda a: setattr(a, "statuses", [{"status": "FAILED", "error": "no object found"}]),
         "remote_failure", "no object found"),
        (lambda a: setattr(a, "statuses", [{"status": "IN_PROGRESS"}]),
         "remote_timeout", "did not finish"),
        (lambda a: setattr(a, "model", b"<html>this is no model</html>"),
         "remote_failure", "not a 3D model"),
        (lambda a: setattr(a, "response", {"model_mesh": {"url": "http://169.254.169.254/latest"}}),
         "remote_failure", "host not allowed"),
        (lambda a: setattr(a, "response", {"images": []}), "remote_failure", "names no model"),
    ],
    ids=["refused", "unavailable", "failed", "timeout", "not-a-model", "other-host", "no-model"],
)  # fmt: skip
def test_each_failure_of_the_api_has_a_code(
    api: ModelApiServer, tmp_path: Path, setup: Any, code: str, words: str
) -> None:
    setup(api)
    config = settings(api, image_to_3d_max_wait_seconds=0.5, image_to_3d_retries=3)
    with pytest.raises(TransmuteError) as exc:
        generate(api, tmp_path, config)
    assert exc.value.code == code and words in str(exc.value), exc.value


def test_remote_is_offered_only_when_configured(api: ModelApiServer, tmp_path: Path) -> None:
    def choices(engine: Model3dConverter) -> list[str]:
        [backend] = [o for o in engine.available(CAPABILITIES).options if o.name == "backend"]
        return backend.choices

    assert choices(Model3dConverter({})) == ["local"]
    assert choices(Model3dConverter(settings(api))) == ["local", "remote"]
    with pytest.raises(InvalidArgument):
        generate(api, tmp_path, {})


def test_the_image_service_is_asked_for_what_each_backend_needs() -> None:
    from transmute_model3d.capabilities import INTAKES

    [intake] = INTAKES
    assert intake.options_for({"resolution": 128}) == {
        "width": 128, "height": 128, "fit": "contain", "grayscale": True
    }  # fmt: skip
    assert intake.options_for({"backend": "remote"}) == {
        "width": 1024, "height": 1024, "fit": "contain"
    }  # fmt: skip
