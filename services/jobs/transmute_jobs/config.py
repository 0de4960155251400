"""Jobs service settings (``TRANSMUTE_*`` variables, see transmute_common.settings)."""

from pydantic import Field

from transmute_common.settings import Settings


class JobsSettings(Settings):
    grpc_port: int = 50052
    mongo_write_concern: str = "majority"
    sweep_interval_seconds: float = Field(default=60.0, gt=0)
    watch_resync_seconds: float = Field(default=15.0, gt=0)
    # Live jobs unchanged this long are checked against the conversion stream.
    reconcile_interval_seconds: float = Field(default=30.0, gt=0)
    reconcile_after_seconds: float = Field(default=120.0, gt=0)
    # A job whose attempts are spent and that stayed unchanged this long (longer than any
    # converter's timeout) is failed even if its max-deliveries advisory never came.
    reconcile_exhausted_seconds: float = Field(default=3600.0, gt=0)
    reconcile_batch: int = Field(default=500, ge=1)
    # tm_<id>_<secret> stored as an admin key of the default tenant at start (a Secret
    # in the chart): the key every other key is made from.
    bootstrap_admin_key: str = Field(default="", repr=False)
    # Webhooks: one request's time limit, the first wait before a retry (doubling each
    # time up to the longest), and how long after the job ended retries go on.
    webhook_timeout_seconds: float = Field(default=10.0, gt=0)
    webhook_backoff_seconds: float = Field(default=5.0, gt=0)
    webhook_max_backoff_seconds: float = Field(default=3600.0, gt=0)
    webhook_retry_seconds: float = Field(default=86400.0, gt=0)
