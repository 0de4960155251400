"""gRPC face of the access store: API keys, tenant settings, shared usage counters."""

from __future__ import annotations

import grpc

from transmute.jobs.v1 import access_pb2, access_pb2_grpc
from transmute_common.errors import NotFound, Unauthenticated, check_tenant
from transmute_common.grpcutil import grpc_errors
from transmute_common.jobs import (
    dict_from_struct,
    struct_from_dict,
    timestamp_from_pb,
    timestamp_pb,
    utcnow,
)
from transmute_common.jobstore import JobStore
from transmute_common.keys import (
    ApiKey,
    check_key_id,
    check_role,
    hash_secret,
    key_from_token,
    new_key,
    parse_token,
)
from transmute_common.logging import get_logger
from transmute_common.tenants import check_overrides

log = get_logger(__name__)


def key_pb(key: ApiKey) -> access_pb2.ApiKey:
    return access_pb2.ApiKey(
        id=key.id,
        tenant=key.tenant,
        role=key.role,
        name=key.name,
        created_at=timestamp_pb(key.created_at),
        expires_at=timestamp_pb(key.expires_at),
        revoked_at=timestamp_pb(key.revoked_at),
    )


async def bootstrap_key(store: JobStore, token: str, tenant: str) -> None:
    """Makes the operator's bootstrap token (from a Secret) a usable admin key of
    ``tenant``: the first key, from which every other is made."""
    parsed = parse_token(token)
    if parsed is None:
        raise ValueError("TRANSMUTE_BOOTSTRAP_ADMIN_KEY is not a tm_<16 hex>_<43 chars> token")
    key_id, secret = parsed
    existing = await store.get_key(key_id)
    if existing is not None and existing.secret_hash == hash_secret(secret):
        return  # kept as it is, revoked or not
    key = ApiKey(key_id, check_tenant(tenant), "admin", hash_secret(secret), name="bootstrap")
    await store.put_key(key)
    log.info("bootstrap_key_stored", key_id=key_id, tenant=tenant)


class AccessServicer(access_pb2_grpc.AccessServiceServicer):
    def __init__(self, store: JobStore):
        self.store = store

    @grpc_errors
    async def CreateKey(
        self, request: access_pb2.CreateKeyRequest, context: grpc.aio.ServicerContext
    ) -> access_pb2.CreateKeyResponse:
        expires = timestamp_from_pb(request.expires_at, request.HasField("expires_at"))
        key, token = new_key(request.tenant, check_role(request.role), request.name, expires)
        await self.store.put_key(key)
        log.info("key_created", key_id=key.id, tenant=key.tenant, role=key.role)
        return access_pb2.CreateKeyResponse(key=key_pb(key), token=token)

    @grpc_errors
    async def VerifyKey(
        self, request: access_pb2.VerifyKeyRequest, context: grpc.aio.ServicerContext
    ) -> access_pb2.ApiKey:
        parsed = parse_token(request.token)
        key = await self.store.get_key(parsed[0]) if parsed else None
        if key is None or not key_from_token(request.token, key) or not key.usable():
            raise Unauthenticated("the API key is unknown, expired or revoked", code="invalid_key")
        return key_pb(key)

    @grpc_errors
    async def ListKeys(
        self, request: access_pb2.ListKeysRequest, context: grpc.aio.ServicerContext
    ) -> access_pb2.ListKeysResponse:
        keys = await self.store.list_keys(check_tenant(request.tenant))
        return access_pb2.ListKeysResponse(keys=[key_pb(k) for k in keys])

    @grpc_errors
    async def RevokeKey(
        self, request: access_pb2.RevokeKeyRequest, context: grpc.aio.ServicerContext
    ) -> access_pb2.ApiKey:
        key = await self.store.get_key(check_key_id(request.id))
        if key is None or key.tenant != request.tenant:  # another tenant's key: not here
            raise NotFound(f"key {request.id} not found", code="key_not_found")
        if key.revoked_at is None:
            key.revoked_at = utcnow()
            await self.store.put_key(key)
            log.info("key_revoked", key_id=key.id, tenant=key.tenant)
        return key_pb(key)

    @grpc_errors
    async def GetTenant(
        self, request: access_pb2.TenantRequest, context: grpc.aio.ServicerContext
    ) -> access_pb2.TenantSettings:
        settings = await self.store.get_tenant(check_tenant(request.tenant)) or {}
        return access_pb2.TenantSettings(tenant=request.tenant, settings=struct_from_dict(settings))

    @grpc_errors
    async def PutTenant(
        self, request: access_pb2.TenantSettings, context: grpc.aio.ServicerContext
    ) -> access_pb2.TenantSettings:
        settings = check_overrides(dict_from_struct(request.settings))
        await self.store.put_tenant(check_tenant(request.tenant), settings)
        log.info("tenant_settings_changed", tenant=request.tenant, settings=settings)
        return access_pb2.TenantSettings(tenant=request.tenant, settings=struct_from_dict(settings))

    @grpc_errors
    async def AddUsage(
        self, request: access_pb2.AddUsageRequest, context: grpc.aio.ServicerContext
    ) -> access_pb2.AddUsageResponse:
        added, value = await self.store.add_usage(
            check_tenant(request.tenant),
            request.counter,
            request.period,
            request.amount,
            request.limit,
        )
        return access_pb2.AddUsageResponse(added=added, value=value)

    @grpc_errors
    async def GetUsage(
        self, request: access_pb2.UsageRequest, context: grpc.aio.ServicerContext
    ) -> access_pb2.UsageResponse:
        tenant = check_tenant(request.tenant)
        values = await self.store.usage(tenant, dict(request.periods))
        return access_pb2.UsageResponse(
            values=values, live_jobs=await self.store.count_live(tenant)
        )
