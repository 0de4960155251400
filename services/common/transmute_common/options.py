"""What every engine does with its options: declares them for /v1/formats and
parses what a job gives into its own validated model."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ValidationError

from transmute_common.converter import OptionSpec
from transmute_common.errors import InvalidArgument, InvalidInput
from transmute_common.formats import format_of

Model = TypeVar("Model", bound=BaseModel)
SNIFF_BYTES = 8192


def option(
    name: str,
    type_: Literal["integer", "number", "boolean", "string"],
    description: str,
    **kw: Any,
) -> OptionSpec:
    return OptionSpec(name=name, type=type_, description=description, **kw)


def parse_options(model: type[Model], options: dict[str, Any]) -> Model:
    """``options`` validated by ``model``; the first problem as ``invalid_options``."""
    try:
        return model.model_validate(options)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"])
        message = f"invalid option {where}: {error['msg']}" if where else error["msg"]
        raise InvalidArgument(message, code="invalid_options") from None


def require_format(path: Path, fmt: str, sniff: Callable[[bytes], str | None], kind: str) -> bytes:
    """The file's first bytes, once they show it still is ``fmt`` (the format the job
    was accepted as): what an engine checks before its parser sees the file."""
    with path.open("rb") as f:
        head = f.read(SNIFF_BYTES)
    found = sniff(head)
    named = format_of(found) if found else None
    if named is None or named.name != fmt:
        raise InvalidInput(f"the file is not {fmt} {kind}", code="unsupported_input")
    return head
