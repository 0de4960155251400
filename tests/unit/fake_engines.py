"""Small engines with known behaviour, for the worker pool tests."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from transmute_common.confined import ProgramRunner
from transmute_common.converter import (
    Capabilities,
    Conversion,
    ConversionTask,
    Converter,
    OutputFile,
    ProgramConverter,
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
        if mode == "garbage":
            # 300 MB of heap chunks (under glibc's mmap threshold) kept by a cycle: what
            # a mesh library leaves behind, resident until collected and trimmed.
            chunks: list[Any] = [bytearray(100_000) for _ in range(3000)]
            chunks.append(chunks)
            out = task.output_dir / "pid.txt"
            out.write_text(str(os.getpid()))
            return [OutputFile(out, "pid.txt", "text/plain")]
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


class FakePrograms(ProgramConverter):
    """A ProgramConverter whose programs are shell tools with known behaviour."""

    SCRIPTS = {
        "ok": ["sh", "-c", "echo step=1; echo step=2; echo pid $$ > out/out.txt"],
        "group": ["sh", "-c", "sleep 60 & echo child=$!; sleep 60"],
        "cpu": ["sh", "-c", "while :; do :; done"],
        # Like FFmpeg, which stops cleanly on SIGXCPU and exits with an error status.
        "cpu_trapped": ["sh", "-c", "trap 'exit 1' XCPU; while :; do :; done"],
        "big": ["dd", "if=/dev/zero", "of=out/big.bin", "bs=1M", "count=4", "status=none"],
        "env": ["sh", "-c", "env > out/env.txt; pwd >> out/env.txt"],
        "fails": ["sh", "-c", "echo broken >&2; exit 3"],
    }

    def __init__(self, settings: dict[str, Any] | None = None) -> None:
        super().__init__(settings)
        self.lines: list[str] = []

    async def available(self, declared: Capabilities, programs: ProgramRunner) -> Capabilities:
        done = await programs.run(["sh", "-c", "echo bin"], self.lines.append)
        assert done.returncode == 0
        return declared.without(set(), set(self.lines))

    async def convert(
        self, task: ConversionTask, progress: ProgressFn, programs: ProgramRunner
    ) -> list[OutputFile]:
        mode = task.options["mode"]
        if mode == "bug":
            raise ValueError("an engine bug")

        def on_line(line: str) -> None:
            key, _, value = line.partition("=")
            if key == "step":
                progress(int(value) / 2, f"step {value}")
            elif key == "child":
                (task.output_dir / "child.pid").write_text(value)

        done = await programs.run(self.SCRIPTS[mode], on_line)
        if done.returncode != 0:
            raise InvalidInput(f"failed: {done.log.strip()}", code="fake_failed")
        out = next(task.output_dir.iterdir())
        return [OutputFile(out, out.name, "text/plain")]
