"""Removes what makes a PDF act rather than show: scripts, actions that run on open or
on events, launches of programs, embedded files and XFA forms. The result says what
was removed."""

from __future__ import annotations

from collections import Counter

import pikepdf
from pikepdf import Name

from transmute_common.converter import OutputFile
from transmute_pdf.document import pdf_output, save
from transmute_pdf.edit import strip_metadata
from transmute_pdf.task import PdfTask

# Actions that run code, start programs, send or fetch data, or open other files.
ACTIVE = {"/JavaScript", "/Launch", "/SubmitForm", "/ImportData", "/GoToR", "/GoToE",
          "/Rendition", "/Sound", "/Movie", "/ResetForm"}  # fmt: skip


def sanitize(task: PdfTask) -> list[OutputFile]:
    out = task.output("sanitized.pdf")
    with task.open() as pdf:
        removed = clean(pdf)
        if task.options.metadata == "strip":
            strip_metadata(pdf)
        pdf.remove_unreferenced_resources()
        save(pdf, out)
        return [pdf_output(out, pages=len(pdf.pages), removed=dict(sorted(removed.items())))]


def clean(pdf: pikepdf.Pdf) -> Counter[str]:
    removed: Counter[str] = Counter()
    root = pdf.Root
    if "/OpenAction" in root:
        del root.OpenAction
        removed["open_action"] += 1
    names = root.get("/Names")
    if isinstance(names, pikepdf.Dictionary):
        for key, label in (("/JavaScript", "javascript"), ("/EmbeddedFiles", "embedded_files")):
            if key in names:
                del names[key]
                removed[label] += 1
    form = root.get("/AcroForm")
    if isinstance(form, pikepdf.Dictionary) and "/XFA" in form:
        del form.XFA
        removed["xfa"] += 1
    for page in pdf.pages:
        annots = page.obj.get("/Annots")
        if isinstance(annots, pikepdf.Array):
            kept = [a for a in annots if not _is_attachment(a)]
            if len(kept) < len(annots):
                removed["file_attachments"] += len(annots) - len(kept)
                page.obj.Annots = pikepdf.Array(kept)
    # Additional actions (/AA) and active /A actions anywhere: pages, annotations,
    # form fields, outline items.
    for obj in pdf.objects:
        if not isinstance(obj, pikepdf.Dictionary):
            continue
        if "/AA" in obj:
            del obj.AA
            removed["additional_actions"] += 1
        action = obj.get("/A")
        if isinstance(action, pikepdf.Dictionary) and str(action.get("/S", "")) in ACTIVE:
            del obj.A
            removed[_label(action)] += 1
        if str(obj.get("/S", "")) in ACTIVE and "/Next" in obj:
            del obj.Next  # a chain of actions continued from a harmless one
            removed["action_chains"] += 1
    return removed


def _is_attachment(annot: object) -> bool:
    return isinstance(annot, pikepdf.Dictionary) and annot.get("/Subtype") == Name.FileAttachment


def _label(action: pikepdf.Dictionary) -> str:
    kind = str(action.get("/S", ""))[1:]
    return {"JavaScript": "javascript", "Launch": "launch"}.get(kind, "actions")
