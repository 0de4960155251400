"""summarize and translate: the PDF's text layer, then a language model behind an
OpenAI-compatible endpoint (settings ``TRANSMUTE_AI_*``). Long documents are cut into
pieces that fit the model's input budget; the summaries of several pieces are
summarized again. Without an endpoint, summarize picks the document's most telling
sentences itself (extractive) and translate is not offered."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from transmute_common.converter import OutputFile
from transmute_common.errors import InvalidInput
from transmute_pdf.chat import ChatClient, chunks
from transmute_pdf.render import page_texts
from transmute_pdf.task import PdfTask

SUMMARY = (
    "Summarize the document the user sends in at most {n} sentences, in the language "
    "it is written in. Answer with the summary only."
)
COMBINE = (
    "These are summaries of consecutive parts of one document. Write one summary of "
    "the whole document in at most {n} sentences. Answer with the summary only."
)
TRANSLATE = (
    "Translate the text the user sends into {language}. Keep paragraphs and line "
    "breaks. Answer with the translation only."
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_WORD = re.compile(r"[^\W\d_]{3,}")
# Words too common to say what a document is about (English; other languages simply
# weigh their own common words a little).
_COMMON = set(
    [
        "the",
        "and",
        "for",
        "are",
        "but",
        "not",
        "you",
        "all",
        "any",
        "can",
        "had",
        "her",
        "was",
        "one",
        "our",
        "out",
        "has",
        "have",
        "him",
        "his",
        "how",
        "its",
        "may",
        "new",
        "now",
        "old",
        "see",
        "two",
        "who",
        "did",
        "get",
        "let",
        "say",
        "she",
        "too",
        "use",
        "that",
        "with",
        "this",
        "from",
        "they",
        "will",
        "would",
        "there",
        "their",
        "what",
        "about",
        "which",
        "when",
        "were",
        "been",
        "into",
        "than",
        "then",
        "them",
        "these",
        "some",
        "could",
        "other",
        "more",
        "also",
        "only",
        "such",
    ]
)


def _document_text(task: PdfTask) -> str:
    text = "\n\n".join(t.strip() for t in page_texts(task, share=0.1) if t.strip())
    if not text:
        raise InvalidInput("the PDF has no text layer (run ocr first)", code="no_text")
    return text


def _write(task: PdfTask, name: str, text: str, details: dict[str, Any]) -> list[OutputFile]:
    out = task.output(name)
    out.write_text(text + "\n", encoding="utf-8")
    task.progress(1.0, "done")
    return [OutputFile(out, out.name, "text/plain", details)]


def summarize(task: PdfTask, chat: ChatClient | None) -> list[OutputFile]:
    text = _document_text(task)
    n = task.options.sentences
    details: dict[str, Any] = {"characters_in": len(text)}
    if chat is None:
        summary = extractive_summary(text, n)
        details["method"] = "extractive"
    else:
        pieces = chunks(text, chat.input_budget_chars)
        details.update(method="model", model=chat.settings.model, chunks=len(pieces))
        partials = []
        for i, piece in enumerate(pieces):
            partials.append(chat.complete(SUMMARY.format(n=n), piece))
            task.progress(0.1 + 0.8 * (i + 1) / len(pieces), f"summarized part {i + 1}")
        # Summaries of summaries until one is left.
        while len(partials) > 1:
            joined = chunks("\n\n".join(partials), chat.input_budget_chars)
            partials = [chat.complete(COMBINE.format(n=n), part) for part in joined]
        summary = partials[0]
        details["requests"] = chat.requests
    details["characters_out"] = len(summary)
    return _write(task, "summary.txt", summary, details)


def translate(task: PdfTask, chat: ChatClient | None) -> list[OutputFile]:
    if chat is None:  # not offered then; a request that names it anyway
        raise InvalidInput("no language model is configured", code="unsupported_operation")
    text = _document_text(task)
    language = task.options.to_language
    pieces = chunks(text, chat.input_budget_chars)
    done = []
    for i, piece in enumerate(pieces):
        done.append(chat.complete(TRANSLATE.format(language=language), piece))
        task.progress(0.1 + 0.85 * (i + 1) / len(pieces), f"translated part {i + 1}")
    translation = "\n\n".join(done)
    details = {
        "model": chat.settings.model,
        "to_language": language,
        "chunks": len(pieces),
        "requests": chat.requests,
        "characters_in": len(text),
        "characters_out": len(translation),
    }
    return _write(task, "translation.txt", translation, details)


def extractive_summary(text: str, count: int) -> str:
    """The ``count`` sentences whose words are most frequent in the whole text, in the
    order they appear (a word-frequency summary: no model, no network)."""
    sentences = [s.strip() for s in _SENTENCE_END.split(" ".join(text.split())) if s.strip()]
    words = Counter(w for w in _WORD.findall(text.lower()) if w not in _COMMON)
    if not words:
        return " ".join(sentences[:count])

    def score(sentence: str) -> float:
        found = [w for w in _WORD.findall(sentence.lower()) if w not in _COMMON]
        return sum(words[w] for w in found) / (len(found) + 5) if found else 0.0

    best = sorted(range(len(sentences)), key=lambda i: score(sentences[i]), reverse=True)
    return " ".join(sentences[i] for i in sorted(best[:count]))
