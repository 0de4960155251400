"""A tenant's stored settings: overrides of the gateway's default quotas, the default
webhook URL of its jobs and its webhook signing secret. Checked where they are written
(the access service), so every reader can trust them."""

from __future__ import annotations

from typing import Any

from transmute_common.errors import InvalidArgument
from transmute_common.webhooks import SECRET, check_url_shape

NUMBERS = (
    "submissions_per_minute",
    "concurrent_jobs",
    "upload_bytes_per_day",
    "max_file_bytes",
    "result_retention_seconds",
)
LISTS = ("allowed_operations", "allowed_targets")
STRINGS = ("webhook_url", "webhook_secret")


def check_overrides(overrides: dict[str, Any]) -> dict[str, Any]:
    """The overrides as stored, or InvalidArgument naming the first bad one. 0 means no
    limit; an empty list allows everything."""
    clean: dict[str, Any] = {}
    for name, value in overrides.items():
        if name in LISTS:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise InvalidArgument(f"{name} is a list of names", code="invalid_quota")
            clean[name] = [v.strip().lower() for v in value]
        elif name in NUMBERS:
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise InvalidArgument(f"{name} is a whole number >= 0", code="invalid_quota")
            clean[name] = value
        elif name == "webhook_url":
            clean[name] = check_url_shape(str(value))
        elif name == "webhook_secret":
            if not isinstance(value, str) or not SECRET.match(value):
                raise InvalidArgument("webhook_secret is whsec_<base64>", code="invalid_quota")
            clean[name] = value
        else:
            raise InvalidArgument(
                f"no setting named {name!r} (known: {', '.join(NUMBERS + LISTS + STRINGS)})",
                code="invalid_quota",
            )
    return clean
