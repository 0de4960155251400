"""Configuration shared by every service, read from ``TRANSMUTE_*`` environment variables.

Backends are chosen by URL so the same variables work locally and in the Helm chart:
``TRANSMUTE_OBJECT_STORE_URL`` (``file:///dir`` or ``s3://host:port/bucket``) and
``TRANSMUTE_JOB_STORE_URL`` (``sqlite:///file`` or ``mongodb://...``).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

STATE_DIR = Path(".transmute").resolve()
MIB = 1024 * 1024


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TRANSMUTE_", extra="ignore")

    nats_url: str = "nats://127.0.0.1:4222"
    object_store_url: str = f"file://{STATE_DIR / 'objects'}"
    job_store_url: str = f"sqlite:///{STATE_DIR / 'jobs.db'}"
    s3_access_key: SecretStr | None = None
    s3_secret_key: SecretStr | None = None
    s3_secure: bool = False
    s3_region: str | None = None
    # Where clients reach the object store (e.g. https://files.example.com): presigned
    # download URLs are signed for it. Unset: downloads stream through the gateway, as
    # the store's own address (e.g. minio.<namespace>.svc) means nothing to a client.
    s3_public_url: str | None = None
    s3_part_size: int = Field(default=8 * MIB, ge=5 * MIB)
    # Create the bucket and set its expiry rule at start (bucket-admin rights). Off, a
    # service only checks that the bucket is there: the chart turns it off for every
    # service but the jobs service, whose credentials alone may manage the bucket.
    s3_manage_bucket: bool = True
    presign_seconds: int = Field(default=900, ge=1, le=7 * 86400)

    # Addresses of the gRPC services this process talks to.
    jobs_address: str = "127.0.0.1:50052"
    converters: dict[str, str] = {
        "image": "127.0.0.1:50061",
        "audio": "127.0.0.1:50062",
        "pdf": "127.0.0.1:50063",
        "model3d": "127.0.0.1:50064",
    }

    # Where this process serves gRPC; each service sets its own default.
    grpc_host: str = "127.0.0.1"
    grpc_port: int = 0
    # gRPC server reflection (grpcurl can list and call methods without the protos):
    # on for the gateway's public API; off for internal services, where it would cost
    # about 5 MB per process and show the internal API to anyone on the network.
    grpc_reflection: bool = False

    result_ttl_seconds: int = Field(default=86400, ge=60)
    default_tenant: str = "default"
    # Networks webhooks may reach although not public (e.g. ["10.20.0.0/16"] for an
    # in-cluster receiver); every other private, loopback or link-local target is refused.
    webhook_allowed_networks: list[str] = []

    # JetStream delivery policy for conversion requests.
    stream_name: str = "CONVERT"
    max_deliver: int = Field(default=4, ge=1)
    redelivery_backoff: list[float] = [2.0, 10.0, 30.0]
    ack_wait_seconds: float = 30.0
    heartbeat_seconds: float = 10.0
    # Conversion requests in flight at once across all replicas of a converter (the
    # durable consumer's max_ack_pending): size it for replicas x concurrency.
    max_ack_pending: int = Field(default=1000, ge=1)
