"""PDFs built to hurt a parser: each ends as a clear code or a sound result, fast,
whatever operation is asked of it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests import documents
from tests.unit.test_pdf_engine import run
from transmute_common.errors import InvalidInput

# Every engine the service drives reads the document through the same checked open.
OPERATIONS = [
    ("compress", "pdf", {"level": "strong"}),
    ("sanitize", "pdf", {}),
    ("to_images", "png", {}),
    ("to_text", "txt", {}),
    ("ocr", "pdf", {}),
    ("to_docx", "docx", {}),
]

BROKEN: dict[str, tuple[Callable[[Path], Path], str, str]] = {
    "cyclic page tree": (documents.cyclic_pdf, "invalid_pdf", "Loop detected"),
    "5000-deep page tree": (documents.deep_tree_pdf, "invalid_pdf", "too deeply nested"),
    "100 000 pages": (documents.many_pages_pdf, "page_limit", "100000 pages"),
}


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    work = tmp_path_factory.mktemp("hostile")
    made = {
        name: make(work / f"{n}.pdf") for n, (name, (make, _c, _m)) in enumerate(BROKEN.items())
    }
    made["deep array"] = documents.deep_array_pdf(work / "deep-array.pdf")
    return made


@pytest.mark.parametrize("name", list(BROKEN))
@pytest.mark.parametrize(
    ("operation", "target", "options"), OPERATIONS, ids=[o[0] for o in OPERATIONS]
)
def test_a_broken_structure_is_refused_with_a_code(
    hostile: dict[str, Path],
    name: str,
    operation: str,
    target: str,
    options: dict[str, Any],
    tmp_path: Path,
) -> None:
    _make, code, reason = BROKEN[name]
    with pytest.raises(InvalidInput) as exc:
        run(operation, [hostile[name]], tmp_path, target=target, **options)
    assert exc.value.code == code
    assert reason in str(exc.value)


def test_an_array_nested_100_000_deep_is_dropped_and_the_page_kept(
    hostile: dict[str, Path], tmp_path: Path
) -> None:
    [cleaned] = run("sanitize", [hostile["deep array"]], tmp_path)
    assert cleaned.details["pages"] == 1
    [image] = run("to_images", [hostile["deep array"]], tmp_path, target="png")
    assert image.details["page"] == 1
    [smaller] = run("compress", [hostile["deep array"]], tmp_path, level="strong")
    assert smaller.path.stat().st_size < hostile["deep array"].stat().st_size
