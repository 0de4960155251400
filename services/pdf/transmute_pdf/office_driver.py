"""Drives one headless LibreOffice over its UNO pipe; run by LibreOffice's own Python
(the one with the ``uno`` module), never imported by the service.

Usage: ``python3 office_driver.py PIPE_NAME -- SOFFICE_COMMAND...``. Starts the command
(which must accept ``pipe,name=PIPE_NAME``), connects, prints ``{"ready": true}``, then
answers one JSON line per JSON request line on stdin:
``{"input": path, "filter": import filter, "output": path}``
-> ``{"ok": true, "pages": n}`` or ``{"ok": false, "code": ..., "error": ...}``. Ends,
and ends LibreOffice, when stdin closes."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time

import uno
from com.sun.star.beans import PropertyValue
from com.sun.star.connection import NoConnectException
from com.sun.star.lang import DisposedException

CONNECT_SECONDS = 60
# Which PDF export filter writes each kind of document LibreOffice opened.
EXPORT_FILTERS = [
    ("com.sun.star.text.WebDocument", "writer_web_pdf_Export"),
    ("com.sun.star.text.TextDocument", "writer_pdf_Export"),
    ("com.sun.star.sheet.SpreadsheetDocument", "calc_pdf_Export"),
    ("com.sun.star.presentation.PresentationDocument", "impress_pdf_Export"),
    ("com.sun.star.drawing.DrawingDocument", "draw_pdf_Export"),
]
NEVER_EXECUTE = 0  # com.sun.star.document.MacroExecMode.NEVER_EXECUTE
NO_UPDATE = 0  # com.sun.star.document.UpdateDocMode.NO_UPDATE


def prop(name: str, value: object) -> PropertyValue:
    return PropertyValue(Name=name, Value=value)


def connect(pipe: str, office: subprocess.Popen[bytes]) -> object:
    local = uno.getComponentContext()
    resolver = local.ServiceManager.createInstanceWithContext(
        "com.sun.star.bridge.UnoUrlResolver", local
    )
    deadline = time.monotonic() + CONNECT_SECONDS
    while True:
        try:
            return resolver.resolve(f"uno:pipe,name={pipe};urp;StarOffice.ComponentContext")
        except NoConnectException:
            if office.poll() is not None or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def convert(
    desktop: object, request: dict[str, str], office: subprocess.Popen[bytes]
) -> dict[str, object]:
    source = uno.systemPathToFileUrl(request["input"])
    loading = (
        prop("Hidden", True),
        prop("ReadOnly", True),
        prop("MacroExecutionMode", NEVER_EXECUTE),
        prop("UpdateDocMode", NO_UPDATE),
        prop("Silent", True),
        prop("FilterName", request["filter"]),
    )
    try:
        document = desktop.loadComponentFromURL(source, "_blank", 0, loading)  # type: ignore[attr-defined]
    except Exception as exc:  # UNO raises IOException, IllegalArgumentException...
        if isinstance(exc, DisposedException) or office.poll() is not None:
            raise  # LibreOffice is gone: so is this driver
        return {"ok": False, "code": "invalid_document", "error": type(exc).__name__}
    if document is None:
        return {"ok": False, "code": "invalid_document", "error": "not a document"}
    try:
        export = next((f for kind, f in EXPORT_FILTERS if document.supportsService(kind)), None)
        if export is None:
            return {"ok": False, "code": "unsupported_input", "error": "not a document"}
        target = uno.systemPathToFileUrl(request["output"])
        document.storeToURL(target, (prop("FilterName", export), prop("Overwrite", True)))
        return {"ok": True}
    except Exception as exc:
        if isinstance(exc, DisposedException) or office.poll() is not None:
            raise
        return {"ok": False, "code": "engine_failure", "error": type(exc).__name__}
    finally:
        with contextlib.suppress(Exception):
            document.close(True)


def main() -> int:
    pipe, separator, *command = sys.argv[1:]
    assert separator == "--", "usage: office_driver.py PIPE -- SOFFICE..."
    office = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=sys.stderr)
    desktop = None
    try:
        context = connect(pipe, office)
        desktop = context.ServiceManager.createInstanceWithContext(  # type: ignore[attr-defined]
            "com.sun.star.frame.Desktop", context
        )
        print(json.dumps({"ready": True}), flush=True)
        for line in sys.stdin:
            print(json.dumps(convert(desktop, json.loads(line), office)), flush=True)
        return 0
    finally:
        # LibreOffice quits by itself when asked; whoever started this process kills
        # its process group (LibreOffice included) when it cannot wait for that.
        try:
            if desktop is not None:
                desktop.terminate()
            office.wait(timeout=10)
        except Exception:
            office.kill()


if __name__ == "__main__":
    sys.exit(main())
