"""What the API returns, as small typed records built from its JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

TERMINAL = frozenset({"succeeded", "failed", "cancelled"})


@dataclass(frozen=True)
class UploadedFile:
    id: str
    name: str
    size: int
    format: str
    content_type: str
    sha256: str

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> UploadedFile:
        return cls(
            data["id"], data["name"], data["size"], data["format"], data["content_type"],
            data["sha256"],
        )  # fmt: skip


@dataclass(frozen=True)
class Output:
    name: str
    url: str
    size: int
    content_type: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Job:
    id: str
    status: str
    service: str
    operation: str
    target: str
    percent: float
    phase: str
    eta_seconds: float | None
    outputs: list[Output]
    error: dict[str, Any] | None
    raw: dict[str, Any]  # the whole document, for fields this SDK does not name

    @property
    def done(self) -> bool:
        return self.status in TERMINAL

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Job:
        progress = data.get("progress") or {}
        outputs = [
            Output(o["name"], o["url"], o.get("size", 0), o.get("content_type", ""),
                   o.get("details") or {})
            for o in data.get("outputs") or []
        ]  # fmt: skip
        return cls(
            id=data["id"],
            status=data["status"],
            service=data.get("service", ""),
            operation=data.get("operation", "convert"),
            target=data.get("target", ""),
            percent=float(progress.get("percent", 0.0)),
            phase=str(progress.get("phase", "")),
            eta_seconds=progress.get("eta_seconds"),
            outputs=outputs,
            error=data.get("error"),
            raw=data,
        )
