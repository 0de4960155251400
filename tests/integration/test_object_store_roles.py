"""Least privilege in a real MinIO: each role's user gets the policy the transmute-stack
chart gives it, and the object store code of that role works within it (and only
within it)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.test_object_store_contract import chunks, read_all
from tests.servers import MINIO_PASSWORD, MINIO_USER, Server
from transmute_common.errors import Unavailable
from transmute_common.objectstore import ObjectStore, open_object_store
from transmute_common.settings import Settings

STACK_VALUES = Path(__file__).resolve().parents[2] / "charts" / "transmute-stack" / "values.yaml"


def iam_policy(statements: list[dict[str, Any]], bucket: str) -> dict[str, Any]:
    """A MinIO chart `policies` entry as the IAM document the chart creates, for a
    bucket of this test's own."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": st.get("effect", "Allow"),
                "Action": st["actions"],
                "Resource": [r.replace(":::transmute", f":::{bucket}", 1) for r in st["resources"]],
            }
            for st in statements
        ],
    }


@pytest.fixture(scope="module")
def role_keys(minio: Server) -> Iterator[tuple[str, dict[str, tuple[str, str]]]]:
    from minio.credentials import StaticProvider
    from minio.minioadmin import MinioAdmin

    bucket = f"roles-{uuid.uuid4().hex[:8]}"
    admin = MinioAdmin(
        endpoint=f"127.0.0.1:{minio.port}",
        credentials=StaticProvider(MINIO_USER, MINIO_PASSWORD),
        secure=False,
    )
    minio_values = yaml.safe_load(STACK_VALUES.read_text())["minio"]
    keys: dict[str, tuple[str, str]] = {}
    for policy in minio_values["policies"]:
        name = f"{policy['name']}-{bucket}"
        admin.policy_add(name, policy=iam_policy(policy["statements"], bucket))
        [user] = [u for u in minio_values["users"] if u["policy"] == policy["name"]]
        access, secret = f"{user['accessKey']}-{bucket}", uuid.uuid4().hex
        admin.user_add(access, secret)
        admin.policy_set(name, user=access)
        keys[policy["name"].removeprefix("transmute-")] = (access, secret)
    yield bucket, keys


def store_for(minio: Server, bucket: str, keys: tuple[str, str], manage: bool) -> ObjectStore:
    return open_object_store(
        Settings(
            object_store_url=f"s3://127.0.0.1:{minio.port}/{bucket}",
            s3_access_key=keys[0],
            s3_secret_key=keys[1],
            s3_part_size=5 * 1024 * 1024,
            s3_manage_bucket=manage,
        )
    )


async def test_each_role_works_within_its_policy(minio: Server, role_keys) -> None:  # type: ignore[no-untyped-def]
    bucket, keys = role_keys
    gateway = store_for(minio, bucket, keys["gateway"], manage=False)
    converter = store_for(minio, bucket, keys["converters"], manage=False)
    jobs = store_for(minio, bucket, keys["jobs"], manage=True)

    # Before the jobs service made the bucket, the others wait for it.
    with pytest.raises(Unavailable, match="does not exist yet"):
        await gateway.start()
    # Only the jobs service may create the bucket and set its expiry rule.
    with pytest.raises(Unavailable):
        await store_for(minio, bucket, keys["gateway"], manage=True).start()
    await jobs.start()
    await gateway.start()
    await converter.start()

    upload = "tenants/t1/uploads/f1"
    big = b"u" * (6 * 1024 * 1024)  # a multipart upload
    await gateway.put(upload, chunks(big, 1 << 20), "image/png")
    await gateway.put_json(upload + ".json", {"id": "f1"})
    await gateway.put("expiry/uploads/000000000001/t1/f1", chunks(b""), "text/plain")
    assert await read_all(converter, upload) == big

    output = "tenants/t1/jobs/j1/f1.webp"
    source = Path(__file__)
    data = source.read_bytes()  # noqa: ASYNC240 (a small file, read once)
    await converter.put_file(output, source, "image/webp")
    assert await read_all(gateway, output) == data
    # The in-mesh Convert API writes where its caller asks, under the tenant's prefix.
    await converter.put("tenants/t1/pages/p1/page.webp", chunks(b"p"), "image/webp")

    # What a role must not do.
    with pytest.raises(Unavailable, match="denied"):
        await gateway.put("tenants/t1/jobs/j1/forged.webp", chunks(b"x"), "image/webp")
    with pytest.raises(Unavailable, match="denied"):
        await converter.put("tenants/t1/uploads/forged", chunks(b"x"), "image/png")
    with pytest.raises(Unavailable, match="denied"):
        await gateway.put("outside/of/tenants", chunks(b"x"), "image/png")
    with pytest.raises(Unavailable, match="could not delete"):
        await converter.delete_prefix(upload)
    assert (await gateway.stat(upload)).size == len(big)

    # Each cleans up what it owns; the jobs service sweeps anything.
    assert await converter.delete_prefix("tenants/t1/jobs/j1/") == 1
    assert await converter.delete_prefix("tenants/t1/pages/") == 1
    assert await gateway.delete_prefix(upload) == 2
    assert await jobs.delete_prefix("expiry/") == 1
