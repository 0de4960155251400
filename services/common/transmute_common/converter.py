"""The interfaces converter engines implement.

A ``Converter`` is synchronous and runs inside a worker process owned by the service, so
an engine that crashes, hangs or eats memory on a hostile file takes down only that
worker. A ``ProgramConverter`` does all its work through programs (FFmpeg, say) that it
starts confined from the service process itself: no Python worker sits in between, and
a hostile file only ever meets the program.
"""

from __future__ import annotations

import hashlib
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from pydantic import BaseModel

from transmute.converter.v1 import converter_pb2

if TYPE_CHECKING:
    from transmute_common.confined import ProgramRunner


class Conversion(BaseModel):
    operation: str
    inputs: list[str]
    outputs: list[str]
    max_inputs: int = 1  # files one job takes, e.g. a merge takes many


class OptionSpec(BaseModel):
    name: str
    type: Literal["integer", "number", "boolean", "string"]
    description: str
    default: str = ""
    choices: list[str] = []
    minimum: float | None = None
    maximum: float | None = None
    operations: list[str] = []  # the operations that read it; empty: every one

    def applies_to(self, operation: str) -> bool:
        return not self.operations or operation in self.operations


class Capabilities(BaseModel):
    service: str
    conversions: list[Conversion]
    options: list[OptionSpec]
    engine_version: str = ""  # a digest of the service's and its engine packages' versions

    def accepts(self, operation: str, input_format: str, target: str) -> bool:
        return self.conversion(operation, [input_format], target) is not None

    def conversion(
        self, operation: str, input_formats: list[str], target: str
    ) -> Conversion | None:
        """The conversion that takes every one of ``input_formats`` to ``target``."""
        for c in self.conversions:
            if (
                c.operation == operation
                and target in c.outputs
                and all(f in c.inputs for f in input_formats)
            ):
                return c
        return None

    def outputs(self) -> set[str]:
        return {o for c in self.conversions for o in c.outputs}

    def without(self, inputs: set[str], outputs: set[str]) -> Capabilities:
        """These capabilities less some input and output formats."""
        kept = []
        for c in self.conversions:
            ins = [i for i in c.inputs if i not in inputs]
            outs = [o for o in c.outputs if o not in outputs]
            if ins and outs:
                kept.append(c.model_copy(update={"inputs": ins, "outputs": outs}))
        return self.model_copy(update={"conversions": kept})

    def missing_from(self, declared: Capabilities) -> list[str]:
        """What ``declared`` offers that these capabilities do not, for the log."""
        have = {(c.operation, i, o) for c in self.conversions for i in c.inputs for o in c.outputs}
        lost = {
            f"{c.operation}:{i}->{o}"
            for c in declared.conversions
            for i in c.inputs
            for o in c.outputs
            if (c.operation, i, o) not in have
        }
        return sorted(lost)

    def to_pb(self) -> converter_pb2.CapabilitiesResponse:
        return converter_pb2.CapabilitiesResponse(
            service=self.service,
            engine_version=self.engine_version,
            conversions=[converter_pb2.Conversion(**c.model_dump()) for c in self.conversions],
            options=[
                converter_pb2.OptionSpec(
                    **{k: v for k, v in o.model_dump().items() if v is not None}
                )
                for o in self.options
            ],
        )

    @classmethod
    def from_pb(cls, pb: converter_pb2.CapabilitiesResponse) -> Capabilities:
        return cls(
            service=pb.service,
            engine_version=pb.engine_version,
            conversions=[
                Conversion(
                    operation=c.operation,
                    inputs=list(c.inputs),
                    outputs=list(c.outputs),
                    max_inputs=max(c.max_inputs, 1),
                )
                for c in pb.conversions
            ],
            options=[
                OptionSpec(
                    name=o.name,
                    type=o.type,
                    description=o.description,
                    default=o.default,
                    choices=list(o.choices),
                    minimum=o.minimum if o.HasField("minimum") else None,
                    maximum=o.maximum if o.HasField("maximum") else None,
                    operations=list(o.operations),
                )
                for o in pb.options
            ],
        )


def engine_version(service: str) -> str:
    """A digest of the versions of ``transmute-<service>`` and every package it
    requires (the engine libraries, and the codecs their wheels carry): a cached result
    is reused only while it would come out the same. Programs from the system (e.g.
    Ghostscript) are pinned by the image instead."""
    distribution = f"transmute-{service}"
    try:
        versions = [f"{distribution}=={metadata.version(distribution)}"]
        required = metadata.requires(distribution) or []
    except metadata.PackageNotFoundError:
        return ""
    for requirement in sorted(required):
        if "extra ==" in requirement:
            continue
        name = re.split(r"[\s\[<>=!~;(]", requirement, maxsplit=1)[0]
        try:
            versions.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{name}==absent")
    return hashlib.sha256("\n".join(versions).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class InputFile:
    path: Path
    name: str
    format: str  # short format name detected from content, e.g. jpeg


@dataclass(frozen=True)
class OutputFile:
    path: Path
    name: str
    media_type: str
    # What the engine measured (durations, codecs, sizes); recorded on the job's output.
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def extension(self) -> str:
        """The extension the engine gave the file (e.g. ``zip`` for a bundle of pages)."""
        return Path(self.name).suffix.lstrip(".").lower()


@dataclass
class ConversionTask:
    operation: str
    inputs: list[InputFile]
    target: str
    options: dict[str, Any]
    output_dir: Path
    limits: dict[str, Any] = field(default_factory=dict)
    # The target another converter makes from this engine's outputs (``target`` is then
    # what that converter reads, e.g. png for pages it encodes as webp).
    handoff_target: str = ""


class ProgressFn(Protocol):
    """Called by an engine as it works: ``fraction`` 0..1 of its work, what it is doing,
    and where it knows them, its speed (e.g. 12.5 = 12.5x realtime) and seconds left."""

    def __call__(
        self,
        fraction: float,
        message: str,
        rate: float | None = None,
        eta_seconds: float | None = None,
    ) -> None: ...


class Converter(ABC):
    """One engine family, built inside a worker process from the service's engine
    settings. ``convert`` runs there, never on the event loop.

    What a service can do is declared without the engine (its Capabilities, cheap to
    build anywhere); ``available`` narrows that to what this machine's engine offers."""

    def __init__(self, settings: dict[str, Any] | None = None) -> None:
        self.settings = settings or {}

    def available(self, declared: Capabilities) -> Capabilities:
        """The declared capabilities this engine can serve here (e.g. without a codec
        or program that is missing)."""
        return declared

    @abstractmethod
    def convert(self, task: ConversionTask, progress: ProgressFn) -> list[OutputFile]:
        """Reads ``task.inputs``, writes outputs under ``task.output_dir``. Raises
        InvalidInput for files it cannot or will not process."""


class ProgramConverter(ABC):
    """An engine built in the service process whose ``convert`` runs on the event loop
    and only waits on the programs it starts through ``programs`` (each confined as a
    worker would be). It must not parse a file itself: that is the programs' work."""

    def __init__(self, settings: dict[str, Any] | None = None) -> None:
        self.settings = settings or {}

    async def available(self, declared: Capabilities, programs: ProgramRunner) -> Capabilities:
        return declared

    @abstractmethod
    async def convert(
        self, task: ConversionTask, progress: ProgressFn, programs: ProgramRunner
    ) -> list[OutputFile]:
        """As Converter.convert, with the programs it needs run by ``programs``."""


class EngineHost(Protocol):
    """Where a service's engine runs: worker processes, or the service itself."""

    available: Capabilities

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def run(self, task: ConversionTask, on_progress: ProgressFn) -> list[OutputFile]: ...
