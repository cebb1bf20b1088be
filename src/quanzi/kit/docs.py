"""The API documentation pages (/docs Swagger UI, /redoc ReDoc) and the favicon, all from this origin.

FastAPI's own pages load Swagger UI and ReDoc from a CDN, which the CSP (script-src 'self') blocks, so /docs
was blank. Here both come from npm packages served under /static/vendor/ (kit/assets.py). ReDoc's page is
FastAPI's get_redoc_html with our URLs; Swagger UI's is written out below because get_swagger_ui_html starts
the UI with an inline <script>, which the same CSP refuses: static/js/docs.js starts it instead.
"""

from __future__ import annotations

from html import escape

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html
from fastapi.responses import FileResponse, HTMLResponse
from starlette.responses import Response

from quanzi.kit.assets import PACKAGE

router = APIRouter(include_in_schema=False)

FAVICON = PACKAGE / "static" / "img" / "favicon.svg"
FAVICON_URL = "/favicon.svg"
SWAGGER = "/static/vendor/swagger-ui"


def _openapi_url(request: Request) -> str:
    return str(request.scope.get("root_path", "")) + (request.app.openapi_url or "/openapi.json")


@router.get("/docs")
async def swagger_ui(request: Request) -> HTMLResponse:
    title = escape(f"{request.app.title} · Swagger UI")
    return HTMLResponse(f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="icon" href="{FAVICON_URL}" type="image/svg+xml">
<link rel="stylesheet" href="{SWAGGER}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{escape(_openapi_url(request))}"></div>
<script src="{SWAGGER}/swagger-ui-bundle.js"></script>
<script src="/static/js/docs.js"></script>
</body>
</html>""")


@router.get("/redoc")
async def redoc(request: Request) -> HTMLResponse:
    return get_redoc_html(openapi_url=_openapi_url(request), title=f"{request.app.title} · ReDoc",
                          redoc_js_url="/static/vendor/redoc/redoc.standalone.js", redoc_favicon_url=FAVICON_URL,
                          with_google_fonts=False)


@router.get(FAVICON_URL)
async def favicon_svg() -> Response:
    return FileResponse(FAVICON, media_type="image/svg+xml", headers={"cache-control": "public, max-age=86400"})


@router.get("/favicon.ico")
async def favicon_ico() -> Response:
    # Browsers and crawlers ask for /favicon.ico by habit; the same SVG answers (browsers that show SVG icons
    # go by the content type, not the name), so there is one source file and no built .ico.
    return await favicon_svg()
