"""Headless Chromium (the Debian package `make test` installs) driven by Playwright,
for the web app's tests and its first-load benchmark."""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.servers import missing

CHROMIUM = Path("/usr/bin/chromium")  # where Debian's chromium package puts it
# What the page shows waits on the mesh (uploads, conversions), not only on the browser:
# a busy machine gets more than Playwright's default 5 s.
expect.set_options(timeout=20_000)
SCREENSHOTS: list[Path] = []  # named at the end of the run (tests/e2e/conftest.py)


@contextmanager
def chromium() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        missing(f"Chromium is not installed at {CHROMIUM} (make test installs the package)")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield browser
        finally:
            browser.close()


def open_app(page: Page, url: str) -> Page:
    page.goto(url)
    page.wait_for_selector("body[data-ready=true]")
    return page


def drop_files(page: Page, selector: str, files: list[tuple[str, str, bytes]]) -> None:
    """Drops files (name, type, bytes) on an element as a person dragging them would."""
    payload = [{"name": n, "type": t, "b64": base64.b64encode(d).decode()} for n, t, d in files]
    transfer = page.evaluate_handle(
        """(files) => {
            const dt = new DataTransfer();
            for (const f of files) {
                const bytes = Uint8Array.from(atob(f.b64), (c) => c.charCodeAt(0));
                dt.items.add(new File([bytes], f.name, { type: f.type }));
            }
            return dt;
        }""",
        payload,
    )
    for event in ("dragenter", "dragover", "drop"):
        page.dispatch_event(selector, event, {"dataTransfer": transfer})


@dataclass
class Shots:
    """Screenshots of each state, in a temporary folder, listed in the test output."""

    folder: Path
    taken: list[Path] = field(default_factory=list)

    def __call__(self, page: Page, name: str) -> Path:
        path = self.folder / f"{len(SCREENSHOTS) + 1:02d}-{re.sub(r'[^a-z0-9-]+', '-', name)}.png"
        page.screenshot(path=str(path), full_page=True)
        SCREENSHOTS.append(path)
        self.taken.append(path)
        return path


def card(page: Page, name: str):  # type: ignore[no-untyped-def]
    """The card of a dropped file, by its name."""
    return page.locator("li.card", has=page.get_by_role("heading", name=name, exact=True))


@dataclass(frozen=True)
class FirstLoad:
    transferred: int  # bytes over the wire (compressed), the page and all it fetched
    interactive_ms: float  # navigation start to the app's ready mark (formats loaded)
    origins: frozenset[str]


def first_load(browser: Browser, url: str) -> FirstLoad:
    """A first visit: a fresh browser context, so nothing comes from a cache."""
    context = browser.new_context()
    try:
        page = context.new_page()
        origins: set[str] = set()
        page.on("request", lambda r: origins.add(r.url.split("/")[2]))
        open_app(page, url)
        transferred, ready = page.evaluate(
            """() => [[...performance.getEntriesByType('navigation'),
                       ...performance.getEntriesByType('resource')]
                      .reduce((n, e) => n + e.transferSize, 0),
                      performance.getEntriesByName('transmute-ready')[0].startTime]"""
        )
        return FirstLoad(int(transferred), float(ready), frozenset(origins))
    finally:
        context.close()


def poll(page: Page, predicate: str, timeout: float) -> None:
    """Waits for a JS predicate. Not page.wait_for_function: its polling evaluates the
    predicate as a string, which the app's Content-Security-Policy (no eval) forbids."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(predicate):
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s: {predicate}")
        page.wait_for_timeout(100)
