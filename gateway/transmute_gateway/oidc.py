"""Bearer JWTs from an OpenID Connect issuer, verified against its JWKS: fetched once,
cached, fetched again when a token names a key id the cache lacks (the issuer rotated
its keys), at most once per ``refetch_seconds``."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import jwt

from transmute_common.errors import Unauthenticated, Unavailable

ASYMMETRIC = ("RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "EdDSA")


class JwksCache:
    def __init__(
        self,
        client: httpx.AsyncClient,
        issuer: str,
        jwks_url: str = "",
        refetch_seconds: float = 30.0,
    ):
        self._client, self._issuer, self._url = client, issuer.rstrip("/"), jwks_url
        self._refetch = refetch_seconds
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched = -float("inf")
        self._lock = asyncio.Lock()

    async def key(self, kid: str) -> jwt.PyJWK:
        if kid not in self._keys:
            async with self._lock:
                if kid not in self._keys and time.monotonic() - self._fetched >= self._refetch:
                    await self._fetch()
        try:
            return self._keys[kid]
        except KeyError:
            raise Unauthenticated(
                "the token's key is not the issuer's", code="invalid_token"
            ) from None

    async def _fetch(self) -> None:
        self._fetched = time.monotonic()
        try:
            if not self._url:  # discovery: the issuer names its JWKS
                found = await self._client.get(f"{self._issuer}/.well-known/openid-configuration")
                found.raise_for_status()
                self._url = str(found.json()["jwks_uri"])
            resp = await self._client.get(self._url)
            resp.raise_for_status()
            keys = resp.json()["keys"]
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            raise Unavailable(
                f"the identity provider's keys cannot be fetched: {type(exc).__name__}",
                code="identity_provider_unavailable",
            ) from None
        fresh: dict[str, jwt.PyJWK] = {}
        for data in keys if isinstance(keys, list) else []:
            try:
                if data.get("use", "sig") == "sig" and data.get("kid"):
                    fresh[str(data["kid"])] = jwt.PyJWK(data)
            except (jwt.PyJWTError, ValueError, TypeError):
                continue  # a key type or curve this gateway cannot use
        self._keys = fresh


class OidcVerifier:
    def __init__(
        self,
        jwks: JwksCache,
        issuer: str,
        audience: str,
        algorithms: list[str],
        leeway_seconds: float = 30.0,
    ):
        self._jwks, self._issuer, self._audience = jwks, issuer, audience
        self._algorithms = [a for a in algorithms if a in ASYMMETRIC]
        self._leeway = leeway_seconds

    async def claims(self, token: str) -> dict[str, Any]:
        """The verified claims; Unauthenticated for any token that does not hold."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthenticated("the token is not a JWT", code="invalid_token") from None
        algorithm = header.get("alg")
        if algorithm not in self._algorithms:  # "none", HMAC with a public key, ...
            raise Unauthenticated(
                f"the token's algorithm is not accepted ({self._algorithms})",
                code="invalid_token",
            )
        key = await self._jwks.key(str(header.get("kid", "")))
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key.key,
                algorithms=[algorithm],
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("the token has expired", code="token_expired") from None
        except jwt.InvalidAudienceError:
            raise Unauthenticated(
                "the token is for another audience", code="invalid_token"
            ) from None
        except jwt.PyJWTError as exc:
            raise Unauthenticated(
                f"the token does not hold: {type(exc).__name__}", code="invalid_token"
            ) from None
        return claims
