"""Tenant quota overrides: checked where they are written, merged over the defaults."""

from __future__ import annotations

import pytest

from transmute_common.errors import InvalidArgument
from transmute_common.keys import key_from_token, new_key, parse_token
from transmute_common.tenants import check_overrides
from transmute_gateway.quotas import Limits


def test_overrides_are_checked_and_normalised() -> None:
    clean = check_overrides(
        {"submissions_per_minute": 60, "max_file_bytes": 1000.0, "allowed_targets": [" WebP "]}
    )
    assert clean == {
        "submissions_per_minute": 60,
        "max_file_bytes": 1000,
        "allowed_targets": ["webp"],
    }
    for bad in (
        {"nope": 1},
        {"concurrent_jobs": -1},
        {"concurrent_jobs": True},
        {"concurrent_jobs": "5"},
        {"allowed_operations": "convert"},
        {"allowed_operations": [1]},
    ):
        with pytest.raises(InvalidArgument):
            check_overrides(bad)


def test_limits_take_the_tenants_overrides() -> None:
    defaults = Limits(submissions_per_minute=100, concurrent_jobs=5)
    merged = defaults.merged({"concurrent_jobs": 0, "allowed_targets": ["png"]})
    assert merged == Limits(100, 0, 0, 0, 0, (), ("png",))
    assert merged.view()["allowed_targets"] == ["png"]


def test_key_tokens() -> None:
    key, token = new_key("acme", "user")
    assert parse_token(token) is not None and key_from_token(token, key)
    other, other_token = new_key("acme", "user")
    assert not key_from_token(other_token, key) and not key_from_token(token, other)
    assert parse_token("tm_" + "a" * 16) is None and parse_token(token + "=") is None
    with pytest.raises(InvalidArgument):
        new_key("acme", "root")


def test_webhook_settings_are_checked() -> None:
    from transmute_common.webhooks import new_secret

    secret = new_secret()
    clean = check_overrides(
        {"webhook_url": "https://hooks.example.com/t", "webhook_secret": secret}
    )
    assert clean == {"webhook_url": "https://hooks.example.com/t", "webhook_secret": secret}
    for bad in (
        {"webhook_url": "ftp://x/y"},
        {"webhook_url": "https://u:p@x/y"},
        {"webhook_secret": "plain"},
        {"webhook_secret": "whsec_short"},
    ):
        with pytest.raises(InvalidArgument):
            check_overrides(bad)
