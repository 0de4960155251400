"""Test PDFs and page images, generated on the fly with pikepdf, img2pdf and Pillow
(nothing binary is committed for these)."""

from __future__ import annotations

import io
import random
import subprocess
import zipfile
from pathlib import Path

import img2pdf
import pikepdf
from pikepdf import Array, Dictionary, Name, String
from PIL import Image, ImageDraw, ImageFont

LETTER = (612, 792)


def text_pdf(path: Path, texts: list[str], **save: object) -> Path:
    """One page per text, set in Helvetica (words of letters and digits only)."""
    pdf = pikepdf.Pdf.new()
    font = pdf.make_indirect(
        Dictionary(Type=Name.Font, Subtype=Name.Type1, BaseFont=Name.Helvetica)
    )
    for text in texts:
        page = pdf.add_blank_page(page_size=LETTER)
        page.obj.Resources = Dictionary(Font=Dictionary(F1=font))
        page.obj.Contents = pdf.make_stream(f"BT /F1 24 Tf 72 700 Td ({text}) Tj ET".encode())
    pdf.save(path, **save)  # type: ignore[arg-type]
    return path


def photo(width: int, height: int, seed: int = 1) -> Image.Image:
    """A photo-like picture: smooth colour fields with grain, which JPEG compresses
    as it would a scan or a photograph."""
    rng = random.Random(seed)
    small = Image.new("RGB", (16, 16))
    small.putdata([tuple(rng.randrange(256) for _ in range(3)) for _ in range(256)])
    base = small.resize((width, height), Image.Resampling.BICUBIC)
    grain = Image.effect_noise((width, height), 24).convert("RGB")
    return Image.blend(base, grain, 0.15)


def jpeg_bytes(image: Image.Image, quality: int = 95) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def image_pdf(path: Path, pages: int, width: int = 2400, height: int = 3100) -> Path:
    """Scanned-looking pages: one 300 DPI letter-size photo per page."""
    layout = img2pdf.get_layout_fun((img2pdf.in_to_pt(8.5), img2pdf.in_to_pt(11)))
    images = [jpeg_bytes(photo(width, height, seed=n)) for n in range(pages)]
    path.write_bytes(img2pdf.convert(images, layout_fun=layout))
    return path


def active_pdf(path: Path) -> Path:
    """A PDF that acts: JavaScript on open, a Launch action on a link, page and
    document additional actions, an embedded file and an attachment annotation."""
    text_pdf(path, ["Hello", "World"])
    pdf = pikepdf.open(path, allow_overwriting_input=True)
    js = pdf.make_indirect(Dictionary(S=Name.JavaScript, JS=String("app.alert('hi')")))
    pdf.Root.OpenAction = js
    pdf.Root.AA = Dictionary(WC=Dictionary(S=Name.JavaScript, JS=String("1")))
    embedded = pdf.make_stream(b"MZ not really a program")
    spec = Dictionary(Type=Name.Filespec, F=String("run.exe"), EF=Dictionary(F=embedded))
    pdf.Root.Names = Dictionary(
        JavaScript=Dictionary(Names=Array([String("a"), js])),
        EmbeddedFiles=Dictionary(Names=Array([String("run.exe"), spec])),
    )
    launch = Dictionary(
        Type=Name.Annot,
        Subtype=Name.Link,
        Rect=Array([0, 0, 100, 100]),
        A=Dictionary(S=Name.Launch, F=String("calc.exe")),
    )
    attachment = Dictionary(
        Type=Name.Annot, Subtype=Name.FileAttachment, Rect=Array([0, 0, 10, 10]), FS=spec
    )
    page = pdf.pages[0].obj
    page.Annots = Array([pdf.make_indirect(launch), pdf.make_indirect(attachment)])
    page.AA = Dictionary(O=Dictionary(S=Name.JavaScript, JS=String("2")))
    pdf.save(path)
    return path


def raw_pdf(path: Path, objects: list[bytes]) -> Path:
    """A PDF written byte by byte (object 1 is the catalog), for structures no PDF
    library would write: cycles, absurd depth, absurd page counts."""
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%b\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    path.write_bytes(bytes(out))
    return path


CATALOG = b"<< /Type /Catalog /Pages 2 0 R >>"
LEAF = b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 100 100] >>"


def cyclic_pdf(path: Path) -> Path:
    """The page tree lists itself among its kids."""
    kids = b"<< /Type /Pages /Kids [3 0 R 2 0 R] /Count 2 >>"
    return raw_pdf(path, [CATALOG, kids, LEAF % 2])


def deep_tree_pdf(path: Path, depth: int = 5000) -> Path:
    """One page under ``depth`` levels of page tree nodes."""
    nodes = [
        b"<< /Type /Pages %b/Kids [%d 0 R] /Count 1 >>"
        % (b"/Parent %d 0 R " % (n - 1) if n > 2 else b"", n + 1)
        for n in range(2, depth + 2)
    ]
    return raw_pdf(path, [CATALOG, *nodes, LEAF % (depth + 1)])


def deep_array_pdf(path: Path, depth: int = 100_000) -> Path:
    """A sound one-page document that also carries an array nested ``depth`` deep."""
    nested = b"[" * depth + b"]" * depth
    catalog = b"<< /Type /Catalog /Pages 2 0 R /Extra 4 0 R >>"
    kids = b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>"
    return raw_pdf(path, [catalog, kids, LEAF % 2, b"<< /A %b >>" % nested])


def many_pages_pdf(path: Path, count: int = 100_000) -> Path:
    """``count`` empty pages in an 8 MB file."""
    kids = b" ".join(b"%d 0 R" % (n + 3) for n in range(count))
    root = b"<< /Type /Pages /Kids [%b] /Count %d /MediaBox [0 0 10 10] >>" % (kids, count)
    return raw_pdf(path, [CATALOG, root, *[b"<< /Type /Page /Parent 2 0 R >>"] * count])


def encrypted_pdf(path: Path, password: str, texts: list[str] | None = None) -> Path:
    return text_pdf(
        path,
        texts or ["Secret"],
        encryption=pikepdf.Encryption(user=password, owner=password, R=6),
    )


# Office documents, written by LibreOffice itself (the Debian package `make` installs)
# from small sources made here: HTML for the text formats, CSV for the spreadsheets and
# a flat ODF presentation of two slides.
SOFFICE = "/usr/bin/soffice"
OFFICE_HTML = (
    "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Report</title></head>"
    "<body><h1>Quarterly report</h1><p>Alpha bravo charlie delta.</p></body></html>"
)
OFFICE_CSV = "fruit,count\napple,3\npear,5\n"
OFFICE_SLIDES = """<?xml version="1.0" encoding="UTF-8"?>
<office:document xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"
 xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0"
 xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"
 xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0" office:version="1.2"
 office:mimetype="application/vnd.oasis.opendocument.presentation">
<office:body><office:presentation>{}</office:presentation></office:body></office:document>
"""
OFFICE_SLIDE = (
    '<draw:page draw:name="s{0}"><draw:frame svg:x="2cm" svg:y="2cm" svg:width="20cm" '
    'svg:height="3cm"><draw:text-box><text:p>Slide {0} words</text:p></draw:text-box>'
    "</draw:frame></draw:page>"
)
# What each format is written from, and the LibreOffice filter that writes it.
OFFICE_SOURCES = {
    "docx": ("report.html", "docx:MS Word 2007 XML"),
    "doc": ("report.html", "doc:MS Word 97"),
    "odt": ("report.html", "odt:writer8"),
    "rtf": ("report.html", "rtf:Rich Text Format"),
    "xlsx": ("fruit.csv", "xlsx"),
    "ods": ("fruit.csv", "ods"),
    "pptx": ("slides.fodp", "pptx"),
    "odp": ("slides.fodp", "odp"),
}


def office_documents(work: Path) -> dict[str, Path]:
    """One small document per office format LibreOffice reads, and the HTML itself."""
    work.mkdir(parents=True, exist_ok=True)
    (work / "report.html").write_text(OFFICE_HTML)
    (work / "fruit.csv").write_text(OFFICE_CSV)
    (work / "slides.fodp").write_text(
        OFFICE_SLIDES.format(OFFICE_SLIDE.format(1) + OFFICE_SLIDE.format(2))
    )
    profile = (work / "profile").as_uri()
    made = {"html": work / "report.html"}
    for fmt, (source, to) in OFFICE_SOURCES.items():
        out = work / fmt
        subprocess.run(
            [SOFFICE, f"-env:UserInstallation={profile}", "--headless", "--convert-to", to,
             "--outdir", str(out), str(work / source)],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        [made[fmt]] = out.iterdir()
    return made


def scanned_text_pdf(path: Path, lines: list[str], angle: float = 0.0) -> Path:
    """One page that is only a picture of ``lines`` of text (as a scanner makes it, at
    200 DPI, tilted by ``angle`` degrees): no text layer until OCR adds one."""
    page = Image.new("L", (1700, 2200), 255)
    draw = ImageDraw.Draw(page)
    font = ImageFont.load_default(size=60)
    for i, line in enumerate(lines):
        draw.text((150, 200 + i * 120), line, fill=0, font=font)
    if angle:
        page = page.rotate(angle, fillcolor=255, expand=False)
    buf = io.BytesIO()
    page.save(buf, "PNG", dpi=(200, 200))
    path.write_bytes(img2pdf.convert(buf.getvalue()))
    return path


def prose_pdf(path: Path, pages: list[str], size: int = 10) -> Path:
    """One page per text, set in Helvetica at ``size`` points and wrapped to the page
    width (about 90 characters a line), so a page holds a few paragraphs."""
    pdf = pikepdf.Pdf.new()
    font = pdf.make_indirect(
        Dictionary(Type=Name.Font, Subtype=Name.Type1, BaseFont=Name.Helvetica)
    )
    for text in pages:
        lines, line = [], ""
        for word in text.split():
            if line and len(line) + 1 + len(word) > 90:
                lines.append(line)
                line = word
            else:
                line = f"{line} {word}".strip()
        lines.append(line)
        body = " ".join(f"({ln}) Tj T*" for ln in lines)
        page = pdf.add_blank_page(page_size=LETTER)
        page.obj.Resources = Dictionary(Font=Dictionary(F1=font))
        stream = f"BT /F1 {size} Tf {size + 3} TL 50 740 Td {body} ET"
        page.obj.Contents = pdf.make_stream(stream.encode())
    pdf.save(path)
    return path


_ODF_SCRIPT = "urn:oasis:names:tc:opendocument:xmlns:script:1.0"
_LIBRARY_DTD = '<!DOCTYPE library:{0} PUBLIC "-//OpenOffice.org//DTD OfficeDocument 1.0//EN" "{1}">'


def macro_odt(path: Path, marker: Path) -> Path:
    """A text document whose Basic macro, bound to the document's load event, writes
    ``marker``: the shape LibreOffice itself saves for an OnLoad macro."""
    on_load = (
        "<office:scripts><office:event-listeners><script:event-listener "
        'script:language="ooo:script" script:event-name="dom:load" '
        'xlink:href="vnd.sun.star.script:Standard.Module1.Main?language=Basic&amp;'
        'location=document" xlink:type="simple"/></office:event-listeners></office:scripts>'
    )
    content = (
        '<?xml version="1.0" encoding="UTF-8"?><office:document-content '
        'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
        f'xmlns:script="{_ODF_SCRIPT}" xmlns:xlink="http://www.w3.org/1999/xlink" '
        f'xmlns:dom="http://www.w3.org/2001/xml-events" office:version="1.3">{on_load}'
        "<office:body><office:text><text:p>Macro carrier</text:p></office:text></office:body>"
        "</office:document-content>"
    )
    module = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<!DOCTYPE script:module PUBLIC "-//OpenOffice.org//DTD OfficeDocument 1.0//EN" '
        '"module.dtd"><script:module xmlns:script="http://openoffice.org/2000/script" '
        'script:name="Module1" script:language="StarBasic">Sub Main\n'
        f"  Open &quot;{marker}&quot; For Output As #1\n  Print #1, &quot;ran&quot;\n"
        "  Close #1\nEnd Sub\n</script:module>"
    )
    library = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        + _LIBRARY_DTD.format("library", "library.dtd")
        + '<library:library xmlns:library="http://openoffice.org/2000/library" '
        'library:name="Standard" library:readonly="false" library:passwordprotected="false">'
        '<library:element library:name="Module1"/></library:library>'
    )
    libraries = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        + _LIBRARY_DTD.format("libraries", "libraries.dtd")
        + '<library:libraries xmlns:library="http://openoffice.org/2000/library" '
        'xmlns:xlink="http://www.w3.org/1999/xlink"><library:library library:name="Standard" '
        'library:link="false"/></library:libraries>'
    )
    parts = {
        "content.xml": content,
        "Basic/script-lc.xml": libraries,
        "Basic/Standard/script-lb.xml": library,
        "Basic/Standard/Module1.xml": module,
    }
    entries = "".join(
        f'<manifest:file-entry manifest:full-path="{name}" manifest:media-type="text/xml"/>'
        for name in parts
    )
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest='
        '"urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.3">'
        '<manifest:file-entry manifest:full-path="/" '
        'manifest:media-type="application/vnd.oasis.opendocument.text"/>'
        f"{entries}</manifest:manifest>"
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as odt:
        odt.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.text")
        for name, text in {**parts, "META-INF/manifest.xml": manifest}.items():
            odt.writestr(name, text)
    return path
