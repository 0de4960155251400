"""summarize and translate against a local server that speaks the chat-completions
protocol: prompts and keys sent, long documents chunked within the budget, retries
with backoff and Retry-After, failures with a code; and the extractive fallback."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests import documents
from tests.chat_server import chat_server, reply
from transmute_common.converter import ConversionTask, InputFile, OutputFile
from transmute_common.errors import TransmuteError
from transmute_pdf.capabilities import CAPABILITIES
from transmute_pdf.chat import chunks
from transmute_pdf.engine import PdfConverter
from transmute_pdf.summary import extractive_summary

PAGES = [
    "Solar panels convert sunlight into electricity. Panels on roofs feed the grid",
    "Batteries store electricity from solar panels for the night. The weather was mild",
    "Electricity from solar panels is cheap. Lunch was served at noon",
]


def run(operation: str, src: Path, work: Path, settings: dict[str, Any], **options: Any
        ) -> OutputFile:  # fmt: skip
    out = work / f"out-{len(list(work.iterdir()))}"
    out.mkdir()
    task = ConversionTask(operation, [InputFile(src, src.name, "pdf")], "txt", options, out)
    [output] = PdfConverter(settings).convert(task, lambda *_a, **_k: None)
    return output


def ai(url: str, **more: Any) -> dict[str, Any]:
    return {"ai_url": url, "ai_model": "tiny-1", "ai_key": "sk-test", "ai_backoff_seconds": 0.05,
            **more}  # fmt: skip


@pytest.fixture
def doc(tmp_path: Path) -> Path:
    return documents.prose_pdf(tmp_path / "solar.pdf", PAGES)


def test_summary_comes_from_the_model_with_key_and_model(doc: Path, tmp_path: Path) -> None:
    with chat_server() as server:
        server.script = [reply("Solar power is stored and cheap.")]
        out = run("summarize", doc, tmp_path, ai(server.url), sentences=2)
    assert out.path.read_text() == "Solar power is stored and cheap.\n"
    [request] = server.requests
    assert (
        request["model"] == "tiny-1" and "at most 2 sentences" in request["messages"][0]["content"]
    )
    assert "Batteries store electricity" in request["messages"][1]["content"]
    assert server.headers[0]["Authorization"] == "Bearer sk-test"
    assert out.details["method"] == "model" and out.details["chunks"] == 1


def test_a_long_document_is_chunked_within_the_budget_then_combined(tmp_path: Path) -> None:
    long_pages = [
        " ".join(f"Sentence {p}-{i} about topic {p}." for i in range(60)) for p in range(6)
    ]
    doc = documents.prose_pdf(tmp_path / "long.pdf", long_pages, size=6)
    with chat_server() as server:
        out = run("summarize", doc, tmp_path, ai(server.url, ai_max_input_tokens=400))
    pieces = [r for r in server.requests if "consecutive parts" not in r["messages"][0]["content"]]
    combined = [r for r in server.requests if "consecutive parts" in r["messages"][0]["content"]]
    assert len(pieces) == out.details["chunks"] > 3
    assert all(len(r["messages"][1]["content"]) <= 400 * 4 for r in server.requests)
    assert combined and out.path.read_text().startswith("ANSWER")
    # Every sentence went to the model exactly once, in order.
    sent = " ".join(r["messages"][1]["content"] for r in pieces)
    assert sent.split() == " ".join(" ".join(long_pages).split()).split()


def test_translate_keeps_the_order_of_the_pieces(tmp_path: Path) -> None:
    doc = documents.prose_pdf(tmp_path / "three.pdf", PAGES * 3)
    with chat_server() as server:
        server.default = lambda body: reply(body["messages"][1]["content"].upper())
        out = run("translate", doc, tmp_path, ai(server.url, ai_max_input_tokens=100),
                  to_language="German")  # fmt: skip
    assert all("into German" in r["messages"][0]["content"] for r in server.requests)
    assert out.path.read_text().split() == " ".join(PAGES * 3).upper().split()
    assert out.details["chunks"] == len(server.requests) >= 2


def test_passing_failures_are_retried_with_backoff_and_retry_after(
    doc: Path, tmp_path: Path
) -> None:
    with chat_server() as server:
        server.script = [(503, {}, {}, 0.0), (429, {"Retry-After": "0.5"}, {}, 0.0),
                         reply("Fine.")]  # fmt: skip
        start = time.monotonic()
        out = run("summarize", doc, tmp_path, ai(server.url))
    assert out.path.read_text() == "Fine.\n" and len(server.requests) == 3
    assert time.monotonic() - start >= 0.5  # the server's Retry-After was honoured


def test_a_silent_endpoint_times_out_and_the_job_may_be_retried(doc: Path, tmp_path: Path) -> None:
    with chat_server() as server:
        server.default = lambda body: (*reply("late")[:3], 1.0)
        with pytest.raises(TransmuteError) as failed:
            run("summarize", doc, tmp_path, ai(server.url, ai_timeout_seconds=0.2, ai_retries=1))
    assert failed.value.code == "ai_unavailable" and failed.value.retryable
    assert len(server.requests) == 2


@pytest.mark.parametrize(
    ("step", "code"),
    [((401, {}, {"error": "bad key"}, 0.0), "ai_failure"),
     ((200, {}, {"choices": []}, 0.0), "ai_failure")],
)  # fmt: skip
def test_refusals_and_empty_answers_fail_with_a_code(
    doc: Path, tmp_path: Path, step: Any, code: str
) -> None:
    with chat_server() as server:
        server.script = [step]
        with pytest.raises(TransmuteError) as failed:
            run("summarize", doc, tmp_path, ai(server.url))
    assert failed.value.code == code and not failed.value.retryable
    assert "sk-test" not in str(failed.value)
    assert len(server.requests) == 1  # a refusal is not retried


def test_without_a_model_summarize_is_extractive_and_translate_is_not_offered(
    doc: Path, tmp_path: Path
) -> None:
    out = run("summarize", doc, tmp_path, {}, sentences=2)
    summary = out.path.read_text()
    assert out.details["method"] == "extractive"
    assert "Lunch" not in summary and "weather" not in summary
    assert summary.count(".") <= 2 and "solar panels" in summary.lower()
    offered = {c.operation for c in PdfConverter({}).available(CAPABILITIES).conversions}
    assert "summarize" in offered and "translate" not in offered
    offered = {
        c.operation for c in PdfConverter(ai("http://x/v1")).available(CAPABILITIES).conversions
    }
    assert "translate" in offered


def test_extractive_summary_keeps_document_order() -> None:
    text = "Cats purr. Dogs bark at cats and cats hiss at dogs. Rain fell. Cats and dogs play."
    assert (
        extractive_summary(text, 2)
        == "Dogs bark at cats and cats hiss at dogs. Cats and dogs play."
    )


def test_chunks_cut_at_sentence_ends_and_lose_nothing() -> None:
    text = " ".join(f"Sentence number {i} is here." for i in range(100))
    pieces = chunks(text, 200)
    assert all(len(p) <= 200 for p in pieces)
    assert all(p.endswith(".") for p in pieces)
    assert " ".join(pieces).split() == text.split()
    assert chunks("x" * 450, 200) == ["x" * 200, "x" * 200, "x" * 50]
