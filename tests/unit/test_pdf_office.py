"""office_to_pdf with a real LibreOffice: every office format, linked content never
read, macros never run, archives checked before unpacking, instances recycled and
replaced after a crash."""

from __future__ import annotations

import base64
import os
import signal
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pikepdf
import pypdfium2 as pdfium
import pytest

from tests import documents, images
from transmute_common.converter import ConversionTask, InputFile
from transmute_common.errors import InvalidInput, TransmuteError
from transmute_pdf.engine import PdfConverter
from transmute_pdf.office import Office

EXPECTED_TEXT = {
    "docx": "Quarterly report",
    "doc": "Quarterly report",
    "odt": "Quarterly report",
    "rtf": "Quarterly report",
    "html": "Quarterly report",
    "xlsx": "apple",
    "ods": "apple",
    "pptx": "Slide 2 words",
    "odp": "Slide 2 words",
}


@pytest.fixture(scope="module")
def office_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return documents.office_documents(tmp_path_factory.mktemp("office"))


@pytest.fixture(scope="module")
def engine() -> Iterator[PdfConverter]:
    converter = PdfConverter({})
    yield converter
    converter.office.close()


def to_pdf(engine: PdfConverter, source: Path, fmt: str, work: Path) -> Path:
    out_dir = work / f"out-{len(list(work.iterdir()))}"
    out_dir.mkdir()
    task = ConversionTask(
        "office_to_pdf", [InputFile(source, source.name, fmt)], "pdf", {}, out_dir
    )
    [output] = engine.convert(task, lambda *_a, **_k: None)
    assert output.details["pages"] >= 1
    return output.path


def text(path: Path) -> str:
    doc = pdfium.PdfDocument(path)
    try:
        return " ".join(doc[i].get_textpage().get_text_bounded() for i in range(len(doc)))
    finally:
        doc.close()


def image_count(path: Path) -> int:
    with pikepdf.open(path) as pdf:
        return sum(len(page.get_images()) for page in pdf.pages)


def test_office_to_pdf_is_offered(engine: PdfConverter) -> None:
    from transmute_pdf.capabilities import CAPABILITIES

    offered = {c.operation for c in engine.available(CAPABILITIES).conversions}
    assert "office_to_pdf" in offered, engine.office.missing()


@pytest.mark.parametrize("fmt", sorted(EXPECTED_TEXT))
def test_every_office_format_becomes_a_pdf(
    engine: PdfConverter, office_files: dict[str, Path], fmt: str, tmp_path: Path
) -> None:
    pdf = to_pdf(engine, office_files[fmt], fmt, tmp_path)
    assert EXPECTED_TEXT[fmt] in text(pdf)
    if fmt in ("pptx", "odp"):
        assert len(pdfium.PdfDocument(pdf)) == 2  # one page per slide


def test_linked_files_are_never_read(
    engine: PdfConverter, office_files: dict[str, Path], tmp_path: Path
) -> None:
    secret = tmp_path / "secret.png"
    secret.write_bytes(images.png())
    # The same picture inline is drawn: the engine does embed images it is given.
    inline = tmp_path / "inline.html"
    data = base64.b64encode(images.png()).decode()
    inline.write_text(
        f"<!DOCTYPE html><html><body><p>x</p><img src='data:image/png;base64,{data}'></body></html>"
    )
    assert image_count(to_pdf(engine, inline, "html", tmp_path)) == 1
    html = tmp_path / "linked.html"
    html.write_text(
        f"<!DOCTYPE html><html><body><p>x</p><img src='file://{secret}'>"
        f"<img src='{secret}'><img src='http://127.0.0.1:9/remote.png'></body></html>"
    )
    assert image_count(to_pdf(engine, html, "html", tmp_path)) == 0
    # A DOCX whose picture is an external link to a local file.
    linked = _docx_with_external_picture(office_files["docx"], tmp_path, secret.as_uri())
    assert image_count(to_pdf(engine, linked, "docx", tmp_path)) == 0


def test_a_document_macro_never_runs(engine: PdfConverter, tmp_path: Path) -> None:
    # World-writable, so the marker could be written whichever user the office runs as.
    drop = tmp_path / "drop"
    drop.mkdir(mode=0o777)
    drop.chmod(0o777)
    marker = drop / "macro-ran"
    source = documents.macro_odt(tmp_path / "macro.odt", marker)
    pdf = to_pdf(engine, source, "odt", tmp_path)
    assert "Macro carrier" in text(pdf)
    assert not marker.exists()


def _docx_with_external_picture(source: Path, work: Path, target: str) -> Path:
    """The generated DOCX with its first paragraph showing a picture linked by URI."""
    picture = (
        '<w:r><w:drawing><wp:inline><wp:extent cx="914400" cy="914400"/><wp:docPr id="9" '
        'name="p"/><a:graphic xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main">'
        '<a:graphicData uri="http://schemas.openxmlformats.org/drawingml/2006/picture">'
        '<pic:pic xmlns:pic="http://schemas.openxmlformats.org/drawingml/2006/picture">'
        '<pic:nvPicPr><pic:cNvPr id="9" name="p"/><pic:cNvPicPr/></pic:nvPicPr>'
        '<pic:blipFill><a:blip r:link="rIdLinked"/></pic:blipFill><pic:spPr><a:xfrm>'
        '<a:off x="0" y="0"/><a:ext cx="914400" cy="914400"/></a:xfrm><a:prstGeom prst="rect"/>'
        "</pic:spPr></pic:pic></a:graphicData></a:graphic></wp:inline></w:drawing></w:r>"
    )
    relation = (
        '<Relationship Id="rIdLinked" Type="http://schemas.openxmlformats.org/officeDocument'
        f'/2006/relationships/image" Target="{target}" TargetMode="External"/></Relationships>'
    )
    out_path = work / "external.docx"
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(out_path, "w") as out:
        for entry in src.infolist():
            data = src.read(entry.filename)
            if entry.filename == "word/document.xml":
                text = data.decode()
                if "xmlns:wp=" not in text:
                    text = text.replace(
                        "<w:document ",
                        '<w:document xmlns:wp="http://schemas.openxmlformats.org/'
                        'drawingprocessingDrawing/2006/wordprocessingDrawing" ',
                        1,
                    )
                at = text.index("</w:p>")
                data = (text[:at] + picture + text[at:]).encode()
            elif entry.filename == "word/_rels/document.xml.rels":
                data = data.decode().replace("</Relationships>", relation).encode()
            out.writestr(entry, data)
    return out_path


def test_a_zip_bomb_named_docx_is_refused_before_unpacking(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.docx"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("word/document.xml", b"\0" * (4 * 1024 * 1024))
    assert bomb.stat().st_size < 64 * 1024
    converter = PdfConverter({"max_archive_bytes": 1024 * 1024})
    out = tmp_path / "out"
    out.mkdir()
    task = ConversionTask("office_to_pdf", [InputFile(bomb, bomb.name, "docx")], "pdf", {}, out)
    with pytest.raises(InvalidInput) as refused:
        converter.convert(task, lambda *_a, **_k: None)
    assert refused.value.code == "archive_too_large"
    assert converter.office.pid is None  # LibreOffice never saw it


def test_a_file_that_is_no_document_fails_with_a_code(engine: PdfConverter, tmp_path: Path) -> None:
    junk = tmp_path / "junk.doc"
    junk.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + os.urandom(4096))
    with pytest.raises(InvalidInput) as failed:
        to_pdf(engine, junk, "doc", tmp_path)
    assert failed.value.code == "invalid_document"


def test_instances_are_recycled_and_replaced_after_a_crash(
    office_files: dict[str, Path], tmp_path: Path
) -> None:
    office = Office("soffice", "/usr/bin/python3", recycle_after=2)
    try:
        for i in range(3):
            office.convert(office_files["odt"], "odt", tmp_path / f"r{i}.pdf")
        assert office.starts == 2  # the third document had a fresh instance
        assert office.profile is not None
        profile = str(office.profile).encode()
        for pid in _office_processes(profile):
            os.kill(pid, signal.SIGKILL)
        with pytest.raises(TransmuteError) as crashed:
            office.convert(office_files["odt"], "odt", tmp_path / "crash.pdf")
        assert crashed.value.code == "office_crashed"
        office.convert(office_files["odt"], "odt", tmp_path / "after.pdf")  # a new instance
        assert office.starts == 3 and "Quarterly" in text(tmp_path / "after.pdf")
        assert office.profile is not None
        profile = str(office.profile).encode()
        assert _office_processes(profile)
    finally:
        office.close()
    assert not _office_processes(profile), "closing leaves no LibreOffice behind"


def _office_processes(profile: bytes) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmdline = (proc / "cmdline").read_bytes()
            except OSError:
                continue
            if b"soffice.bin" in cmdline and profile in cmdline:
                found.append(int(proc.name))
    return found
