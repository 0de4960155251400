"""The interface every converter engine implements.

A converter is synchronous and runs inside a worker process owned by the service, so an
engine that crashes, hangs or eats memory on a hostile file takes down only that worker.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from transmute.converter.v1 import converter_pb2


class Conversion(BaseModel):
    operation: str
    inputs: list[str]
    outputs: list[str]


class OptionSpec(BaseModel):
    name: str
    type: Literal["integer", "number", "boolean", "string"]
    description: str
    default: str = ""
    choices: list[str] = []
    minimum: float | None = None
    maximum: float | None = None


class Capabilities(BaseModel):
    service: str
    conversions: list[Conversion]
    options: list[OptionSpec]

    def accepts(self, operation: str, input_format: str, target: str) -> bool:
        return any(
            c.operation == operation and input_format in c.inputs and target in c.outputs
            for c in self.conversions
        )

    def outputs(self) -> set[str]:
        return {o for c in self.conversions for o in c.outputs}

    def to_pb(self) -> converter_pb2.CapabilitiesResponse:
        return converter_pb2.CapabilitiesResponse(
            service=self.service,
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
            conversions=[
                Conversion(operation=c.operation, inputs=list(c.inputs), outputs=list(c.outputs))
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
                )
                for o in pb.options
            ],
        )


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


@dataclass
class ConversionTask:
    operation: str
    inputs: list[InputFile]
    target: str
    options: dict[str, Any]
    output_dir: Path
    limits: dict[str, Any] = field(default_factory=dict)


ProgressFn = Callable[[float, str], None]


class Converter(ABC):
    """One engine family. ``convert`` runs in a worker process, never on the event loop."""

    @abstractmethod
    def capabilities(self) -> Capabilities: ...

    @abstractmethod
    def convert(self, task: ConversionTask, progress: ProgressFn) -> list[OutputFile]:
        """Reads ``task.inputs``, writes outputs under ``task.output_dir``. Raises
        InvalidInput for files it cannot or will not process."""
