"""REST routes for a tenant's admin (its API keys, its usage and quotas) and for
anonymous callers asking for a guest token when guest access is on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from transmute_common.errors import InvalidArgument, NotFound
from transmute_common.keys import ApiKey, check_key_id
from transmute_common.logging import get_logger
from transmute_common.tracing import current_trace_id
from transmute_common.webhooks import tenant_secret
from transmute_gateway.authn import Authenticator
from transmute_gateway.identity import Principal
from transmute_gateway.rest import Gw, errors, requires

log = get_logger(__name__)
router = APIRouter(prefix="/v1")
Admin = Annotated[Principal, Depends(requires("admin"))]


class KeyRequest(BaseModel):
    role: str = Field(default="user", description="admin, user, viewer or guest")
    name: str = Field(default="", max_length=100, description="what the key is for")
    expires_in_seconds: int | None = Field(
        default=None, ge=60, le=10 * 365 * 86400, description="lifetime; absent: until revoked"
    )


def _key_view(key: ApiKey) -> dict[str, Any]:
    view = key.public()
    for name in ("created_at", "expires_at", "revoked_at"):
        value = view[name]
        view[name] = value.isoformat().replace("+00:00", "Z") if value else None
    return view


@router.post(
    "/keys",
    status_code=201,
    summary="Create an API key of the caller's tenant (the token is shown once)",
    responses=errors(400, 401, 403),
)
async def create_key(body: KeyRequest, gw: Gw, who: Admin) -> dict[str, Any]:
    expires = (
        datetime.now(UTC) + timedelta(seconds=body.expires_in_seconds)
        if body.expires_in_seconds
        else None
    )
    key, token = await gw.jobs.access.create_key(who.tenant, body.role, body.name, expires)
    log.info(
        "key_created",
        tenant=who.tenant,
        key_id=key.id,
        role=key.role,
        by=who.key_id,
        trace_id=current_trace_id(),
    )
    return {**_key_view(key), "token": token}


@router.get("/keys", summary="List the tenant's API keys", responses=errors(401, 403))
async def list_keys(gw: Gw, who: Admin) -> dict[str, Any]:
    return {"keys": [_key_view(k) for k in await gw.jobs.access.list_keys(who.tenant)]}


@router.delete(
    "/keys/{key_id}",
    summary="Revoke an API key (refused on every replica within a second)",
    responses=errors(401, 403, 404),
)
async def revoke_key(key_id: str, gw: Gw, who: Admin) -> dict[str, Any]:
    try:
        check_key_id(key_id)
    except InvalidArgument:
        raise NotFound(f"key {key_id[:32]!r} not found", code="key_not_found") from None
    key = await gw.jobs.access.revoke_key(who.tenant, key_id)
    log.info("key_revoked", tenant=who.tenant, key_id=key_id, by=who.key_id)
    return _key_view(key)


@router.get(
    "/usage",
    summary="The tenant's quotas and what it has used of them",
    responses=errors(401, 403),
)
async def usage(gw: Gw, who: Admin) -> dict[str, Any]:
    return await gw.quotas.usage(who)


@router.get(
    "/webhooks/secret",
    summary="The tenant's webhook signing secret (Standard Webhooks, whsec_...)",
    responses=errors(401, 403),
)
async def webhook_secret(gw: Gw, who: Admin) -> dict[str, Any]:
    return {"secret": await tenant_secret(gw.jobs.access, who.tenant)}


@router.post(
    "/webhooks/secret",
    summary="A new webhook signing secret; deliveries sign with it from now on",
    responses=errors(401, 403),
)
async def rotate_webhook_secret(gw: Gw, who: Admin) -> dict[str, Any]:
    secret = await tenant_secret(gw.jobs.access, who.tenant, rotate=True)
    log.info("webhook_secret_rotated", tenant=who.tenant, by=who.key_id)
    return {"secret": secret}


@router.post(
    "/guest",
    status_code=201,
    summary="A short-lived guest token of a tenant of its own (when guest access is on)",
    responses=errors(404),
)
async def guest_token(request: Request) -> dict[str, Any]:
    auth: Authenticator = request.app.state.auth
    if not (auth.enabled and auth.settings.guest_enabled):
        raise NotFound("guest access is off", code="guest_access_off")
    token, who, lifetime = auth.guest_token()
    log.info("guest_token_issued", tenant=who.tenant, key_id=who.key_id)
    return {"token": token, "tenant": who.tenant, "role": who.role, "expires_in": lifetime}
