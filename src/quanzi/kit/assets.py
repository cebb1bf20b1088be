"""Where the page assets from npm (htmx, Alpine, ECharts, Swagger UI, ReDoc) are found at run time.

The folder `QUANZI_ASSETS_DIR` names (a `node_modules` where `npm ci` ran) when it is set, and only it;
else the copy a wheel carries inside the package (`quanzi/vendor/<name>/`, put there by `hatch_build.py` at
build time), else the source checkout's own `node_modules`. Infrastructure only; `hatch_build.py` reads
VENDOR from this file too, so the wheel carries exactly what the pages load.
"""

from __future__ import annotations

import functools
import gzip
from pathlib import Path

from starlette.datastructures import Headers
from starlette.responses import FileResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

PACKAGE = Path(__file__).resolve().parents[1]
CHECKOUT_NODE_MODULES = PACKAGE.parents[1] / "node_modules"
PACKAGED = PACKAGE / "vendor"

# URL name -> (folder inside node_modules, the files pages load from it). Only these reach a wheel.
VENDOR: dict[str, tuple[str, tuple[str, ...]]] = {
    "htmx": ("htmx.org/dist", ("htmx.min.js",)),
    "alpine": ("@alpinejs/csp/dist", ("cdn.min.js",)),
    "echarts": ("echarts/dist", ("echarts.min.js",)),
    "swagger-ui": ("swagger-ui-dist", ("swagger-ui-bundle.js", "swagger-ui.css")),
    "redoc": ("redoc/bundles", ("redoc.standalone.js",)),
}


class AssetsMissing(RuntimeError):
    """The page assets are nowhere to be found; the message says how to get them."""


def _complete(folder: Path, files: tuple[str, ...]) -> bool:
    return all((folder / f).is_file() for f in files)


def vendor_dir(name: str, assets_dir: Path | None = None) -> Path:
    """The folder serving /static/vendor/<name>/ (the checkout's node_modules one when none is complete,
    so a missing file answers 404 rather than failing at import; `check` says what is missing)."""
    sub, files = VENDOR[name]
    if assets_dir is not None:  # an explicit setting is never second-guessed: a wrong one fails `check`
        return assets_dir / sub
    candidates = [PACKAGED / name, CHECKOUT_NODE_MODULES / sub]
    for folder in candidates:
        if _complete(folder, files):
            return folder
    return candidates[-1]


def check(assets_dir: Path | None = None) -> None:
    """Raise AssetsMissing naming every absent file (`quanzi serve` calls this before it listens)."""
    missing = [f"{name}/{f}" for name, (_sub, files) in VENDOR.items()
               for f in files if not (vendor_dir(name, assets_dir) / f).is_file()]
    if missing:
        where = f"QUANZI_ASSETS_DIR={assets_dir}" if assets_dir else f"{CHECKOUT_NODE_MODULES} or {PACKAGED}"
        raise AssetsMissing(
            f"Page assets missing ({', '.join(missing)}); looked in {where}. In a source checkout run "
            "`make setup` (npm ci); for an installed copy, install a wheel built after `npm ci` or set "
            "QUANZI_ASSETS_DIR to a node_modules folder holding package.json's packages.")


# --- compressed static files --------------------------------------------------------------------------------

GZIP_TYPES = ("text/", "application/javascript", "application/json", "image/svg+xml", "application/xml")
GZIP_MAX_BYTES = 8 * 1024 * 1024
GZIP_MIN_BYTES = 1024


@functools.lru_cache(maxsize=128)
def _gzipped(path: str, mtime: float, size: int) -> bytes:
    """A file's gzip body, made once per file version per process (mtime and size are part of the key)."""
    return gzip.compress(Path(path).read_bytes(), compresslevel=9, mtime=0)


class GzipStaticFiles(StaticFiles):
    """StaticFiles that answers text assets gzip-compressed when the client accepts it.

    Starlette's GZipMiddleware leaves file responses alone when the server sends files itself (granian
    offers the ASGI `pathsend` extension), so JS and CSS left uncompressed; here each file is compressed
    once and served from memory."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if not isinstance(response, FileResponse) or response.status_code != 200 or response.stat_result is None:
            return response
        accepts = Headers(scope=scope).get("accept-encoding", "")
        size = response.stat_result.st_size
        if ("gzip" not in accepts.lower() or not (GZIP_MIN_BYTES <= size <= GZIP_MAX_BYTES)
                or not (response.media_type or "").startswith(GZIP_TYPES)):
            return response
        body = _gzipped(str(response.path), response.stat_result.st_mtime, size)
        headers = {k: v for k, v in response.headers.items() if k not in ("content-length", "accept-ranges")}
        headers.update({"content-encoding": "gzip", "vary": "Accept-Encoding", "content-length": str(len(body))})
        return Response(b"" if scope.get("method") == "HEAD" else body, status_code=200, headers=headers)
