"""API keys: ``tm_<id>_<secret>``. The id finds the record; only a hash of the secret
is stored. Secrets are 32 random bytes, so a plain SHA-256 is enough: nothing short of
the secret itself matches, and there is no password to guess from the hash."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from transmute_common.errors import InvalidArgument, check_tenant

ROLES = ("admin", "user", "viewer", "guest")
PREFIX = "tm_"
_TOKEN = re.compile(r"^tm_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$")
_KEY_ID = re.compile(r"^[0-9a-f]{16}$")


@dataclass
class ApiKey:
    id: str
    tenant: str
    role: str
    secret_hash: str
    name: str = ""
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    expires_at: datetime | None = None
    revoked_at: datetime | None = None

    def usable(self, now: datetime | None = None) -> bool:
        now = now or datetime.now(UTC)
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)

    def to_doc(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> ApiKey:
        fields: dict[str, Any] = {k: doc.get(k) for k in cls.__dataclass_fields__}
        for name in ("created_at", "expires_at", "revoked_at"):
            value = fields[name]
            if isinstance(value, str):
                value = datetime.fromisoformat(value)
            if isinstance(value, datetime) and value.tzinfo is None:  # BSON dates are naive UTC
                value = value.replace(tzinfo=UTC)
            fields[name] = value
        return cls(**fields)

    def public(self) -> dict[str, Any]:
        """What a listing shows: never the hash."""
        doc = self.to_doc()
        del doc["secret_hash"]
        return doc


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def check_role(role: str) -> str:
    if role not in ROLES:
        raise InvalidArgument(f"role must be one of {', '.join(ROLES)}", code="invalid_role")
    return role


def check_key_id(key_id: str) -> str:
    if not _KEY_ID.match(key_id):
        raise InvalidArgument("a key id is 16 hex digits", code="invalid_key_id")
    return key_id


def new_key(
    tenant: str, role: str, name: str = "", expires_at: datetime | None = None
) -> tuple[ApiKey, str]:
    """A new key and the token its holder presents (shown once, never stored)."""
    key_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
    record = ApiKey(
        id=key_id,
        tenant=check_tenant(tenant),
        role=check_role(role),
        secret_hash=hash_secret(secret),
        name=name[:100],
        expires_at=expires_at,
    )
    return record, f"{PREFIX}{key_id}_{secret}"


def parse_token(token: str) -> tuple[str, str] | None:
    """(key id, secret) of a well-formed API key token, else None."""
    match = _TOKEN.match(token)
    return (match[1], match[2]) if match else None


def key_from_token(token: str, record: ApiKey) -> bool:
    """Whether ``token`` is ``record``'s, in time independent of where they differ."""
    parsed = parse_token(token)
    if parsed is None or parsed[0] != record.id:
        return False
    return hmac.compare_digest(hash_secret(parsed[1]), record.secret_hash)
