"""The asynchronous client; the synchronous one runs it on a private event loop."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx

from transmute_client import protocol
from transmute_client.models import Job, UploadedFile


class AsyncClient:
    def __init__(self, base_url: str, api_key: str | None = None, timeout: float = 60.0):
        self.http = httpx.AsyncClient(
            base_url=base_url, headers=protocol.headers(api_key), timeout=timeout
        )

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self.http.aclose()

    async def _json(self, method: str, url: str, **kwargs: Any) -> Any:
        return protocol.checked(await self.http.request(method, url, **kwargs)).json()

    async def upload(
        self, path: str | Path, progress: protocol.Progress | None = None
    ) -> UploadedFile:
        """Streams a file to the gateway; ``progress(sent, total)`` as bytes go."""
        path = Path(path)
        total = path.stat().st_size

        async def body() -> AsyncIterator[bytes]:  # read as it is sent, never whole
            f = await asyncio.to_thread(path.open, "rb")
            try:
                sent = 0
                while piece := await asyncio.to_thread(f.read, protocol.CHUNK):
                    sent += len(piece)
                    if progress:
                        progress(sent, total)
                    yield piece
            finally:
                f.close()

        data = await self._json(
            "POST",
            "/v1/files",
            params={"filename": path.name},
            content=body(),
            headers={"Content-Length": str(total)},
        )
        return UploadedFile.from_json(data)

    async def submit(
        self,
        inputs: list[str],
        target: str,
        options: dict[str, Any] | None = None,
        operation: str = "convert",
        idempotency_key: str | None = None,
        cache: bool = True,
        webhook_url: str = "",
    ) -> Job:
        """A job of uploaded files; retried safely (an Idempotency-Key is always sent).
        ``webhook_url`` receives the job's final state, signed (docs/api.md)."""
        body, extra = protocol.job_body(
            inputs, target, options, operation, idempotency_key, cache, webhook_url
        )
        return Job.from_json(await self._json("POST", "/v1/jobs", json=body, headers=extra))

    async def convert(
        self,
        path: str | Path,
        target: str,
        options: dict[str, Any] | None = None,
        operation: str = "convert",
        progress: protocol.Progress | None = None,
        cache: bool = True,
        webhook_url: str = "",
    ) -> Job:
        """Upload and submit in one call."""
        uploaded = await self.upload(path, progress)
        return await self.submit(
            [uploaded.id], target, options, operation, cache=cache, webhook_url=webhook_url
        )

    async def job(self, job_id: str) -> Job:
        return Job.from_json(await self._json("GET", f"/v1/jobs/{job_id}"))

    async def jobs(self, page_size: int = 50, page_token: str = "") -> tuple[list[Job], str]:
        params = {"page_size": page_size, "page_token": page_token}
        data = await self._json("GET", "/v1/jobs", params=params)
        return [Job.from_json(j) for j in data["jobs"]], data["next_page_token"]

    async def wait(
        self, job_id: str, on_event: Callable[[Job], None] | None = None, at_most: float = 3600
    ) -> Job:
        """Follows the job's events to its end (at most ``at_most`` seconds); polls
        should the stream break."""
        deadline = time.monotonic() + at_most
        try:
            reader = protocol.EventReader()
            url = f"/v1/jobs/{job_id}/events"
            async with self.http.stream("GET", url, timeout=at_most) as resp:
                if resp.status_code >= 400:
                    await resp.aread()
                protocol.checked(resp)
                async for line in resp.aiter_lines():
                    event = reader.feed(line)
                    if event and on_event:
                        on_event(event[1])
                    if event and event[0] == "final":
                        return event[1]
        except httpx.TransportError:
            pass
        while True:
            job = await self.job(job_id)
            if on_event:
                on_event(job)
            if job.done or time.monotonic() > deadline:
                return job
            await asyncio.sleep(protocol.POLL_SECONDS)

    async def cancel(self, job_id: str) -> Job:
        return Job.from_json(await self._json("DELETE", f"/v1/jobs/{job_id}"))

    async def download(self, job: Job | str, name: str, destination: str | Path) -> Path:
        """Writes an output to ``destination`` (a file, or a directory to put it in)."""
        out = protocol.target_path(destination, name)
        job_id = job if isinstance(job, str) else job.id
        url = f"/v1/jobs/{job_id}/outputs/{name}"
        async with self.http.stream("GET", url, follow_redirects=True) as resp:
            if resp.status_code >= 400:
                await resp.aread()
            protocol.checked(resp)
            with out.open("wb") as f:
                async for piece in resp.aiter_bytes(protocol.CHUNK):
                    f.write(piece)
        return out

    async def formats(self) -> list[dict[str, Any]]:
        services: list[dict[str, Any]] = (await self._json("GET", "/v1/formats"))["services"]
        return services
