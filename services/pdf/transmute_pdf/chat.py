"""A client for an OpenAI-compatible chat-completions endpoint (``POST
{url}/chat/completions``): timeouts, retries with exponential backoff (and the server's
``Retry-After``), and a token budget per request. Runs in a worker process: blocking."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from transmute_common.errors import TransmuteError
from transmute_common.http_retry import RetryPolicy, request

# A token is about four characters of English: the budget is kept in characters.
CHARS_PER_TOKEN = 4


@dataclass(frozen=True)
class ChatSettings:
    url: str
    model: str
    key: str
    timeout: float = 60.0
    retries: int = 3
    backoff: float = 1.0  # first wait, doubled each retry
    max_input_tokens: int = 6000
    max_output_tokens: int = 800


class ChatClient:
    def __init__(self, settings: ChatSettings, client: httpx.Client | None = None) -> None:
        self.settings = settings
        headers = {"Authorization": f"Bearer {settings.key}"} if settings.key else {}
        self._http = client or httpx.Client(
            base_url=settings.url.rstrip("/"), headers=headers, timeout=settings.timeout
        )
        self.requests = 0

    @property
    def input_budget_chars(self) -> int:
        return self.settings.max_input_tokens * CHARS_PER_TOKEN

    def complete(self, instruction: str, text: str) -> str:
        """The model's answer to ``instruction`` about ``text`` (which must fit the
        budget: callers chunk first)."""
        if len(text) > self.input_budget_chars:
            raise ValueError("text over the input budget: chunk it first")
        body = {
            "model": self.settings.model,
            "messages": [
                {"role": "system", "content": instruction},
                {"role": "user", "content": text},
            ],
            "max_tokens": self.settings.max_output_tokens,
            "temperature": 0.2,
        }
        self.requests += 1
        policy = RetryPolicy(
            self.settings.retries,
            self.settings.backoff,
            "the language model endpoint",
            "ai_failure",
            "ai_unavailable",
        )
        return _answer(request(self._http, "POST", "/chat/completions", policy, json=body))

    def close(self) -> None:
        self._http.close()


def _answer(resp: httpx.Response) -> str:
    try:
        content = resp.json()["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError):
        content = None
    if not isinstance(content, str) or not content.strip():
        raise TransmuteError("the language model endpoint gave no answer", code="ai_failure")
    return content.strip()


def chunks(text: str, limit: int) -> list[str]:
    """``text`` in pieces of at most ``limit`` characters, cut at paragraph breaks,
    else at sentence ends, else at spaces, else anywhere."""
    pieces: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        window = rest[:limit]
        cut = max(window.rfind("\n\n"), 0)
        for mark in (". ", "\n", " "):
            if cut < limit // 2:
                cut = max(cut, window.rfind(mark) + len(mark) - 1)
        if cut < limit // 2:
            cut = limit
        pieces.append(rest[:cut].strip())
        rest = rest[cut:].strip()
    if rest:
        pieces.append(rest)
    return pieces
