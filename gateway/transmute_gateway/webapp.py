"""Serves the web app (built from web/ into TRANSMUTE_WEB_DIR) at `/`.

`index.html` is never cached; the content-hashed files under `/assets/` are cached for
a year and gzip-compressed. Routes are exactly `/` and `/assets/...`, so the API's own
404s and 405s are untouched. Without a built app, `/` says how to build it."""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from starlette.middleware.gzip import GZipMiddleware
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from transmute_common.logging import get_logger

log = get_logger(__name__)

NOT_BUILT = """<!doctype html><meta charset="utf-8"><title>Transmute</title>
<p>The web app is not built on this gateway (<code>make web</code> builds it into
<code>web/dist</code>; <code>TRANSMUTE_WEB_DIR</code> says where it is).
The API: <a href="/docs">/docs</a>.</p>"""


class HashedAssets(StaticFiles):
    """Vite names every asset by its content hash: a name is never reused for new bytes."""

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        return response


def install(app: FastAPI, web_dir: str) -> None:
    root = Path(web_dir) if web_dir else None
    index = root / "index.html" if root else None
    if root is None or index is None or not index.is_file():
        log.info("web_app_missing", web_dir=web_dir or "(unset)")

        @app.get("/", include_in_schema=False)
        async def not_built() -> HTMLResponse:
            return HTMLResponse(NOT_BUILT, status_code=404)

        return
    page = index.read_text()

    @app.get("/", include_in_schema=False)
    async def web_app() -> HTMLResponse:
        return HTMLResponse(page, headers={"Cache-Control": "no-cache"})

    assets = HashedAssets(directory=root / "assets", check_dir=False)
    app.mount("/assets", GZipMiddleware(assets, minimum_size=1024), name="assets")
