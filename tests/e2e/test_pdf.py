"""The PDF service through the whole mesh: several inputs in order, several outputs,
options checked per operation, passwords never shown back, failures with a code, and
a merge over gRPC."""

from __future__ import annotations

import io
import json
import signal
import zipfile
from pathlib import Path

import grpc
import httpx
import pikepdf
import pypdfium2 as pdfium
import pytest
from google.protobuf import struct_pb2

from scripts.mesh import Mesh
from tests import documents, images
from tests.e2e.conftest import convert, events, final_state, objects_under, wait_for
from transmute.gateway.v1 import gateway_pb2, gateway_pb2_grpc

pytestmark = pytest.mark.e2e


def upload(api: httpx.Client, data: bytes, name: str) -> str:
    resp = api.post("/v1/files", content=data, params={"filename": name})
    assert resp.status_code == 201, resp.text
    return str(resp.json()["id"])


def submit(api: httpx.Client, inputs: list[str], operation: str, target: str = "pdf",
           **options: object) -> httpx.Response:  # fmt: skip
    body = {"inputs": inputs, "operation": operation, "target": target, "options": options}
    return api.post("/v1/jobs", json=body)


def texts(data: bytes) -> list[str]:
    doc = pdfium.PdfDocument(data)
    try:
        return [doc[i].get_textpage().get_text_bounded().strip() for i in range(len(doc))]
    finally:
        doc.close()


@pytest.fixture(scope="module")
def words(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    work = tmp_path_factory.mktemp("pdf")
    return {
        name: documents.text_pdf(work / f"{name}.pdf", pages).read_bytes()
        for name, pages in {"ab": ["Alpha", "Bravo"], "cd": ["Charlie", "Delta"]}.items()
    }


def test_formats_list_pdf_operations_their_inputs_and_options(api: httpx.Client) -> None:
    services = {s["service"]: s for s in api.get("/v1/formats").json()["services"]}
    pdf = {c["operation"]: c for c in services["pdf"]["conversions"]}
    assert {"compress", "merge", "split", "sanitize", "to_images", "from_images"} <= set(pdf)
    assert pdf["merge"]["max_inputs"] == 100 and pdf["rotate"]["max_inputs"] == 1
    # JPEG and PNG are read directly; the others come in made PNG by the image service.
    assert set(pdf["from_images"]["inputs"]) == {
        "jpeg",
        "png",
        "webp",
        "avif",
        "gif",
        "tiff",
        "bmp",
        "heic",
    }
    options = {o["name"]: o for o in services["pdf"]["options"]}
    assert options["angle"]["operations"] == ["rotate"]
    assert "strong" in options["level"]["choices"]  # Ghostscript is installed here


def test_merge_then_split_over_rest(api: httpx.Client, words: dict[str, bytes]) -> None:
    ab, cd = upload(api, words["ab"], "ab.pdf"), upload(api, words["cd"], "cd.pdf")
    resp = submit(api, [cd, ab], "merge")
    assert resp.status_code == 202, resp.text
    merged = final_state(api, resp.json()["id"])
    assert merged["status"] == "succeeded", merged
    assert [i["name"] for i in merged["inputs"]] == ["cd.pdf", "ab.pdf"]
    [out] = merged["outputs"]
    assert out["name"] == "cd.pdf" and out["details"] == {"pages": 4, "documents": 2}
    data = api.get(out["url"]).content
    assert texts(data) == ["Charlie", "Delta", "Alpha", "Bravo"]

    whole = upload(api, data, "all.pdf")
    split = final_state(api, submit(api, [whole], "split", pages="1,2-3,z").json()["id"])
    assert split["status"] == "succeeded", split
    names = [o["name"] for o in split["outputs"]]
    assert names == ["all-page-1.pdf", "all-pages-2-3.pdf", "all-page-4.pdf"]
    parts = [texts(api.get(o["url"]).content) for o in split["outputs"]]
    assert parts == [["Charlie"], ["Delta", "Alpha"], ["Bravo"]]


def test_images_of_mixed_types_become_one_pdf(api: httpx.Client) -> None:
    jpeg = upload(api, documents.jpeg_bytes(documents.photo(200, 100)), "a.jpg")
    png = upload(api, documents.png_bytes(documents.photo(50, 80)), "b.png")
    job = final_state(api, submit(api, [png, jpeg], "from_images").json()["id"])
    assert job["status"] == "succeeded", job
    pdf = pikepdf.open(io.BytesIO(api.get(job["outputs"][0]["url"]).content))
    assert [round(float(p.mediabox[2]) / float(p.mediabox[3]), 2) for p in pdf.pages] == [
        0.62,
        2.0,
    ]


def test_images_the_pdf_engine_cannot_read_are_made_png_by_the_image_service(
    api: httpx.Client, mesh: Mesh
) -> None:
    webp = upload(api, images.gradient(300, 100).webpsave_buffer(), "wide.webp")
    tiff = upload(api, images.gradient(100, 200).tiffsave_buffer(), "tall.tiff")
    bmp = upload(api, images.bmp(40, 40), "square.bmp")
    jpeg = upload(api, documents.jpeg_bytes(documents.photo(200, 100)), "a.jpg")
    job = final_state(api, submit(api, [webp, tiff, bmp, jpeg], "from_images").json()["id"])
    assert job["status"] == "succeeded", job.get("error")
    pdf = pikepdf.open(io.BytesIO(api.get(job["outputs"][0]["url"]).content))
    ratios = [round(float(p.mediabox[2]) / float(p.mediabox[3]), 2) for p in pdf.pages]
    assert ratios == [3.0, 0.5, 1.0, 2.0]  # each page its own image, in order
    keys = objects_under(mesh, f"tenants/default/jobs/{job['id']}")
    assert len(keys) == 1 and not any("intake" in k for k in keys), keys


def test_operations_check_inputs_and_options(api: httpx.Client, words: dict[str, bytes]) -> None:
    ab, cd = upload(api, words["ab"], "ab.pdf"), upload(api, words["cd"], "cd.pdf")
    resp = submit(api, [ab, cd], "rotate")
    assert resp.status_code == 422 and resp.json()["error"]["code"] == "too_many_inputs"
    resp = submit(api, [ab], "compress", angle=90)
    assert resp.status_code == 422 and resp.json()["error"]["code"] == "invalid_options"
    jpeg = upload(api, documents.jpeg_bytes(documents.photo(20, 20)), "c.jpg")
    resp = submit(api, [ab, jpeg], "merge")
    assert resp.status_code == 422 and resp.json()["error"]["code"] == "mixed_inputs"
    resp = submit(api, [ab], "split", pages="7")
    job = final_state(api, resp.json()["id"])
    assert job["status"] == "failed" and job["error"]["code"] == "page_out_of_range"


def test_passwords_are_used_but_never_shown(api: httpx.Client, words: dict[str, bytes]) -> None:
    ab = upload(api, words["ab"], "ab.pdf")
    resp = submit(api, [ab], "protect", password="hunter2")
    assert resp.json()["options"] == {"password": "********"}
    stream = events(api, resp.json()["id"])
    assert "hunter2" not in json.dumps(stream)
    done = stream[-1][1]
    assert done["status"] == "succeeded", done
    locked = api.get(done["outputs"][0]["url"]).content
    with pikepdf.open(io.BytesIO(locked), password="hunter2") as pdf:
        assert pdf.is_encrypted
    again = upload(api, locked, "locked.pdf")
    failed = final_state(api, submit(api, [again], "to_text", target="txt").json()["id"])
    assert failed["status"] == "failed" and failed["error"]["code"] == "password_required"
    text = final_state(
        api, submit(api, [again], "to_text", target="txt", password="hunter2").json()["id"]
    )
    assert api.get(text["outputs"][0]["url"]).text.split("\f")[0] == "Alpha"


def test_compress_over_convert_reports_its_stats(api: httpx.Client, tmp_path: Path) -> None:
    data = documents.image_pdf(tmp_path / "scan.pdf", pages=2).read_bytes()
    resp = convert(api, data, "pdf", name="scan.pdf")
    assert resp.status_code == 422  # PDF to PDF is an operation, not a plain convert
    assert resp.json()["error"]["code"] == "unsupported_conversion"
    resp = api.post(
        "/v1/convert",
        files={"file": ("scan.pdf", data)},
        data={
            "target": "pdf",
            "operation": "compress",
            "options": '{"level": "strong", "dpi": 72}',
        },
    )
    assert resp.status_code == 202, resp.text
    job = final_state(api, resp.json()["id"])
    assert job["status"] == "succeeded", job
    details = job["outputs"][0]["details"]
    assert details["input_bytes"] == len(data) and details["ratio"] < 0.3
    assert len(api.get(job["outputs"][0]["url"]).content) == details["output_bytes"]


def test_office_documents_become_pdfs(api: httpx.Client, tmp_path: Path) -> None:
    made = documents.office_documents(tmp_path / "office")
    formats = {s["service"]: s for s in api.get("/v1/formats").json()["services"]}["pdf"]
    office = {c["operation"]: c for c in formats["conversions"]}["office_to_pdf"]
    assert set(office["inputs"]) == set(made)  # every format LibreOffice reads here
    jobs = {}
    for fmt in ("docx", "xlsx", "pptx", "html"):
        resp = api.post(
            "/v1/convert",
            files={"file": (made[fmt].name, made[fmt].read_bytes())},
            data={"target": "pdf", "operation": "office_to_pdf"},
        )
        assert resp.status_code == 202, resp.text
        jobs[fmt] = resp.json()["id"]
    # No operation named: a document asked for as PDF is converted all the same.
    plain = convert(api, made["odt"].read_bytes(), "pdf", name="report.odt")
    assert plain.status_code == 202, plain.text
    jobs["odt"] = plain.json()["id"]
    expected = {"docx": "Quarterly", "odt": "Quarterly", "html": "Quarterly"}
    expected |= {"xlsx": "apple", "pptx": "Slide 2"}
    for fmt, job_id in jobs.items():
        job = final_state(api, job_id)
        assert job["status"] == "succeeded", (fmt, job.get("error"))
        pdf = api.get(job["outputs"][0]["url"]).content
        assert expected[fmt] in " ".join(texts(pdf)), fmt
        assert job["outputs"][0]["details"]["pages"] == len(texts(pdf))
    # Text that only says it is a document is refused by its bytes.
    resp = convert(api, b"not a word document at all", "pdf", name="letter.docx")
    assert resp.status_code == 415, resp.text


def test_ocr_makes_a_scan_searchable(api: httpx.Client, tmp_path: Path) -> None:
    lines = ["Invoice number 4711", "Quantum harbour lantern"]
    scan = documents.scanned_text_pdf(tmp_path / "scan.pdf", lines, angle=1.5)
    resp = api.post(
        "/v1/convert",
        files={"file": ("scan.pdf", scan.read_bytes())},
        data={"target": "pdf", "operation": "ocr", "options": '{"language": "eng"}'},
    )
    assert resp.status_code == 202, resp.text
    seen = [e for e in events(api, resp.json()["id"]) if e[0] == "progress"]
    job = final_state(api, resp.json()["id"])
    assert job["status"] == "succeeded", job.get("error")
    [text] = texts(api.get(job["outputs"][0]["url"]).content)
    assert all(line in " ".join(text.split()) for line in lines), text
    # OCRmyPDF's own steps (scanning, ocr, ...) reach the job's progress.
    ours = {"", "fetching input", "converting", "reading pages", "storing output", "done"}
    steps = {e[1]["progress"]["message"] for e in seen} - ours
    assert steps, seen


def test_to_docx(api: httpx.Client, words: dict[str, bytes]) -> None:
    resp = api.post(
        "/v1/convert",
        files={"file": ("ab.pdf", words["ab"])},
        data={"target": "docx", "operation": "to_docx"},
    )
    assert resp.status_code == 202, resp.text
    job = final_state(api, resp.json()["id"])
    assert job["status"] == "succeeded", job.get("error")
    assert job["outputs"][0]["name"] == "ab.docx"
    data = api.get(job["outputs"][0]["url"]).content
    with zipfile.ZipFile(io.BytesIO(data)) as docx:
        body = docx.read("word/document.xml").decode()
    assert "<w:t>Alpha</w:t>" in body and "<w:t>Bravo</w:t>" in body


def test_summarize_without_a_model_is_extractive(api: httpx.Client, tmp_path: Path) -> None:
    pages = ["Tides rise twice a day. The moon pulls the tides. Tea was hot.",
             "Tides and the moon shape coasts. Shoes were red."]  # fmt: skip
    doc = documents.prose_pdf(tmp_path / "tides.pdf", pages)
    services = {s["service"]: s for s in api.get("/v1/formats").json()["services"]}
    offered = {c["operation"] for c in services["pdf"]["conversions"]}
    assert "summarize" in offered and "translate" not in offered  # no model configured
    resp = api.post(
        "/v1/convert",
        files={"file": ("tides.pdf", doc.read_bytes())},
        data={"target": "txt", "operation": "summarize", "options": '{"sentences": 2}'},
    )
    assert resp.status_code == 202, resp.text
    job = final_state(api, resp.json()["id"])
    assert job["status"] == "succeeded", job.get("error")
    summary = api.get(job["outputs"][0]["url"]).text
    assert "moon" in summary and "Tea" not in summary and "Shoes" not in summary
    assert job["outputs"][0]["details"]["method"] == "extractive"


def test_merge_over_grpc(channel: grpc.Channel, words: dict[str, bytes]) -> None:
    stub = gateway_pb2_grpc.GatewayServiceStub(channel)

    def send(name: str, data: bytes):  # type: ignore[no-untyped-def]
        yield gateway_pb2.UploadRequest(metadata=gateway_pb2.UploadMetadata(filename=name))
        yield gateway_pb2.UploadRequest(chunk=data)

    ids = [stub.Upload(send(f"{n}.pdf", words[n])).id for n in ("ab", "cd", "ab")]
    job = stub.SubmitJob(
        gateway_pb2.SubmitJobRequest(
            inputs=ids, target="pdf", operation="merge", options=struct_pb2.Struct()
        )
    )
    states = list(stub.WatchJob(gateway_pb2.WatchJobRequest(id=job.id)))
    assert states[-1].status == gateway_pb2.JOB_STATUS_SUCCEEDED, states[-1]
    [out] = states[-1].outputs
    data = b"".join(
        c.chunk for c in stub.Download(gateway_pb2.DownloadRequest(job_id=job.id, name=out.name))
    )
    assert texts(data) == ["Alpha", "Bravo", "Charlie", "Delta", "Alpha", "Bravo"]


def test_sigkill_of_the_pdf_converter_mid_job(
    api: httpx.Client, mesh: Mesh, tmp_path: Path
) -> None:
    """Thirty pages rendered at 300 DPI take seconds: the service dies in the middle,
    the job is delivered again and ends with every page, stored once."""
    data = documents.text_pdf(tmp_path / "long.pdf", [f"Page{n}" for n in range(30)])
    ident = upload(api, data.read_bytes(), "long.pdf")
    job_id = submit(api, [ident], "to_images", target="png", dpi=300).json()["id"]
    wait_for(lambda: api.get(f"/v1/jobs/{job_id}").json()["progress"]["phase"] == "convert")
    mesh.kill("pdf", signal.SIGKILL)
    assert api.get(f"/v1/jobs/{job_id}").json()["status"] == "running"
    mesh.start_service("pdf")
    done = final_state(api, job_id)
    assert done["status"] == "succeeded", done
    assert done["attempts"] >= 2
    assert [o["name"] for o in done["outputs"]] == [f"long-page-{n}.png" for n in range(1, 31)]
    assert len(objects_under(mesh, f"tenants/default/jobs/{job_id}")) == 30


def test_pages_as_webp_are_encoded_by_the_image_service(
    api: httpx.Client, mesh: Mesh, words: dict[str, bytes]
) -> None:
    """The PDF service renders PNG pages and hands them to the image service's Convert
    API: the job lists WebP pages in order and keeps nothing in between."""
    ident = upload(api, words["ab"], "ab.pdf")
    resp = submit(api, [ident], "to_images", target="webp", dpi=60)
    assert resp.status_code == 202, resp.text
    stream = events(api, resp.json()["id"])
    done = stream[-1][1]
    assert done["status"] == "succeeded", done
    assert [o["name"] for o in done["outputs"]] == ["ab-page-1.webp", "ab-page-2.webp"]
    for out in done["outputs"]:
        data = api.get(out["url"]).content
        assert data[:4] == b"RIFF" and data[8:12] == b"WEBP"
        assert out["content_type"] == "image/webp" and out["size"] == len(data)
    keys = objects_under(mesh, f"tenants/default/jobs/{done['id']}")
    assert len(keys) == 2 and not any("handoff" in k for k in keys), keys
    bundled = final_state(
        api, submit(api, [ident], "to_images", target="avif", bundle=True).json()["id"]
    )
    assert bundled["status"] == "failed" and bundled["error"]["code"] == "invalid_options"
