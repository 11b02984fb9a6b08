"""/docs (Swagger UI) and /redoc from files installed with the fastapi-offline package, so the docs work where
there is no internet; each page allows exactly its own inline script (by hash) in its Content Security Policy."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

from fastapi import APIRouter
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from facegate.extras import optional_imports

with optional_imports("server", "the API docs (/docs, /redoc)"):
    import fastapi_offline

ASSETS = Path(fastapi_offline.__file__).resolve().parent / "static"
ASSETS_URL = "/docs-assets"
OPENAPI_URL = "/openapi.json"

router = APIRouter(include_in_schema=False)


def _with_policy(page: HTMLResponse) -> HTMLResponse:
    """The page with a CSP that admits its own inline scripts by hash, the bundled files, and the inline styles and
    blob: workers Swagger UI and ReDoc use."""
    scripts = re.findall(rb"<script>(.*?)</script>", page.body, re.DOTALL)
    hashes = " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(s).digest()).decode()}'" for s in scripts)
    page.headers["Content-Security-Policy"] = (
        f"default-src 'self'; script-src 'self' {hashes}; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "worker-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    )
    return page


@router.get("/docs")
def swagger_ui() -> HTMLResponse:
    return _with_policy(
        get_swagger_ui_html(
            openapi_url=OPENAPI_URL,
            title="FaceGate API",
            swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_URL}/favicon.png",
        )
    )


@router.get("/redoc")
def redoc() -> HTMLResponse:
    return _with_policy(
        get_redoc_html(
            openapi_url=OPENAPI_URL,
            title="FaceGate API",
            redoc_js_url=f"{ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{ASSETS_URL}/favicon.png",
            with_google_fonts=False,
        )
    )


router.mount(ASSETS_URL, StaticFiles(directory=ASSETS), name="docs-assets")
