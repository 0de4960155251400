"""A settled service hands freed copy buffers back to the system."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import sys
from transmute_common.memory import settle_after_start

def rss_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024

if sys.argv[1] == "settled":
    settle_after_start()
big = bytearray(8 << 20)  # freeing a large buffer raises glibc's own threshold...
del big
before = rss_mb()
buffers, kept = [], []
for i in range(64):
    buffers.append(bytearray(1 << 20))  # ...so 1 MiB buffers come from the heap,
    kept.append(bytes(1000 + i))  # between small blocks that stay
del buffers
print(rss_mb() - before)
"""


def grown_mb(mode: str) -> float:
    run = subprocess.run(
        [sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, check=True
    )
    return float(run.stdout)


def test_freed_buffers_leave_no_resident_memory_behind() -> None:
    assert grown_mb("default") > 32  # what happens without it: the heap keeps them
    assert grown_mb("settled") < 4
