"""The credential resolver: OIDC JWTs verified against a JWKS served over real HTTP
(keys made here), guest tokens, and what a role may do."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import jwt
import pytest

from tests.identity_provider import IdentityProvider, identity_provider, unsigned
from transmute_common.errors import Forbidden, Unauthenticated
from transmute_common.jobs_client import JobsClient
from transmute_gateway.app import oidc_verifier
from transmute_gateway.authn import Authenticator
from transmute_gateway.config import GatewaySettings
from transmute_gateway.identity import Principal
from transmute_gateway.links import Links


@pytest.fixture(scope="module")
def provider() -> Iterator[IdentityProvider]:
    with identity_provider() as p:
        yield p


@pytest.fixture
async def auth(provider: IdentityProvider) -> AsyncIterator[Authenticator]:
    settings = GatewaySettings(
        auth_enabled=True,
        guest_enabled=True,
        oidc_issuer=provider.url,
        oidc_audience="transmute",
        oidc_jwks_refetch_seconds=0.2,
    )
    jobs = JobsClient("127.0.0.1:9")  # API keys are not resolved in these tests
    async with httpx.AsyncClient(timeout=5) as http:
        yield Authenticator(settings, jobs.access, b"k" * 32, oidc_verifier(settings, http))
    await jobs.close()


async def refused(auth: Authenticator, header: str | None) -> str:
    with pytest.raises(Unauthenticated) as caught:
        await auth.resolve(header, "rest")
    return caught.value.code


@pytest.mark.parametrize("kid", ["rsa-1", "ec-1"])
async def test_a_token_of_the_issuer_names_tenant_and_role(
    auth: Authenticator, provider: IdentityProvider, kid: str
) -> None:
    who = await auth.resolve(f"Bearer {provider.token(kid, tenant='acme', role='viewer')}", "rest")
    assert who == Principal("acme", "viewer", "oidc:someone", "oidc")


async def test_roles_from_a_list_and_the_default_role(
    auth: Authenticator, provider: IdentityProvider
) -> None:
    listed = await auth.resolve(f"Bearer {provider.token(role=['staff', 'admin'])}", "rest")
    assert listed.role == "admin"
    unnamed = await auth.resolve(f"Bearer {provider.token(role=None)}", "rest")
    assert unnamed.role == "user"


async def test_bad_tokens_are_refused(auth: Authenticator, provider: IdentityProvider) -> None:
    assert await refused(auth, None) == "missing_credentials"
    assert await refused(auth, "Basic dXNlcjpwYXNz") == "missing_credentials"
    assert await refused(auth, "Bearer not-a-token") == "invalid_key"
    assert await refused(auth, f"Bearer {provider.token(lifetime=-120)}") == "token_expired"
    assert await refused(auth, f"Bearer {provider.token(audience='other')}") == "invalid_token"
    assert await refused(auth, f"Bearer {provider.stranger()}") == "invalid_token"
    assert await refused(auth, f"Bearer {provider.stranger('ec-1')}") == "invalid_token"
    forged = unsigned(iss=provider.url, aud="transmute", tenant="acme", exp=time.time() + 60)
    assert await refused(auth, f"Bearer {forged}") == "invalid_token"
    assert await refused(auth, f"Bearer {provider.token(tenant=None)}") == "invalid_token"
    assert await refused(auth, f"Bearer {provider.token(tenant='Bad/Tenant')}") == "invalid_token"
    other_issuer = provider.token(iss="https://elsewhere.example")
    assert await refused(auth, f"Bearer {other_issuer}") == "invalid_token"


async def test_hmac_signed_with_the_public_key_is_refused(
    auth: Authenticator, provider: IdentityProvider
) -> None:
    """The algorithm confusion attack: HS256 keyed with the issuer's public key."""
    public = provider.jwks()["keys"][0]
    claims = {"iss": provider.url, "aud": "transmute", "tenant": "acme", "exp": time.time() + 60}
    token = jwt.encode(claims, public["n"], algorithm="HS256", headers={"kid": "rsa-1"})
    assert await refused(auth, f"Bearer {token}") == "invalid_token"


async def test_a_rotated_key_is_fetched_when_a_token_names_it(
    auth: Authenticator, provider: IdentityProvider
) -> None:
    await auth.resolve(f"Bearer {provider.token()}", "rest")  # JWKS cached
    provider.add_key("rsa-2", "RS256")
    await asyncio.sleep(0.25)  # past the refetch interval
    before = provider.jwks_requests
    who = await auth.resolve(f"Bearer {provider.token('rsa-2')}", "rest")
    assert who.tenant == "acme" and provider.jwks_requests == before + 1
    # An unknown kid again within the interval does not fetch again.
    provider.add_key("rsa-3", "RS256")
    assert await refused(auth, f"Bearer {provider.token('rsa-3')}") == "invalid_token"
    await auth.resolve(f"Bearer {provider.token('rsa-2')}", "rest")
    assert provider.jwks_requests == before + 1


async def test_guest_tokens_are_their_own_tenants(auth: Authenticator) -> None:
    token, who, lifetime = auth.guest_token()
    again = await auth.resolve(f"Bearer {token}", "rest")
    assert again == who and who.role == "guest" and who.tenant.startswith("guest-")
    other, _, _ = auth.guest_token()
    assert (await auth.resolve(f"Bearer {other}", "rest")).tenant != who.tenant
    assert lifetime == 3600
    tampered = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    assert await refused(auth, f"Bearer {tampered}") == "invalid_token"


def test_roles_allow_what_they_should() -> None:
    viewer, user = Principal("t", "viewer"), Principal("t", "user")
    assert viewer.allow("read") is viewer
    for action in ("submit", "cancel", "admin"):
        with pytest.raises(Forbidden):
            viewer.allow(action)
    user.allow("submit")
    with pytest.raises(Forbidden):
        user.allow("admin")
    Principal("t", "admin").allow("admin")


def test_signed_links_hold_until_they_expire() -> None:
    links = Links(b"s" * 32, 60)
    url = links.url("acme", "a" * 32, "out put.webp")
    query = dict(part.split("=") for part in url.split("?")[1].split("&"))
    expires, signature = int(query["expires"]), query["signature"]
    links.check("acme", "a" * 32, "out put.webp", expires, signature)
    for tenant, name, when in (
        ("other", "out put.webp", expires),
        ("acme", "other.webp", expires),
        ("acme", "out put.webp", expires + 1),
    ):
        with pytest.raises(Exception, match="unknown or has expired"):
            links.check(tenant, "a" * 32, name, when, signature)
    expired = Links(b"s" * 32, -1)
    old = dict(p.split("=") for p in expired.url("acme", "a" * 32, "x").split("?")[1].split("&"))
    with pytest.raises(Exception, match="unknown or has expired"):
        expired.check("acme", "a" * 32, "x", int(old["expires"]), old["signature"])
