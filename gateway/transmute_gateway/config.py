"""Gateway settings (``TRANSMUTE_*`` variables, see transmute_common.settings)."""

from pydantic import Field, SecretStr

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
    # Authentication (docs/security.md). Off: every caller is the default tenant's admin.
    auth_enabled: bool = False
    # A verified API key is trusted this long per replica: revocation takes effect on
    # every replica within it.
    auth_cache_seconds: float = Field(default=1.0, ge=0, le=60)
    # HMAC key of guest tokens and signed download links; one for all replicas (a
    # Secret). Empty: a random key per process (fine for one replica).
    signing_key: SecretStr = SecretStr("")
    oidc_issuer: str = ""
    oidc_audience: str = ""
    oidc_jwks_url: str = ""  # empty: from the issuer's discovery document
    oidc_algorithms: list[str] = ["RS256", "ES256"]
    # A token naming a key id the cached JWKS lacks fetches it again, at most this often.
    oidc_jwks_refetch_seconds: float = Field(default=30.0, ge=0)
    oidc_tenant_claim: str = "tenant"
    oidc_role_claim: str = "role"
    oidc_default_role: str = "user"
    oidc_default_tenant: str = ""  # for tokens without the tenant claim; empty: refused
    guest_enabled: bool = False
    guest_token_seconds: int = Field(default=3600, ge=60, le=86400)
    # Quotas per tenant, counted across replicas (docs/security.md); 0: no limit.
    # Tenants override them (transmute-admin tenants set).
    quota_submissions_per_minute: int = Field(default=0, ge=0)
    quota_concurrent_jobs: int = Field(default=0, ge=0)
    quota_upload_bytes_per_day: int = Field(default=0, ge=0)
    quota_max_file_bytes: int = Field(default=0, ge=0)
    guest_submissions_per_minute: int = Field(default=10, ge=0)
    guest_concurrent_jobs: int = Field(default=2, ge=0)
    guest_upload_bytes_per_day: int = Field(default=200 * 1024**2, ge=0)
    guest_max_file_bytes: int = Field(default=50 * 1024**2, ge=0)
    # Browser origins allowed to call the API (CORS); empty: none.
    cors_origins: list[str] = []
    # Strict-Transport-Security on every answer, for TLS that ends before the gateway
    # (an ingress); requests that arrive over TLS get it anyway.
    hsts: bool = False
    # How long an unfinished tus upload may be resumed (Upload-Expires).
    tus_expiry_seconds: int = Field(default=86400, ge=60)
    # The built web app (web/dist) served at `/`; empty or missing: `/` says so.
    web_dir: str = ""
