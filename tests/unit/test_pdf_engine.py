"""The PDF engine on generated documents, in this process (the service runs it in its
confined workers)."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import pikepdf
import pypdfium2 as pdfium
import pytest
from PIL import Image

from tests import documents
from transmute_common.converter import ConversionTask, InputFile, OutputFile
from transmute_common.errors import InvalidArgument, InvalidInput
from transmute_pdf import pages
from transmute_pdf.compress import ghostscript_command
from transmute_pdf.engine import PdfConverter

WORDS = ["Alpha", "Bravo", "Charlie", "Delta"]


def run(
    operation: str,
    sources: list[Path],
    work: Path,
    target: str = "pdf",
    settings: dict[str, Any] | None = None,
    **options: Any,
) -> list[OutputFile]:
    out_dir = work / f"out-{operation}-{len(list(work.iterdir()))}"
    out_dir.mkdir()
    seen: list[float] = []
    inputs = [InputFile(p, p.name, p.suffix.lstrip(".").replace("jpg", "jpeg")) for p in sources]
    task = ConversionTask(operation, inputs, target, options, out_dir)
    outputs = PdfConverter(settings).convert(task, lambda f, *_a, **_k: seen.append(f))
    assert seen and seen[-1] == 1.0
    return outputs


def text_of(path: Path) -> list[str]:
    doc = pdfium.PdfDocument(path)
    try:
        return [doc[i].get_textpage().get_text_bounded().strip() for i in range(len(doc))]
    finally:
        doc.close()


@pytest.fixture
def doc(tmp_path: Path) -> Path:
    return documents.text_pdf(tmp_path / "words.pdf", WORDS)


def test_page_ranges_follow_qpdf_syntax() -> None:
    assert pages.parse("1-3,5", 6) == [0, 1, 2, 4]
    assert pages.parse("z-1", 3) == [2, 1, 0]
    assert pages.parse("r2,8-", 9) == [7, 7, 8]
    assert pages.parse(None, 2) == [0, 1]
    with pytest.raises(InvalidArgument) as exc:
        pages.parse("4", 3)
    assert exc.value.code == "page_out_of_range"
    with pytest.raises(InvalidArgument) as exc:
        pages.parse("1;2", 3)
    assert exc.value.code == "invalid_pages"


def test_merge_keeps_the_order_of_the_inputs(tmp_path: Path) -> None:
    a = documents.text_pdf(tmp_path / "a.pdf", ["One", "Two"])
    b = documents.text_pdf(tmp_path / "b.pdf", ["Three"])
    (out,) = run("merge", [b, a, b], tmp_path)
    assert text_of(out.path) == ["Three", "One", "Two", "Three"]
    assert out.details == {"pages": 4, "documents": 3}


def test_split_gives_one_file_per_page_or_per_range(doc: Path, tmp_path: Path) -> None:
    singles = run("split", [doc], tmp_path)
    assert [o.name for o in singles] == [f"page-{i}.pdf" for i in range(1, 5)]
    assert [text_of(o.path) for o in singles] == [[w] for w in WORDS]
    ranges = run("split", [doc], tmp_path, pages="1-2,4")
    assert [o.name for o in ranges] == ["pages-1-2.pdf", "page-4.pdf"]
    assert text_of(ranges[0].path) == WORDS[:2]
    (bundled,) = run("split", [doc], tmp_path, pages="3,4", bundle=True)
    assert bundled.media_type == "application/zip" and bundled.extension == "zip"
    with zipfile.ZipFile(bundled.path) as z:
        assert z.namelist() == ["page-3.pdf", "page-4.pdf"]


def test_rotate_turns_only_the_pages_named(doc: Path, tmp_path: Path) -> None:
    (out,) = run("rotate", [doc], tmp_path, pages="2,z", angle=270)
    with pikepdf.open(out.path) as pdf:
        assert [int(p.obj.get("/Rotate", 0)) for p in pdf.pages] == [0, 270, 0, 270]


def test_reorder_and_delete(doc: Path, tmp_path: Path) -> None:
    (reversed_,) = run("reorder", [doc], tmp_path, order="z-1")
    assert text_of(reversed_.path) == WORDS[::-1]
    (picked,) = run("reorder", [doc], tmp_path, order="3,1")
    assert text_of(picked.path) == ["Charlie", "Alpha"]
    (fewer,) = run("delete", [doc], tmp_path, pages="2-3")
    assert text_of(fewer.path) == ["Alpha", "Delta"]
    with pytest.raises(InvalidArgument) as exc:
        run("delete", [doc], tmp_path, pages="1-z")
    assert exc.value.code == "no_pages_left"


def test_linearize(doc: Path, tmp_path: Path) -> None:
    (out,) = run("linearize", [doc], tmp_path)
    with pikepdf.open(out.path) as pdf:
        assert pdf.is_linearized
    assert text_of(out.path) == WORDS


def test_protect_and_unlock_with_aes_256(doc: Path, tmp_path: Path) -> None:
    (locked,) = run("protect", [doc], tmp_path, password="s3cret", owner_password="owner")
    with pytest.raises(pikepdf.PasswordError):
        pikepdf.open(locked.path)
    with pikepdf.open(locked.path, password="s3cret") as pdf:
        assert pdf.encryption.R == 6 and pdf.encryption.stream_method.name == "aesv3"
    with pytest.raises(InvalidInput) as exc:
        run("unlock", [locked.path], tmp_path)
    assert exc.value.code == "password_required"
    with pytest.raises(InvalidInput) as exc:
        run("unlock", [locked.path], tmp_path, password="wrong")
    assert exc.value.code == "password_incorrect"
    (opened,) = run("unlock", [locked.path], tmp_path, password="s3cret")
    with pikepdf.open(opened.path) as pdf:
        assert not pdf.is_encrypted
    assert text_of(opened.path) == WORDS
    with pytest.raises(InvalidArgument, match="needs a `password`"):
        run("protect", [doc], tmp_path)


def test_an_encrypted_input_stays_encrypted_when_edited(tmp_path: Path) -> None:
    locked = documents.encrypted_pdf(tmp_path / "locked.pdf", "pw", ["A", "B"])
    (out,) = run("rotate", [locked], tmp_path, password="pw")
    with pytest.raises(pikepdf.PasswordError):
        pikepdf.open(out.path)
    with pikepdf.open(out.path, password="pw") as pdf:
        assert int(pdf.pages[0].obj.Rotate) == 90


def test_sanitize_removes_what_acts_and_says_what(tmp_path: Path) -> None:
    src = documents.active_pdf(tmp_path / "active.pdf")
    (out,) = run("sanitize", [src], tmp_path)
    assert out.details["removed"] == {
        "additional_actions": 2,
        "embedded_files": 1,
        "file_attachments": 1,
        "javascript": 1,
        "launch": 1,
        "open_action": 1,
    }
    with pikepdf.open(out.path) as pdf:
        assert "/OpenAction" not in pdf.Root and "/AA" not in pdf.Root
        for obj in pdf.objects:
            if isinstance(obj, pikepdf.Dictionary):
                assert str(obj.get("/S", "")) not in ("/JavaScript", "/Launch"), obj
                assert "/JS" not in obj and "/EF" not in obj
    assert text_of(out.path) == ["Hello", "World"]


def test_metadata_is_set_or_stripped(doc: Path, tmp_path: Path) -> None:
    (titled,) = run("metadata", [doc], tmp_path, title="Report", author="Ada")
    with pikepdf.open(titled.path) as pdf:
        assert str(pdf.docinfo["/Title"]) == "Report" and str(pdf.docinfo["/Author"]) == "Ada"
    (stripped,) = run("metadata", [titled.path], tmp_path, metadata="strip")
    with pikepdf.open(stripped.path) as pdf:
        assert "/Info" not in pdf.trailer and "/Metadata" not in pdf.Root
    with pytest.raises(InvalidArgument):
        run("metadata", [doc], tmp_path)


@pytest.fixture(scope="module")
def scans(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return documents.image_pdf(tmp_path_factory.mktemp("scans") / "scans.pdf", pages=3)


def test_compress_balanced_downsamples_images_and_reports(scans: Path, tmp_path: Path) -> None:
    (out,) = run("compress", [scans], tmp_path, level="balanced", dpi=100, image_quality=60)
    d = out.details
    assert d["input_bytes"] == scans.stat().st_size and d["output_bytes"] == out.path.stat().st_size
    assert d["ratio"] < 0.5 and not d["kept_original"] and d["pages"] == 3
    assert d["images_recompressed"] == 3
    with pikepdf.open(out.path) as pdf:
        image = next(iter(pdf.pages[0].get_images().values()))
        assert int(image.Width) == 850  # 8.5 in at 100 DPI


def test_compress_strong_with_ghostscript(scans: Path, tmp_path: Path) -> None:
    (out,) = run("compress", [scans], tmp_path, level="strong", dpi=72)
    assert out.details["ratio"] < 0.3 and not out.details["kept_original"]
    assert len(text_of(out.path)) == 3
    args = ghostscript_command("gs", Path("in.pdf"), Path("out.pdf"), 72, 75)
    assert "-dSAFER" in args and args[-1] == "in.pdf"


def test_compress_keeps_the_original_when_the_result_is_not_smaller(tmp_path: Path) -> None:
    tight = documents.text_pdf(
        tmp_path / "tight.pdf", WORDS, object_stream_mode=pikepdf.ObjectStreamMode.generate
    )
    (out,) = run("compress", [tight], tmp_path, level="lossless")
    assert out.details["kept_original"] and out.path.read_bytes() == tight.read_bytes()


def test_to_images_renders_pages_at_the_dpi(doc: Path, tmp_path: Path) -> None:
    outputs = run("to_images", [doc], tmp_path, target="png", dpi=100, pages="1,3")
    assert [o.name for o in outputs] == ["page-1.png", "page-3.png"]
    with Image.open(outputs[0].path) as image:
        assert image.format == "PNG" and image.size == (850, 1100)
        assert image.convert("L").getextrema()[0] < 100  # the text is drawn
    (bundled,) = run("to_images", [doc], tmp_path, target="jpeg", bundle=True, dpi=50)
    with zipfile.ZipFile(bundled.path) as z:
        assert z.namelist() == [f"page-{i}.jpg" for i in range(1, 5)]


def test_pages_for_another_converter_are_written_for_speed(tmp_path: Path) -> None:
    scan = documents.image_pdf(tmp_path / "scan.pdf", pages=1, width=800, height=1000)
    sizes = []
    for handoff_target in ("", "webp"):
        out_dir = tmp_path / f"out-{handoff_target or 'kept'}"
        out_dir.mkdir()
        task = ConversionTask(
            "to_images", [InputFile(scan, scan.name, "pdf")], "png", {}, out_dir, {}, handoff_target
        )
        [page] = PdfConverter({}).convert(task, lambda *_a, **_k: None)
        with Image.open(page.path) as image:
            assert image.format == "PNG" and image.width == 1275  # a letter page at 150 DPI
        sizes.append(page.path.stat().st_size)
    kept, handed_off = sizes
    assert handed_off > kept  # zlib level 1 instead of 6: larger, and far quicker


def test_to_text_reads_the_text_layer(doc: Path, tmp_path: Path) -> None:
    (out,) = run("to_text", [doc], tmp_path, target="txt")
    assert out.path.read_text().split("\f") == ["Alpha", "Bravo", "Charlie", "Delta\n"]
    assert out.details == {"pages": 4, "characters": sum(map(len, WORDS))}


def test_from_images_places_each_image_on_its_own_page(tmp_path: Path) -> None:
    jpeg = tmp_path / "a.jpg"
    jpeg.write_bytes(documents.jpeg_bytes(documents.photo(300, 200)))
    png = tmp_path / "b.png"
    png.write_bytes(documents.png_bytes(documents.photo(100, 100).convert("RGBA")))
    (out,) = run("from_images", [jpeg, png, jpeg], tmp_path)
    with pikepdf.open(out.path) as pdf:
        assert len(pdf.pages) == 3
        first = next(iter(pdf.pages[0].get_images().values()))
        assert first.read_raw_bytes() == jpeg.read_bytes()  # embedded as it is
    bogus = tmp_path / "c.png"
    bogus.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 50)
    with pytest.raises(InvalidInput) as exc:
        run("from_images", [jpeg, bogus], tmp_path)
    assert exc.value.code == "invalid_image"


def test_bad_documents_fail_with_a_code(tmp_path: Path) -> None:
    text = tmp_path / "not.pdf"
    text.write_bytes(b"%PDF-1.7\nthis is not really a PDF at all")
    with pytest.raises(InvalidInput) as exc:
        run("rotate", [text], tmp_path)
    assert exc.value.code == "invalid_pdf"
    many = documents.text_pdf(tmp_path / "many.pdf", ["a"] * 5)
    with pytest.raises(InvalidInput) as exc:
        run("to_text", [many], tmp_path, target="txt", settings={"max_pages": 4})
    assert exc.value.code == "page_limit"
    with pytest.raises(InvalidInput) as exc:
        run("to_images", [many], tmp_path, target="png", settings={"max_page_pixels": 1000})
    assert exc.value.code == "page_too_large"
    with pytest.raises(InvalidArgument) as exc:
        run("rotate", [many], tmp_path, angle=45)
    assert exc.value.code == "invalid_options"


def test_a_truncated_pdf_is_repaired_or_refused_cleanly(doc: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut.pdf"
    cut.write_bytes(doc.read_bytes()[: doc.stat().st_size * 2 // 3])
    try:
        outputs = run("to_text", [cut], tmp_path, target="txt")
    except InvalidInput as exc:
        assert exc.code == "invalid_pdf"
    else:
        assert outputs[0].path.read_text().startswith("Alpha")


SCANNED = ["Invoice number 4711", "Quantum harbour lantern", "Total amount due"]


def test_ocr_makes_scanned_pages_searchable(tmp_path: Path) -> None:
    scan = documents.scanned_text_pdf(tmp_path / "scan.pdf", SCANNED, angle=2)
    assert text_of(scan) == [""]
    [out] = run("ocr", [scan], tmp_path)
    [found] = text_of(out.path)
    for line in SCANNED:
        assert line in " ".join(found.split()), found
    assert out.details["pages"] == 1 and out.details["text_characters"] >= 50


def test_ocr_keeps_pages_that_have_text_and_reads_encrypted_input(tmp_path: Path) -> None:
    typed = documents.text_pdf(tmp_path / "typed.pdf", ["Typeset"])
    scan = documents.scanned_text_pdf(tmp_path / "scan.pdf", SCANNED[:1])
    [both] = run("merge", [typed, scan], tmp_path)
    locked = tmp_path / "locked.pdf"
    with pikepdf.open(both.path) as pdf:
        pdf.save(locked, encryption=pikepdf.Encryption(owner="o", user="pw", R=6))
    [out] = run("ocr", [locked], tmp_path, password="pw")
    typed_text, scanned_text = text_of(out.path)
    assert typed_text == "Typeset"  # left as it was, not read again
    assert "Invoice number 4711" in " ".join(scanned_text.split())


def test_ocr_refuses_a_language_that_is_not_installed(doc: Path, tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument) as refused:
        run("ocr", [doc], tmp_path, language="eng+klingon")
    assert refused.value.code == "invalid_options"


def test_to_docx_gives_an_editable_document(tmp_path: Path) -> None:
    src = documents.text_pdf(
        tmp_path / "words.pdf", WORDS, encryption=pikepdf.Encryption(owner="o", user="pw", R=6)
    )
    [out] = run("to_docx", [src], tmp_path, target="docx", password="pw")
    assert out.media_type.endswith("wordprocessingml.document")
    with zipfile.ZipFile(out.path) as docx:
        body = docx.read("word/document.xml").decode()
    assert all(f"<w:t>{word}</w:t>" in body for word in WORDS), body[:2000]
    assert out.details["pages"] == len(WORDS)
