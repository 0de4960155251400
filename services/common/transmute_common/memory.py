"""Keeps a long-running service's resident memory near what it really holds.

glibc raises its mmap threshold each time a large buffer is freed, after which 1 MiB
copy buffers come from the heap and stay resident once freed; a fixed threshold keeps
every large buffer in a mapping of its own, returned to the system when freed. After
start-up, the garbage of imports and settings validation is collected and the free
heap handed back."""

from __future__ import annotations

import ctypes
import ctypes.util
import gc

M_MMAP_THRESHOLD = -3  # mallopt parameter (malloc.h)
MMAP_THRESHOLD = 256 * 1024


def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        libc.mallopt  # noqa: B018 - glibc only (not musl)
        libc.malloc_trim  # noqa: B018
    except (OSError, AttributeError, TypeError):
        return None
    return libc


def settle_after_start() -> None:
    """Called once a service has started."""
    gc.collect()
    gc.freeze()  # what start-up built lives as long as the process: never scanned again
    libc = _libc()
    if libc is not None:
        libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
        libc.malloc_trim(0)
