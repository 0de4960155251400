"""The gateway's serving of the built web app, apart from the mesh."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient

from transmute_gateway import webapp
from transmute_gateway.headers import SecurityHeaders


def app_with(web_dir: str, store_url: str | None = None) -> TestClient:
    app = FastAPI()
    webapp.install(app, web_dir)
    app.add_middleware(SecurityHeaders, store_url=store_url)
    return TestClient(app)


def test_without_a_built_app_the_root_says_how_to_build_it(tmp_path: Path) -> None:
    for web_dir in ("", str(tmp_path / "missing")):
        resp = app_with(web_dir).get("/")
        assert resp.status_code == 404
        assert "make web" in resp.text


def test_a_built_app_is_served_with_its_policy_and_caching(tmp_path: Path) -> None:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text('<script src="/assets/app-1a2b.js"></script>')
    script = b"console.log('transmute');\n" * 200
    (tmp_path / "assets" / "app-1a2b.js").write_bytes(script)
    client = app_with(str(tmp_path), store_url="https://files.example.com:9000/bucket")
    index = client.get("/")
    assert index.status_code == 200 and "app-1a2b.js" in index.text
    assert index.headers["cache-control"] == "no-cache"
    policy = index.headers["content-security-policy"]
    assert "connect-src 'self' blob: data: https://files.example.com:9000;" in policy
    asset = client.get("/assets/app-1a2b.js", headers={"Accept-Encoding": "gzip"})
    assert asset.headers["content-encoding"] == "gzip" and asset.content == script
    assert "immutable" in asset.headers["cache-control"]
    assert "connect-src" in asset.headers["content-security-policy"]
    assert client.get("/assets/other.js").status_code == 404
    assert client.get("/assets/../index.html").status_code == 404
    # Anything else keeps the API's policy.
    assert client.get("/v1/x").headers["content-security-policy"].startswith("default-src 'none'")
