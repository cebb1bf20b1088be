"""Where the page assets from npm (htmx, Alpine, ECharts, Swagger UI, ReDoc) are found at run time.

The folder `QUANZI_ASSETS_DIR` names (a `node_modules` where `npm ci` ran) when it is set, and only it;
else the copy a wheel carries inside the package (`quanzi/vendor/<name>/`, put there by `hatch_build.py` at
build time), else the source checkout's own `node_modules`. Infrastructure only; `hatch_build.py` reads
VENDOR from this file too, so the wheel carries exactly what the pages load.
"""

from __future__ import annotations

from pathlib import Path

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
