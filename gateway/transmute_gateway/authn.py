"""The one resolver of credentials, used by REST, the SSE stream and gRPC metadata:
``Authorization: Bearer`` with an API key (``tm_<id>_<secret>``), a JWT from the
configured OpenID Connect issuer, or a guest token this gateway signed. With
authentication off every caller is the default tenant's admin, as before."""

from __future__ import annotations

import hashlib
import secrets
import time
from typing import Any

import jwt

from transmute_common.access_client import AccessClient
from transmute_common.errors import TransmuteError, Unauthenticated, check_tenant
from transmute_common.keys import PREFIX, ROLES
from transmute_common.logging import get_logger
from transmute_common.tracing import current_trace_id
from transmute_gateway import metrics
from transmute_gateway.config import GatewaySettings
from transmute_gateway.identity import Principal
from transmute_gateway.oidc import OidcVerifier

log = get_logger(__name__)
GUEST_ISSUER = "transmute-guest"
_CACHE_ENTRIES = 10_000


class Authenticator:
    def __init__(
        self,
        settings: GatewaySettings,
        access: AccessClient,
        signing_key: bytes,
        oidc: OidcVerifier | None = None,
    ):
        self.settings, self._access, self._oidc = settings, access, oidc
        self._signing_key = signing_key
        self._anonymous = Principal(settings.default_tenant, "admin")
        # Verified API keys, by a digest of the token, for at most auth_cache_seconds:
        # a revoked key stops working on every replica within that time.
        self._keys: dict[bytes, tuple[Principal, float]] = {}

    @property
    def enabled(self) -> bool:
        return self.settings.auth_enabled

    async def resolve(self, authorization: str | None, api: str) -> Principal:
        if not self.settings.auth_enabled:
            return self._anonymous
        try:
            principal = await self._resolve(authorization or "")
        except Unauthenticated as err:
            metrics.auth_failed(err.code, api)
            log.info("authentication_failed", reason=err.code, api=api, trace_id=current_trace_id())
            raise
        log.debug(
            "authenticated",
            tenant=principal.tenant,
            key_id=principal.key_id,
            via=principal.via,
            trace_id=current_trace_id(),
        )
        return principal

    async def _resolve(self, authorization: str) -> Principal:
        scheme, _, token = authorization.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise Unauthenticated(
                "send Authorization: Bearer <API key or token>", code="missing_credentials"
            )
        if token.startswith(PREFIX):
            return await self._api_key(token)
        if token.count(".") == 2:
            return await self._jwt(token)
        raise Unauthenticated(
            "the bearer token is neither an API key nor a JWT", code="invalid_key"
        )

    async def _api_key(self, token: str) -> Principal:
        digest = hashlib.sha256(token.encode()).digest()
        cached = self._keys.get(digest)
        now = time.monotonic()
        if cached and cached[1] > now:
            return cached[0]
        key = await self._access.verify_key(token)  # Unauthenticated when it does not hold
        principal = Principal(key.tenant, key.role, key.id, "api_key")
        if len(self._keys) >= _CACHE_ENTRIES:
            self._keys.clear()
        self._keys[digest] = (principal, now + self.settings.auth_cache_seconds)
        return principal

    async def _jwt(self, token: str) -> Principal:
        try:
            issuer = jwt.decode(token, options={"verify_signature": False}).get("iss")
        except jwt.PyJWTError:
            raise Unauthenticated("the token is not a JWT", code="invalid_token") from None
        if issuer == GUEST_ISSUER:
            return self._guest(token)
        if self._oidc is None:
            raise Unauthenticated("no identity provider is configured", code="invalid_token")
        return self._from_claims(await self._oidc.claims(token))

    def _from_claims(self, claims: dict[str, Any]) -> Principal:
        s = self.settings
        tenant, role = claims.get(s.oidc_tenant_claim), claims.get(s.oidc_role_claim)
        if isinstance(role, list):  # a list of groups or roles: the strongest known one
            role = next((r for r in ROLES if r in role), None)
        role = role if role in ROLES else s.oidc_default_role
        try:
            tenant = check_tenant(str(tenant if tenant is not None else s.oidc_default_tenant))
        except TransmuteError:
            raise Unauthenticated("the token names no valid tenant", code="invalid_token") from None
        return Principal(tenant, str(role), f"oidc:{str(claims.get('sub', ''))[:64]}", "oidc")

    # --- guest tokens -----------------------------------------------------------------

    def guest_token(self) -> tuple[str, Principal, int]:
        """A short-lived token of a new guest tenant of its own (guests never see each
        other's jobs); the caller checks that guest access is on."""
        guest = secrets.token_hex(6)
        principal = Principal(f"guest-{guest}", "guest", f"guest:{guest}", "guest")
        lifetime = self.settings.guest_token_seconds
        claims = {
            "iss": GUEST_ISSUER,
            "sub": guest,
            "tenant": principal.tenant,
            "exp": int(time.time()) + lifetime,
        }
        return jwt.encode(claims, self._signing_key, algorithm="HS256"), principal, lifetime

    def _guest(self, token: str) -> Principal:
        if not self.settings.guest_enabled:
            raise Unauthenticated("guest access is off", code="invalid_token")
        try:
            claims = jwt.decode(
                token,
                self._signing_key,
                algorithms=["HS256"],
                issuer=GUEST_ISSUER,
                options={"require": ["exp", "sub", "tenant"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("the guest token has expired", code="token_expired") from None
        except jwt.PyJWTError:
            raise Unauthenticated("the guest token does not hold", code="invalid_token") from None
        guest = str(claims["sub"])
        return Principal(check_tenant(str(claims["tenant"])), "guest", f"guest:{guest}", "guest")
