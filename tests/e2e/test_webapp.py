"""The web app in a real browser (headless Chromium) against the whole mesh: drop files,
pick a format, watch progress, download; a failing file; cancel; history; options from
/v1/formats; keyboard and a phone-sized screen; what the first load costs."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from scripts.mesh import Mesh
from tests import images, media, models
from tests.browser import Shots, card, chromium, drop_files, first_load, open_app, poll
from tests.documents import text_pdf
from tests.e2e.conftest import convert, final_state
from tests.e2e.test_resilience import noisy_jpeg

pytestmark = pytest.mark.e2e
FIRST_LOAD_BUDGET = 300 * 1024  # bytes transferred, gzip


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Shots:
    return Shots(tmp_path_factory.mktemp("webapp-screenshots"))


@pytest.fixture
def page(browser: Browser, mesh: Mesh) -> Iterator[Page]:
    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    yield open_app(page, mesh.url)
    context.close()
    assert not errors, errors  # no script error in any state


def is_webp(data: bytes) -> bool:
    return data[:4] == b"RIFF" and data[8:12] == b"WEBP"


def test_drop_two_images_convert_all_to_webp_and_download(page: Page, shots: Shots) -> None:
    drop_files(
        page,
        "label.drop",
        [
            ("photo.jpg", "image/jpeg", images.jpeg(320, 240)),
            ("icon.png", "image/png", images.png(64, 48)),
        ],
    )
    jpeg, png = card(page, "photo.jpg"), card(page, "icon.png")
    # Each file shows the type its bytes have, its size and a preview drawn locally.
    expect(jpeg.locator(".format")).to_have_text("jpeg")
    expect(png.locator(".format")).to_have_text("png")
    expect(jpeg.locator(".meta")).to_contain_text("KB")
    for c in (jpeg, png):
        assert c.locator("img.preview").evaluate("img => img.complete && img.naturalWidth > 0")
    shots(page, "dropped")

    page.get_by_label("Target for all files").select_option("webp")
    expect(jpeg.get_by_label("Target format for photo.jpg")).to_have_value("webp")
    page.get_by_role("button", name="Convert all (2)").click()
    for c in (jpeg, png):
        expect(c).to_have_attribute("data-status", "succeeded", timeout=60_000)
        expect(c.locator(".job-state")).to_contain_text("100 %")
        assert c.locator("progress[aria-label^=Job]").evaluate("p => p.value") == 100
        expect(c.locator(".sizes")).to_contain_text("→")
    shots(page, "converted")

    for c, name in ((jpeg, "photo.webp"), (png, "icon.webp")):
        with page.expect_download() as caught:
            c.get_by_text(f"Download {name}").click()
        download = caught.value
        assert download.suggested_filename == name
        assert is_webp(Path(download.path()).read_bytes())

    with page.expect_download() as caught:
        page.get_by_role("button", name="Download all (.zip)").click()
    archive = zipfile.ZipFile(io.BytesIO(Path(caught.value.path()).read_bytes()))
    assert sorted(archive.namelist()) == ["icon.webp", "photo.webp"]
    assert all(is_webp(archive.read(n)) for n in archive.namelist())


def test_an_upload_survives_a_dropped_request(page: Page, api: httpx.Client) -> None:
    """Uploads go by tus: the first request carrying the file fails as a dropped
    connection would; the app retries, asks where the upload stands, and finishes."""
    dropped: list[str] = []
    created: list[str] = []

    def drop_first_body(route):  # type: ignore[no-untyped-def]
        if route.request.method in ("POST", "PATCH") and not dropped:
            dropped.append(route.request.method)
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route("**/v1/uploads**", drop_first_body)
    page.on(
        "response",
        lambda r: (
            created.append(r.headers["location"])
            if "/v1/uploads" in r.url and r.status == 201
            else None
        ),
    )
    data = images.jpeg(200, 150)
    drop_files(page, "label.drop", [("again.jpg", "image/jpeg", data)])
    expect(card(page, "again.jpg").locator(".format")).to_have_text("jpeg")
    assert dropped  # the failure happened, and the upload still completed
    record = api.get(created[-1]).json()
    assert record["size"] == len(data) and record["name"] == "again.jpg"


def test_a_failing_file_shows_its_error(page: Page, shots: Shots) -> None:
    drop_files(
        page,
        "label.drop",
        [
            ("broken.jpg", "image/jpeg", images.truncated_jpeg()),
            ("notes.txt", "text/plain", b"just some words\n" * 10),
        ],
    )
    broken, notes = card(page, "broken.jpg"), card(page, "notes.txt")
    # A file no converter reads says so as soon as its type is known.
    expect(notes.get_by_role("alert")).to_contain_text("No converter reads this file")
    expect(notes.get_by_role("button", name="Convert")).to_have_count(0)
    broken.get_by_label("Target format for broken.jpg").select_option("png")
    broken.get_by_role("button", name="Convert").click()
    expect(broken).to_have_attribute("data-status", "failed", timeout=60_000)
    expect(broken.get_by_role("alert")).not_to_be_empty()
    message = broken.get_by_role("alert").inner_text()
    assert "invalid" in message.lower() or "corrupt" in message.lower(), message
    shots(page, "failed")


def test_previews_of_audio_pdf_and_3d(page: Page, shots: Shots, tmp_path: Path) -> None:
    """Drawn from the local file: the browser's player, pdf.js's first page (loaded on
    first use), model-viewer for GLB; each file is then offered what its converter does."""
    wav = media.tone(tmp_path / "tone.wav", "wav", seconds=2.0).read_bytes()
    pdf = text_pdf(tmp_path / "doc.pdf", ["First page", "Second page"]).read_bytes()
    glb = models.sphere(2).export(file_type="glb")
    drop_files(
        page,
        "label.drop",
        [
            ("tone.wav", "audio/wav", wav),
            ("doc.pdf", "application/pdf", pdf),
            ("ball.glb", "model/gltf-binary", glb),
        ],
    )
    tone, doc, ball = card(page, "tone.wav"), card(page, "doc.pdf"), card(page, "ball.glb")
    for c, fmt in ((tone, "wav"), (doc, "pdf"), (ball, "glb")):
        expect(c.locator(".format")).to_have_text(fmt)
    poll(page, "() => document.querySelector('audio.preview').duration > 1.9", 10)
    # The first page, drawn: a page-shaped canvas with dark (text) pixels on it.
    poll(
        page,
        """() => { const c = document.querySelector('canvas.preview');
                   if (!c || c.height <= c.width) return false;
                   const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                   for (let i = 0; i < d.length; i += 4) if (d[i] < 128) return true;
                   return false; }""",
        20,
    )
    poll(page, "() => document.querySelector('model-viewer')?.loaded === true", 30)
    # Operations follow the sniffed type: the PDF's include merge, the model's decimate.
    doc_ops = doc.locator("select").first.locator("option").all_inner_texts()
    assert {"compress", "merge", "to images"} <= set(doc_ops)
    assert "decimate" in ball.locator("select").first.locator("option").all_inner_texts()
    shots(page, "previews")


def test_cancel_stops_a_running_job(page: Page, mesh: Mesh, shots: Shots) -> None:
    # The file picker this time, with a file slow to encode.
    page.locator("input[type=file]").set_input_files(
        files=[{"name": "noise.jpg", "mimeType": "image/jpeg", "buffer": noisy_jpeg(3000, 2200)}]
    )
    noise = card(page, "noise.jpg")
    expect(noise.locator(".format")).to_have_text("jpeg", timeout=60_000)
    noise.get_by_label("Target format for noise.jpg").select_option("avif")
    noise.get_by_role("button", name="Convert").click()
    expect(noise.locator(".job-state")).to_contain_text("convert", timeout=60_000)
    shots(page, "running")
    noise.get_by_role("button", name="Cancel").click()
    expect(noise).to_have_attribute("data-status", "cancelled", timeout=30_000)
    job_id = noise.locator("[data-job]").get_attribute("data-job")
    assert httpx.get(f"{mesh.url}/v1/jobs/{job_id}").json()["status"] == "cancelled"
    expect(noise.get_by_role("button", name="Convert again")).to_be_visible()
    shots(page, "cancelled")


def test_history_lists_jobs_filters_and_downloads(
    page: Page, api: httpx.Client, shots: Shots
) -> None:
    ok = convert(api, images.png(40, 30), "webp", name="kept.png").json()
    bad = convert(api, images.truncated_jpeg(), "png", name="bad.jpg").json()
    assert final_state(api, ok["id"])["status"] == "succeeded"
    assert final_state(api, bad["id"])["status"] == "failed"

    page.get_by_role("link", name="History").click()
    ok_row, bad_row = (page.locator(f"tr[data-job='{j['id']}']") for j in (ok, bad))
    expect(ok_row).to_contain_text("kept.png")
    expect(ok_row).to_contain_text("succeeded")
    expect(bad_row).to_contain_text("failed")
    shots(page, "history")

    page.get_by_label("Status").select_option("failed")
    expect(ok_row).to_have_count(0)
    expect(bad_row).to_be_visible()
    assert all(
        s == "failed"
        for s in page.locator("tbody tr").evaluate_all("rows => rows.map(r => r.dataset.status)")
    )
    page.get_by_label("Status").select_option("succeeded")
    with page.expect_download() as caught:
        ok_row.get_by_text("Download kept.webp").click()
    assert is_webp(Path(caught.value.path()).read_bytes())
    shots(page, "history-succeeded")


def test_the_options_form_comes_from_the_formats(
    page: Page, api: httpx.Client, shots: Shots
) -> None:
    image = next(s for s in api.get("/v1/formats").json()["services"] if s["service"] == "image")
    drop_files(page, "label.drop", [("wide.png", "image/png", images.png(200, 100))])
    wide = card(page, "wide.png")
    expect(wide.locator(".format")).to_have_text("png")
    wide.get_by_text("Options").click()
    for option in image["options"]:
        label = option["name"].replace("_", " ")
        expect(wide.locator(".options label", has_text=label).first).to_be_visible()
    width = next(o for o in image["options"] if o["name"] == "width")
    field = wide.locator(".options label", has_text="width").locator("input")
    assert field.get_attribute("min") == str(int(width["minimum"]))
    field.fill("50")
    shots(page, "options")
    wide.get_by_label("Target format for wide.png").select_option("png")
    wide.get_by_role("button", name="Convert").click()
    expect(wide).to_have_attribute("data-status", "succeeded", timeout=60_000)
    job_id = wide.locator("[data-job]").get_attribute("data-job")
    job = api.get(f"/v1/jobs/{job_id}").json()
    assert job["options"] == {"width": 50}
    output = api.get(job["outputs"][0]["url"]).content
    assert images.dimensions(output)[:2] == (50, 25)


def test_keyboard_and_a_phone_sized_screen(browser: Browser, mesh: Mesh, shots: Shots) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = open_app(context.new_page(), mesh.url)
    try:
        # The drop zone's file input is reached with Tab and opened with Space.
        for _ in range(10):
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.type") == "file":
                break
        assert page.evaluate("document.activeElement.type") == "file"
        chooser = None
        for key in ("Space", "Enter"):  # either opens a focused file input
            try:
                with page.expect_file_chooser(timeout=5_000) as opened:
                    page.keyboard.press(key)
                chooser = opened.value
                break
            except PlaywrightTimeoutError:
                continue
        assert chooser is not None, "the keyboard did not open the file chooser"
        chooser.set_files(
            files=[{"name": "tiny.png", "mimeType": "image/png", "buffer": images.png(20, 20)}]
        )
        tiny = card(page, "tiny.png")
        expect(tiny.locator(".format")).to_have_text("png")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        shots(page, "phone")
    finally:
        context.close()


def test_the_first_load_is_small_and_from_the_gateway_only(browser: Browser, mesh: Mesh) -> None:
    """Everything a first visit downloads (gzip); `make bench` prints it with the time
    to interactive (row p)."""
    load = first_load(browser, mesh.url)
    assert 0 < load.transferred < FIRST_LOAD_BUDGET, load
    assert load.origins == {mesh.url.split("/")[2]}  # no CDN


def test_the_gateway_serves_the_app_compressed_and_cached(api: httpx.Client) -> None:
    index = api.get("/")
    assert index.status_code == 200
    assert index.headers["cache-control"] == "no-cache"
    policy = index.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    script = index.text.split('src="', 1)[1].split('"', 1)[0]
    assert script.startswith("/assets/")
    raw = httpx.get(f"{api.base_url}{script}", headers={"Accept-Encoding": "gzip"})
    assert raw.headers["content-encoding"] == "gzip"
    assert raw.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert len(raw.content) > 0 and b"transmute-ready" in raw.content
    plain = api.get(script, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert plain.content == raw.content
    # The API's own answers are untouched: unknown API paths stay JSON 404s.
    missing = api.get("/v1/nothing-here")
    assert missing.status_code == 404 and missing.json()["error"]["code"]
    assert api.get("/assets/nothing.js").status_code == 404
