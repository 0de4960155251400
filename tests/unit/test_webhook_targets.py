"""Which webhook targets are refused: every address a name resolves to must be public,
unless a network is allowed."""

from __future__ import annotations

import pytest

from transmute_common.errors import InvalidArgument
from transmute_common.webhooks import check_target, networks


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/x",
        "http://localhost:8080/x",
        "http://10.0.0.5/x",
        "http://172.16.3.4/x",
        "http://192.168.1.1/x",
        "http://169.254.169.254/latest/meta-data/",
        "http://100.64.0.1/x",
        "http://0.0.0.0/x",
        "http://[::1]/x",
        "http://[fe80::1]/x",
        "http://[fd12::1]/x",
        "http://[::ffff:10.0.0.1]/x",
        "http://224.0.0.1/x",
    ],
)
async def test_non_public_targets_are_refused(url: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        await check_target(url, [])
    assert caught.value.code == "webhook_url_not_allowed"


async def test_public_and_allowed_targets_pass() -> None:
    await check_target("https://93.184.215.14/hook", [])
    await check_target("http://[2606:4700::1111]/hook", [])
    await check_target("http://127.0.0.1:9000/hook", networks(["127.0.0.0/8"]))
    await check_target("http://10.20.1.2/hook", networks(["10.20.0.0/16"]))
    with pytest.raises(InvalidArgument):
        await check_target("http://10.21.1.2/hook", networks(["10.20.0.0/16"]))


@pytest.mark.parametrize(
    "url", ["ftp://example.com/x", "https://user:pw@example.com/x", "example.com", "http:///x"]
)
async def test_malformed_targets_are_refused(url: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        await check_target(url, [])
    assert caught.value.code == "invalid_webhook_url"


@pytest.mark.parametrize(
    "url",
    ["http://[::1/x", "http://host:port/x", "http://exa\x00mple.com/", "http://bücher.example/x",
     "http://" + "a" * 3000 + ".com/"],
)  # fmt: skip
async def test_odd_urls_are_clear_errors_not_crashes(url: str) -> None:
    with pytest.raises(InvalidArgument):
        await check_target(url, [])
