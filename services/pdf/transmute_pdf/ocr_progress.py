"""An OCRmyPDF plugin that turns its progress bars into the job's progress: OCRmyPDF
runs one job at a time in a worker process, so the reporter is this module's."""

from __future__ import annotations

from types import TracebackType
from typing import Any

from ocrmypdf import hookimpl

from transmute_common.converter import ProgressFn

_report: ProgressFn | None = None
# Where each of OCRmyPDF's steps sits in the job (the OCR of pages takes most of it).
_STEPS = {"Scanning contents": (0.05, 0.1), "OCR": (0.1, 0.9)}


def report_to(progress: ProgressFn | None) -> None:
    global _report
    _report = progress


class JobProgress:
    def __init__(self, *, total: float | None = None, desc: str | None = None, **_: Any):
        self.total = total or 0
        self.desc = desc or ""
        self.done = 0.0

    def __enter__(self) -> JobProgress:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    def update(self, n: float = 1, *, completed: float | None = None) -> None:
        self.done = completed if completed is not None else self.done + n
        start, end = _STEPS.get(self.desc, (0.9, 0.98))
        if _report is not None and self.total:
            share = min(self.done / self.total, 1.0)
            _report(start + (end - start) * share, self.desc.lower() or "ocr")


@hookimpl
def get_progressbar_class() -> type[JobProgress]:
    return JobProgress
