"""What every PDF operation gets: its inputs, checked options, settings and progress."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pikepdf

from transmute_common.converter import InputFile, ProgressFn
from transmute_pdf.config import PdfSettings
from transmute_pdf.document import open_pdf
from transmute_pdf.options import PdfOptions


@dataclass
class PdfTask:
    inputs: list[InputFile]
    options: PdfOptions
    out_dir: Path
    settings: PdfSettings
    progress: ProgressFn
    # The outputs are read once by another converter (a handoff), not kept: the
    # engine writes them for speed rather than size.
    intermediate: bool = False

    @property
    def source(self) -> InputFile:
        return self.inputs[0]

    @contextmanager
    def open(self, index: int = 0) -> Iterator[pikepdf.Pdf]:
        with open_pdf(
            self.inputs[index].path, self.options.password, self.settings.max_pages
        ) as pdf:
            yield pdf

    @contextmanager
    def clear_source(self) -> Iterator[tuple[Path, int]]:
        """The first input as an engine that reads no encrypted PDF can take it (a
        decrypted copy when it is encrypted, removed afterwards) and its page count."""
        with self.open() as pdf:  # checks the page limit and the password
            pages = len(pdf.pages)
            if not pdf.is_encrypted:
                path = self.source.path
            else:
                path = self.out_dir.parent / "decrypted.pdf"
                pdf.save(path)
        try:
            yield path, pages
        finally:
            if path != self.source.path:
                path.unlink(missing_ok=True)

    def output(self, name: str) -> Path:
        return self.out_dir / name
