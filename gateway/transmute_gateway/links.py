"""Signed, expiring download links for stores that cannot presign (the directory
store): an HMAC of tenant, job, output name and expiry under the gateway's signing key,
checked without credentials by ``GET /v1/links/...``."""

from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import quote, urlencode

from transmute_common.errors import NotFound


class Links:
    def __init__(self, key: bytes, lifetime_seconds: int):
        self._key, self._lifetime = key, lifetime_seconds

    def _signature(self, tenant: str, job_id: str, name: str, expires: int) -> str:
        message = "\n".join((tenant, job_id, name, str(expires))).encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def url(self, tenant: str, job_id: str, name: str) -> str:
        expires = int(time.time()) + self._lifetime
        query = urlencode(
            {"expires": expires, "signature": self._signature(tenant, job_id, name, expires)}
        )
        return f"/v1/links/{tenant}/{job_id}/{quote(name, safe='')}?{query}"

    def check(self, tenant: str, job_id: str, name: str, expires: int, signature: str) -> None:
        """A link that was not signed here, or has expired, names nothing (404)."""
        wanted = self._signature(tenant, job_id, name, expires).encode()
        given = signature.encode() if signature.isascii() else b""
        if not hmac.compare_digest(wanted, given) or expires < time.time():
            raise NotFound("the download link is unknown or has expired", code="link_not_valid")
