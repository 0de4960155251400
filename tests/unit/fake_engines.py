"""Small engines with known behaviour, for the worker pool tests."""

from __future__ import annotations

import os
import time

from transmute_common.converter import (
    Capabilities,
    ConversionTask,
    Converter,
    OutputFile,
    ProgressFn,
)
from transmute_common.errors import InvalidInput


class Fake(Converter):
    def capabilities(self) -> Capabilities:
        return Capabilities(service="fake", conversions=[], options=[])

    def convert(self, task: ConversionTask, progress: ProgressFn) -> list[OutputFile]:
        mode = task.options["mode"]
        if mode == "ok":
            for step in range(1, 4):
                progress(step / 3, f"step {step}")
            out = task.output_dir / "out.txt"
            out.write_text(f"pid {os.getpid()}")
            return [OutputFile(out, "out.txt", "text/plain")]
        if mode == "crash":
            os._exit(3)
        if mode == "slow":
            time.sleep(30)
        if mode == "invalid":
            raise InvalidInput("not an image", code="invalid_image")
        if mode == "hog":
            bytearray(1 << 33)  # 8 GiB: over the worker's address-space limit
        raise ValueError("engine bug")
