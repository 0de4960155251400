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

    @property
    def source(self) -> InputFile:
        return self.inputs[0]

    @contextmanager
    def open(self, index: int = 0) -> Iterator[pikepdf.Pdf]:
        with open_pdf(
            self.inputs[index].path, self.options.password, self.settings.max_pages
        ) as pdf:
            yield pdf

    def output(self, name: str) -> Path:
        return self.out_dir / name
