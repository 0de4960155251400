"""Webhooks: where a job's final state may be sent, the tenant's signing secret, and the
message (Standard Webhooks: https://www.standardwebhooks.com). The gateway checks a
target when a job names it; the jobs service checks it again and delivers."""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import re
import secrets
import socket
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

from transmute_common.errors import InvalidArgument

SECRET_PREFIX = "whsec_"
SECRET = re.compile(r"^whsec_[A-Za-z0-9+/]{32,}={0,2}$")
MAX_URL = 2048
RESOLVE_SECONDS = 3.0
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def check_url_shape(url: str) -> str:
    """An absolute http(s) URL with a host, no credentials in it; InvalidArgument else."""
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises on a port that is not a number
        valid = (
            len(url) <= MAX_URL
            and url.isprintable()
            and url.isascii()
            and parts.scheme in ("http", "https")
            and bool(parts.hostname)
            and parts.username is None
            and not any(ch.isspace() for ch in url)
        )
    except ValueError:  # e.g. an unclosed [ of an IPv6 host
        valid = False
    if not valid:
        raise InvalidArgument(
            "webhook_url must be an http(s) URL with a host (and no user or password)",
            code="invalid_webhook_url",
        )
    return url


def networks(allowed: list[str]) -> list[Network]:
    return [ipaddress.ip_network(n, strict=False) for n in allowed]


def _public(address: str, allowed: list[Network]) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    if any(ip in net for net in allowed):
        return True
    return ip.is_global and not ip.is_multicast


async def check_target(url: str, allowed: list[Network]) -> None:
    """Refuses a target that resolves to a private, loopback, link-local or otherwise
    non-public address (every address it resolves to is checked), unless a network in
    ``allowed`` holds it (TRANSMUTE_WEBHOOK_ALLOWED_NETWORKS)."""
    parts = urlsplit(check_url_shape(url))
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        lookup = asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        infos = await asyncio.wait_for(lookup, RESOLVE_SECONDS)
    except (OSError, TimeoutError, ValueError) as exc:  # ValueError: IDNA, NUL bytes
        raise InvalidArgument(
            f"webhook host {host!r} does not resolve: {exc}", code="webhook_url_not_allowed"
        ) from None
    refused = sorted({str(info[4][0]) for info in infos if not _public(str(info[4][0]), allowed)})
    if refused or not infos:
        raise InvalidArgument(
            f"webhook target {host!r} is not a public address ({', '.join(refused)}); "
            "private, loopback and link-local targets are refused unless allowed",
            code="webhook_url_not_allowed",
        )


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


class TenantSettings(Protocol):
    """What both the access store (jobs service) and its client (gateway) offer."""

    async def get_tenant(self, tenant: str) -> dict[str, Any] | None: ...

    async def put_tenant(self, tenant: str, settings: dict[str, Any]) -> None: ...


async def tenant_secret(access: TenantSettings, tenant: str, rotate: bool = False) -> str:
    """The tenant's webhook signing secret, made on first use (or anew with ``rotate``)
    and kept with the tenant's settings."""
    settings = dict(await access.get_tenant(tenant) or {})
    secret = settings.get("webhook_secret")
    if rotate or not isinstance(secret, str) or not SECRET.match(secret):
        secret = new_secret()
        settings["webhook_secret"] = secret
        await access.put_tenant(tenant, settings)
    return secret


def message_id(job_id: str) -> str:
    """The same for every attempt at one job's message: receivers deduplicate by it."""
    return f"msg_{job_id}"


def payload(job: dict[str, Any], at: datetime) -> dict[str, Any]:
    return {"type": f"job.{job['status']}", "timestamp": at.isoformat(), "data": job}
