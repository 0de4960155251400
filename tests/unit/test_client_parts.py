"""The SDK's and CLI's own pieces, without a server: errors from answers, the event
reader, and how the command finds files and reads options."""

from __future__ import annotations

from pathlib import Path

import click
import httpx
import pytest

from transmute_client.cli import _files, _option
from transmute_client.errors import (
    ApiError,
    AuthenticationError,
    RateLimitError,
    UnavailableError,
    error_from,
)
from transmute_client.protocol import EventReader, job_body, target_path


def test_errors_keep_the_apis_code_and_details() -> None:
    body = {"error": {"code": "quota_exceeded", "message": "used up", "details": {"limit": 3}}}
    limited = error_from(httpx.Response(429, json=body, headers={"Retry-After": "7"}))
    assert isinstance(limited, RateLimitError)
    assert (limited.code, limited.details["limit"], limited.retry_after) == ("quota_exceeded", 3, 7)
    key = {"error": {"code": "invalid_key", "message": "no", "details": {}}}
    assert isinstance(error_from(httpx.Response(401, json=key)), AuthenticationError)
    broken = error_from(httpx.Response(502, text="<html>bad gateway</html>"))
    assert isinstance(broken, UnavailableError) and broken.code == "http_502"
    teapot = error_from(httpx.Response(418, json=key))
    assert type(teapot) is ApiError


def test_event_reader_reads_progress_and_final() -> None:
    reader = EventReader()
    lines = [
        "event: progress",
        "id: 2",
        'data: {"id": "j", "status": "running", "progress": {"percent": 40, "phase": "encode"}}',
        "",
        ": keepalive",
        "event: final",
        'data: {"id": "j", "status": "succeeded", "outputs": [{"name": "a.webp", "url": "/u"}]}',
    ]
    events = [e for e in map(reader.feed, lines) if e]
    assert [(name, job.status) for name, job in events] == [
        ("progress", "running"),
        ("final", "succeeded"),
    ]
    assert events[0][1].phase == "encode" and events[1][1].outputs[0].name == "a.webp"


def test_every_submission_carries_an_idempotency_key() -> None:
    _, first = job_body(["f"], "webp", None, "convert", None)
    _, second = job_body(["f"], "webp", None, "convert", None)
    assert first["Idempotency-Key"] != second["Idempotency-Key"]
    _, given = job_body(["f"], "webp", {}, "convert", "mine")
    assert given == {"Idempotency-Key": "mine"}


def test_files_options_and_destinations(tmp_path: Path) -> None:
    (tmp_path / "d" / "e").mkdir(parents=True)
    for name in ("d/a.jpg", "d/e/b.png", "c.gif"):
        (tmp_path / name).write_bytes(b"x")
    found = _files((str(tmp_path / "d"), str(tmp_path / "*.gif")))
    assert [p.name for p in found] == ["a.jpg", "b.png", "c.gif"]
    with pytest.raises(click.UsageError):
        _files((str(tmp_path / "missing.jpg"),))
    assert _option("width=800") == ("width", 800)
    assert _option("fit=cover") == ("fit", "cover")
    assert _option("pages=[1, 2]") == ("pages", [1, 2])
    with pytest.raises(click.BadParameter):
        _option("width")
    assert target_path(tmp_path, "x/out.webp") == tmp_path / "out.webp"
    assert target_path(tmp_path / "named.webp", "out.webp") == tmp_path / "named.webp"
