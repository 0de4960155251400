"""The synchronous client: the async one, run on an event loop of its own (so use
AsyncClient inside async code)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

from transmute_client import protocol
from transmute_client.aio import AsyncClient
from transmute_client.models import Job, UploadedFile

T = TypeVar("T")


class Client:
    def __init__(self, base_url: str, api_key: str | None = None, timeout: float = 60.0):
        self._runner = asyncio.Runner()
        self._client = self._run(self._open(base_url, api_key, timeout))

    @staticmethod
    async def _open(base_url: str, api_key: str | None, seconds: float) -> AsyncClient:
        return AsyncClient(base_url, api_key, seconds)  # its connections belong to this loop

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self._runner.run(coro)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._run(self._client.close())
        self._runner.close()

    def upload(self, path: str | Path, progress: protocol.Progress | None = None) -> UploadedFile:
        return self._run(self._client.upload(path, progress))

    def submit(
        self,
        inputs: list[str],
        target: str,
        options: dict[str, Any] | None = None,
        operation: str = "convert",
        idempotency_key: str | None = None,
        cache: bool = True,
        webhook_url: str = "",
    ) -> Job:
        return self._run(
            self._client.submit(
                inputs, target, options, operation, idempotency_key, cache, webhook_url
            )
        )

    def convert(
        self,
        path: str | Path,
        target: str,
        options: dict[str, Any] | None = None,
        operation: str = "convert",
        progress: protocol.Progress | None = None,
        cache: bool = True,
        webhook_url: str = "",
    ) -> Job:
        return self._run(
            self._client.convert(path, target, options, operation, progress, cache, webhook_url)
        )

    def job(self, job_id: str) -> Job:
        return self._run(self._client.job(job_id))

    def jobs(self, page_size: int = 50, page_token: str = "") -> tuple[list[Job], str]:
        return self._run(self._client.jobs(page_size, page_token))

    def wait(
        self, job_id: str, on_event: Callable[[Job], None] | None = None, at_most: float = 3600
    ) -> Job:
        return self._run(self._client.wait(job_id, on_event, at_most))

    def cancel(self, job_id: str) -> Job:
        return self._run(self._client.cancel(job_id))

    def download(self, job: Job | str, name: str, destination: str | Path) -> Path:
        return self._run(self._client.download(job, name, destination))

    def formats(self) -> list[dict[str, Any]]:
        return self._run(self._client.formats())
