"""The web app's first load in headless Chromium against the local gateway: bytes
transferred (gzip) and time to interactive (the app's ready mark: formats loaded and
the drop zone live), each against its budget."""

from __future__ import annotations

import statistics

from bench.common import report
from scripts.mesh import Mesh
from tests.browser import chromium, first_load

BUDGET_BYTES = 300 * 1024
BUDGET_MS = 1000.0


def bench_webapp(mesh: Mesh, runs: int) -> None:
    with chromium() as browser:
        first_load(browser, mesh.url)  # the gateway's first answers warm its caches
        loads = [first_load(browser, mesh.url) for _ in range(runs)]
    size = statistics.median(x.transferred for x in loads)
    ready = statistics.median(x.interactive_ms for x in loads)
    report(f"(p) web app first load, transferred gzip ({runs} cold loads)", f"{size / 1024:.1f} KB")
    report("(p) ratio to the 300 KB budget", f"{size / BUDGET_BYTES:.2f}", "target < 1")
    report("(p) web app first load, time to interactive", f"{ready:.0f} ms")
    report("(p) ratio to the 1 s budget", f"{ready / BUDGET_MS:.2f}", "target < 1")
