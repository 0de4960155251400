"""Delivers finished jobs' webhooks: a POST of the public job document, signed by the
Standard Webhooks convention with the tenant's secret, retried with exponential backoff
for up to TRANSMUTE_WEBHOOK_RETRY_SECONDS after the job ended. Every attempt is recorded
on the job. Pending deliveries wait in a JetStream stream, so a restart loses none."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import timedelta

import httpx
from standardwebhooks import Webhook as Signer

from transmute_common.bus import Bus
from transmute_common.errors import InvalidArgument, NotFound
from transmute_common.jobs import Job, WebhookAttempt, public_job, utcnow
from transmute_common.jobstore.access import AccessStore
from transmute_common.logging import get_logger
from transmute_common.webhooks import check_target, message_id, networks, payload, tenant_secret
from transmute_jobs.config import JobsSettings
from transmute_jobs.service import JobService

log = get_logger(__name__)
MAX_ERROR = 300


class WebhookSender:
    def __init__(self, service: JobService, access: AccessStore, settings: JobsSettings):
        self.service = service
        self.access = access
        self.settings = settings
        self.allowed = networks(settings.webhook_allowed_networks)
        self.http = httpx.AsyncClient(
            timeout=settings.webhook_timeout_seconds,
            follow_redirects=False,  # a redirect could lead anywhere, a private address too
            headers={"User-Agent": "Transmute-Webhooks/1"},
        )

    async def close(self) -> None:
        await self.http.aclose()

    def delay(self, attempts: int) -> float:
        base = self.settings.webhook_backoff_seconds * 2 ** max(attempts - 1, 0)
        return float(min(base, self.settings.webhook_max_backoff_seconds))

    async def deliver(self, tenant: str, job_id: str) -> float | None:
        """One attempt; None when done (delivered, given up, nothing to do), else the
        seconds to wait before the next."""
        try:
            job = await self.service.get(tenant, job_id)
        except NotFound:
            return None  # expired since
        if not job.webhook_url or (job.webhook and job.webhook.state != "pending"):
            return None
        attempt, delivered = await self._post(job)
        tries = len(job.webhook.attempts if job.webhook else []) + 1
        wait = self.delay(tries)
        ended = job.finished_at or job.created_at
        give_up = not delivered and (
            attempt.error.startswith("refused:")
            or utcnow() + timedelta(seconds=wait) - ended
            > timedelta(seconds=self.settings.webhook_retry_seconds)
        )
        state = "delivered" if delivered else "failed" if give_up else "pending"
        await self.service.record_webhook(tenant, job_id, attempt, state)
        log.info(
            "webhook_attempt",
            job_id=job_id,
            tenant=tenant,
            status_code=attempt.status_code,
            error=attempt.error,
            state=state,
            attempt=tries,
        )
        return None if state != "pending" else wait

    async def _post(self, job: Job) -> tuple[WebhookAttempt, bool]:
        now = utcnow()
        start = time.perf_counter()
        try:
            # Checked again at delivery: the name may resolve elsewhere than it did.
            await check_target(job.webhook_url, self.allowed)
        except InvalidArgument as exc:
            return WebhookAttempt(at=now, error=f"refused: {exc.message}"[:MAX_ERROR]), False
        secret = await tenant_secret(self.access, job.tenant)
        body = json.dumps(payload(public_job(job), now), separators=(",", ":"))
        msg_id = message_id(job.id)
        headers = {
            "Content-Type": "application/json",
            "webhook-id": msg_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": Signer(secret).sign(msg_id, now, body),
        }
        try:
            resp = await self.http.post(job.webhook_url, content=body, headers=headers)
            await resp.aclose()
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:MAX_ERROR]
            return WebhookAttempt(at=now, error=error, duration_ms=_ms(start)), False
        ok = 200 <= resp.status_code < 300
        return (
            WebhookAttempt(
                at=now,
                status_code=resp.status_code,
                error="" if ok else f"HTTP {resp.status_code}",
                duration_ms=_ms(start),
            ),
            ok,
        )


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 1)


async def run_webhooks(sender: WebhookSender, bus: Bus, stop: asyncio.Event) -> None:
    ack_wait = sender.settings.webhook_timeout_seconds + 30
    try:
        await bus.consume_webhooks(sender.deliver, ack_wait, stop)
    finally:
        await sender.close()
