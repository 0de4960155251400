"""Gateway settings (``TRANSMUTE_*`` variables, see transmute_common.settings)."""

from pydantic import Field

from transmute_common.settings import Settings


class GatewaySettings(Settings):
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    grpc_port: int = 50051
    grpc_reflection: bool = True  # the public API: clients may discover it
    max_upload_bytes: int = Field(default=2 * 1024**3, ge=1)
    max_options_bytes: int = Field(default=64 * 1024, ge=2)
    # Any request body that is not an upload (e.g. POST /v1/jobs).
    max_json_bytes: int = Field(default=256 * 1024, ge=1024)
    # Inputs of one job, whatever the operation; each operation states its own limit too.
    max_inputs: int = Field(default=100, ge=1)
    capabilities_ttl_seconds: float = 30.0
    # Job submissions per tenant and gateway replica; bursts up to submit_burst.
    submit_rate_per_minute: int = Field(default=1200, ge=1)
    submit_burst: int = Field(default=200, ge=1)
