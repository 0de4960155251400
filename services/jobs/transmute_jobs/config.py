"""Jobs service settings (``TRANSMUTE_*`` variables, see transmute_common.settings)."""

from pydantic import Field

from transmute_common.settings import Settings


class JobsSettings(Settings):
    grpc_port: int = 50052
    mongo_write_concern: str = "majority"
    sweep_interval_seconds: float = Field(default=60.0, gt=0)
    watch_resync_seconds: float = Field(default=15.0, gt=0)
