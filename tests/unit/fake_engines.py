"""Small engines with known behaviour, for the worker pool tests."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from transmute_common.converter import (
    Capabilities,
    Conversion,
    ConversionTask,
    Converter,
    OutputFile,
    ProgressFn,
)
from transmute_common.errors import InvalidInput

DECLARED = Capabilities(
    service="fake",
    conversions=[Conversion(operation="convert", inputs=["txt", "bin"], outputs=["txt", "bin"])],
    options=[],
)


class Fake(Converter):
    def available(self, declared: Capabilities) -> Capabilities:
        # Like an engine missing a codec: "bin" output is not offered here.
        return declared.without(set(), set(self.settings.get("lacking", [])))

    def convert(self, task: ConversionTask, progress: ProgressFn) -> list[OutputFile]:
        mode = task.options["mode"]
        if mode == "ok":
            for step in range(1, 4):
                progress(step / 3, f"step {step}", rate=2.0 * step, eta_seconds=3.0 - step)
            out = task.output_dir / "out.txt"
            out.write_text(f"pid {os.getpid()}")
            return [OutputFile(out, "out.txt", "text/plain")]
        if mode == "spawn":
            # Like an engine running FFmpeg: a busy child process, then waiting for it.
            child = subprocess.Popen([sys.executable, "-c", "while True: pass"])
            (task.output_dir / "child.pid").write_text(str(child.pid))
            child.wait()
        if mode == "environ":
            out = task.output_dir / "environ.txt"
            child = subprocess.run(["cat", "/proc/self/environ"], capture_output=True, check=True)
            out.write_bytes(Path("/proc/self/environ").read_bytes() + b"\n" + child.stdout)
            return [OutputFile(out, "environ.txt", "text/plain")]
        if mode == "write":
            with open(task.output_dir / "big.bin", "wb") as f:
                for _ in range(int(task.options["mib"])):
                    f.write(b"\0" * 1024 * 1024)
            raise AssertionError("the write was not cut")
        if mode == "seek":
            with open(task.output_dir / "sparse.bin", "wb") as f:
                f.seek(10 * 1024**3)  # 10 GB, without using the disk
                f.write(b"x")
            raise AssertionError("the write was not cut")
        if mode == "spin":
            while True:
                pass
        if mode == "spawn-and-crash":
            child = subprocess.Popen([sys.executable, "-c", "while True: pass"])
            (task.output_dir / "child.pid").write_text(str(child.pid))
            time.sleep(0.5)
            os._exit(3)
        if mode == "crash":
            os._exit(3)
        if mode == "slow":
            time.sleep(30)
        if mode == "invalid":
            raise InvalidInput("not an image", code="invalid_image")
        if mode == "hog":
            bytearray(1 << 33)  # 8 GiB: over the worker's address-space limit
        raise ValueError("engine bug")


def broken(settings: dict) -> Converter:
    """An engine whose library is missing on this machine."""
    raise ImportError("libfoo.so.1: cannot open shared object file")
