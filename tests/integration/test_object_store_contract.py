"""One contract, every object store: the directory store and MinIO."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from transmute_common.errors import InvalidArgument, NotFound, TooLarge
from transmute_common.objectstore import ObjectStore, open_object_store
from transmute_common.settings import Settings


@pytest.fixture
def store(object_store: ObjectStore) -> ObjectStore:
    return object_store


async def chunks(data: bytes, size: int = 65536) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


async def failing(data: bytes) -> AsyncIterator[bytes]:
    yield data
    raise TooLarge("stop")


async def read_all(store: ObjectStore, key: str) -> bytes:
    return b"".join([c async for c in store.read(key)])


async def test_put_read_stat_round_trip(store: ObjectStore) -> None:
    data = bytes(range(256)) * 4096  # 1 MiB
    info = await store.put("tenants/t1/uploads/a", chunks(data), "image/png")
    assert info.size == len(data)
    assert info.sha256 == hashlib.sha256(data).hexdigest()
    assert await read_all(store, "tenants/t1/uploads/a") == data
    st = await store.stat("tenants/t1/uploads/a")
    assert (st.size, st.content_type) == (len(data), "image/png")


async def test_multipart_sized_upload(store: ObjectStore) -> None:
    data = b"x" * (12 * 1024 * 1024 + 17)  # several 5 MiB parts on S3
    info = await store.put("tenants/t1/big", chunks(data, 1 << 20), "application/octet-stream")
    assert info.size == len(data)
    assert (await store.stat("tenants/t1/big")).size == len(data)


async def test_concat_joins_parts_in_order(store: ObjectStore) -> None:
    """As resumable uploads use it: parts of at least MIN_PART_BYTES, a smaller last."""
    from transmute_common.objectstore.base import MIN_PART_BYTES

    base = f"tenants/t/uploads/{uuid.uuid4().hex}"
    parts = [bytes([n]) * MIN_PART_BYTES for n in (1, 2)] + [b"tail"]
    keys = [f"{base}.tus/seg-{n}" for n in range(len(parts))]
    for key, data in zip(keys, parts, strict=True):
        await store.put(key, chunks(data), "application/octet-stream")
    whole = b"".join(parts)
    info = await store.concat(base, keys, "image/png")
    assert (info.size, info.sha256) == (len(whole), hashlib.sha256(whole).hexdigest())
    assert await read_all(store, base) == whole
    assert (await store.stat(base)).content_type == "image/png"
    assert await read_all(store, keys[0]) == parts[0]  # the parts are left in place
    single = await store.concat(base + "-one", keys[-1:], "text/plain")
    assert single.size == 4 and await read_all(store, base + "-one") == b"tail"
    with pytest.raises(NotFound):
        await store.concat(base + "-missing", [keys[0], f"{base}.tus/nope"], "text/plain")


async def test_failed_put_leaves_nothing(store: ObjectStore) -> None:
    with pytest.raises(TooLarge):
        await store.put("tenants/t1/partial", failing(b"y" * (6 * 1024 * 1024)), "image/png")
    with pytest.raises(NotFound):
        await store.stat("tenants/t1/partial")
    assert await store.list_objects("tenants/t1/partial") == []


async def test_missing_objects_are_not_found(store: ObjectStore, tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        await store.stat("tenants/t1/nope")
    with pytest.raises(NotFound):
        await read_all(store, "tenants/t1/nope")
    with pytest.raises(NotFound):
        await store.get_file("tenants/t1/nope", tmp_path / "x")


async def test_files_in_and_out(store: ObjectStore, tmp_path: Path) -> None:
    src = tmp_path / "src.bin"
    src.write_bytes(b"hello" * 1000)
    info = await store.put_file("tenants/t1/jobs/j/out.webp", src, "image/webp")
    assert info.sha256 == hashlib.sha256(src.read_bytes()).hexdigest()
    await store.get_file("tenants/t1/jobs/j/out.webp", tmp_path / "dst.bin")
    assert (tmp_path / "dst.bin").read_bytes() == src.read_bytes()


async def test_prefix_listing_and_deletion_are_scoped(store: ObjectStore) -> None:
    for key in [
        "tenants/a/jobs/1/x",
        "tenants/a/jobs/1/y",
        "tenants/a/jobs/10/z",
        "tenants/b/jobs/1/x",
    ]:
        await store.put(key, chunks(b"data"), "text/plain")
    listed = sorted(o.key for o in await store.list_objects("tenants/a/jobs/1/"))
    assert listed == ["tenants/a/jobs/1/x", "tenants/a/jobs/1/y"]
    assert await store.delete_prefix("tenants/a/jobs/1/") == 2
    assert [o.key for o in await store.list_objects("tenants/a/")] == ["tenants/a/jobs/10/z"]
    assert [o.key for o in await store.list_objects("tenants/b/")] == ["tenants/b/jobs/1/x"]


async def test_json_records(store: ObjectStore) -> None:
    await store.put_json("tenants/t1/uploads/r.json", {"name": "a.jpg", "size": 3})
    assert await store.get_json("tenants/t1/uploads/r.json") == {"name": "a.jpg", "size": 3}


@pytest.mark.parametrize("key", ["../escape", "/abs", "a//b", "a/./b", ""])
async def test_hostile_keys_are_refused(store: ObjectStore, key: str) -> None:
    with pytest.raises(InvalidArgument):
        await store.put(key, chunks(b"x"), "text/plain")


async def test_presigned_url_downloads_the_object(store: ObjectStore) -> None:
    import httpx

    await store.put("tenants/t1/jobs/p/out.txt", chunks(b"presigned!"), "text/plain")
    url = await store.presigned_url("tenants/t1/jobs/p/out.txt", "out.txt")
    if url is None:
        # The directory store streams through the gateway instead.
        assert type(getattr(store, "inner", store)).__name__ == "DirectoryStore"
        return
    async with httpx.AsyncClient() as client:
        resp = await client.get(url)
    assert resp.status_code == 200
    assert resp.content == b"presigned!"
    assert "out.txt" in resp.headers["content-disposition"]


async def test_minio_bucket_expires_results_after_the_ttl(minio_env: dict[str, str]) -> None:
    from minio import Minio

    bucket = f"ttl-{uuid.uuid4().hex[:8]}"
    host = minio_env["TRANSMUTE_OBJECT_STORE_URL"].split("/")[2]
    settings = Settings(
        object_store_url=f"s3://{host}/{bucket}",
        result_ttl_seconds=2 * 86400 + 5,
        s3_access_key=minio_env["TRANSMUTE_S3_ACCESS_KEY"],
        s3_secret_key=minio_env["TRANSMUTE_S3_SECRET_KEY"],
    )
    await open_object_store(settings).start()
    client = Minio(
        host,
        minio_env["TRANSMUTE_S3_ACCESS_KEY"],
        minio_env["TRANSMUTE_S3_SECRET_KEY"],
        secure=False,
    )
    [rule] = client.get_bucket_lifecycle(bucket).rules
    assert rule.rule_filter.prefix == "tenants/"
    # An operator's own rule survives a restart of the service; ours is updated in place.
    from minio.commonconfig import ENABLED, Filter
    from minio.lifecycleconfig import Expiration, LifecycleConfig, Rule

    theirs = Rule(
        ENABLED,
        rule_filter=Filter(prefix="logs/"),
        rule_id="operator-logs",
        expiration=Expiration(days=7),
    )
    client.set_bucket_lifecycle(bucket, LifecycleConfig([theirs, rule]))
    await open_object_store(settings.model_copy(update={"result_ttl_seconds": 86400})).start()
    rules = {r.rule_id: r for r in client.get_bucket_lifecycle(bucket).rules}
    assert set(rules) == {"operator-logs", rule.rule_id}
    assert rules["operator-logs"].expiration.days == 7
    assert rules[rule.rule_id].expiration.days == 1
    assert rule.expiration.days == 3


async def test_an_upload_to_an_unreachable_store_fails_instead_of_waiting() -> None:
    """The body keeps coming while the store is gone: the upload must end with the
    store's error, not wait on its full queue for ever."""
    import socket

    from transmute_common.errors import Unavailable

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    settings = Settings(
        object_store_url=f"s3://127.0.0.1:{port}/gone",
        s3_access_key="k" * 8,
        s3_secret_key="s" * 8,
        s3_part_size=5 * 1024 * 1024,
    )
    store = open_object_store(settings)
    with pytest.raises(Unavailable):
        await store.put("tenants/t1/x", chunks(b"z" * (40 * 1024 * 1024), 1 << 20), "image/png")


async def test_without_a_public_address_downloads_are_not_presigned(
    minio_env: dict[str, str],
) -> None:
    """The store's own address (e.g. minio.<namespace>.svc) means nothing to a client:
    without TRANSMUTE_S3_PUBLIC_URL there is no presigned URL, the gateway streams."""
    internal = Settings(
        object_store_url=minio_env["TRANSMUTE_OBJECT_STORE_URL"],
        s3_access_key=minio_env["TRANSMUTE_S3_ACCESS_KEY"],
        s3_secret_key=minio_env["TRANSMUTE_S3_SECRET_KEY"],
    )
    assert await open_object_store(internal).presigned_url("tenants/t1/a", "a") is None
    public = internal.model_copy(update={"s3_public_url": "https://files.example.com"})
    url = await open_object_store(public).presigned_url("tenants/t1/a", "a")
    assert url is not None and url.startswith("https://files.example.com/")
    assert "X-Amz-Signature=" in url


async def test_a_stalled_store_holds_the_upload_to_a_few_parts(tmp_path: Path) -> None:
    """While the store answers nothing, the upload reads at most the parts in flight plus
    the one filling, never the whole body; cancelled, it leaves no object behind."""
    import asyncio
    import signal

    from minio import Minio

    from tests.servers import MINIO_PASSWORD, MINIO_USER, minio_server
    from transmute_common.objectstore.s3 import PARTS_IN_FLIGHT

    server = minio_server(tmp_path)
    server.start()
    try:
        part = 5 * 1024 * 1024
        settings = Settings(
            object_store_url=f"s3://127.0.0.1:{server.port}/stall",
            s3_access_key=MINIO_USER,
            s3_secret_key=MINIO_PASSWORD,
            s3_part_size=part,
        )
        store = open_object_store(settings)
        await store.start()
        pulled = 0

        async def endless() -> AsyncIterator[bytes]:
            nonlocal pulled
            block = b"s" * (1 << 20)
            while True:
                pulled += len(block)
                yield block
                await asyncio.sleep(0)

        assert server.proc is not None
        server.proc.send_signal(signal.SIGSTOP)
        try:
            upload = asyncio.create_task(store.put("tenants/t1/stalled", endless(), "image/png"))
            await asyncio.sleep(3)
            assert not upload.done()
            assert pulled <= (PARTS_IN_FLIGHT + 2) * part + (1 << 20)
            upload.cancel()
        finally:
            server.proc.send_signal(signal.SIGCONT)
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(upload, 60)
        client = Minio(f"127.0.0.1:{server.port}", MINIO_USER, MINIO_PASSWORD, secure=False)
        assert list(client.list_objects("stall", prefix="tenants/", recursive=True)) == []
    finally:
        server.stop()
