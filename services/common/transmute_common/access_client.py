"""Async client of the access service (API keys, tenant settings, usage counters),
on the jobs service's channel, speaking ApiKey and dicts rather than protobuf."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

import grpc

from transmute.jobs.v1 import access_pb2, access_pb2_grpc
from transmute_common.jobs import (
    dict_from_struct,
    struct_from_dict,
    timestamp_from_pb,
    timestamp_pb,
)
from transmute_common.keys import ApiKey

T = TypeVar("T")
Call = Callable[[Callable[..., Awaitable[Any]], Any], Awaitable[Any]]


def key_from_pb(pb: access_pb2.ApiKey) -> ApiKey:
    return ApiKey(
        id=pb.id,
        tenant=pb.tenant,
        role=pb.role,
        secret_hash="",  # never leaves the jobs service
        name=pb.name,
        created_at=timestamp_from_pb(pb.created_at, True) or datetime.min,
        expires_at=timestamp_from_pb(pb.expires_at, pb.HasField("expires_at")),
        revoked_at=timestamp_from_pb(pb.revoked_at, pb.HasField("revoked_at")),
    )


class AccessClient:
    def __init__(self, channel: grpc.aio.Channel, call: Call):
        self._stub = access_pb2_grpc.AccessServiceStub(channel)
        self._call = call

    async def create_key(
        self, tenant: str, role: str, name: str = "", expires_at: datetime | None = None
    ) -> tuple[ApiKey, str]:
        request = access_pb2.CreateKeyRequest(
            tenant=tenant, role=role, name=name, expires_at=timestamp_pb(expires_at)
        )
        resp = await self._call(self._stub.CreateKey, request)
        return key_from_pb(resp.key), resp.token

    async def verify_key(self, token: str) -> ApiKey:
        """Raises Unauthenticated unless the token is a usable key's."""
        pb = await self._call(self._stub.VerifyKey, access_pb2.VerifyKeyRequest(token=token))
        return key_from_pb(pb)

    async def list_keys(self, tenant: str) -> list[ApiKey]:
        resp = await self._call(self._stub.ListKeys, access_pb2.ListKeysRequest(tenant=tenant))
        return [key_from_pb(k) for k in resp.keys]

    async def revoke_key(self, tenant: str, key_id: str) -> ApiKey:
        request = access_pb2.RevokeKeyRequest(tenant=tenant, id=key_id)
        return key_from_pb(await self._call(self._stub.RevokeKey, request))

    async def get_tenant(self, tenant: str) -> dict[str, Any]:
        pb = await self._call(self._stub.GetTenant, access_pb2.TenantRequest(tenant=tenant))
        return dict_from_struct(pb.settings)

    async def put_tenant(self, tenant: str, settings: dict[str, Any]) -> None:
        request = access_pb2.TenantSettings(tenant=tenant, settings=struct_from_dict(settings))
        await self._call(self._stub.PutTenant, request)

    async def add_usage(
        self, tenant: str, counter: str, period: str, amount: int, limit: int
    ) -> tuple[bool, int]:
        request = access_pb2.AddUsageRequest(
            tenant=tenant, counter=counter, period=period, amount=amount, limit=limit
        )
        resp = await self._call(self._stub.AddUsage, request)
        return resp.added, resp.value

    async def usage(self, tenant: str, periods: dict[str, str]) -> tuple[dict[str, int], int]:
        """The counters asked for, and the tenant's queued and running jobs."""
        resp = await self._call(
            self._stub.GetUsage, access_pb2.UsageRequest(tenant=tenant, periods=periods)
        )
        return dict(resp.values), resp.live_jobs
