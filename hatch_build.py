"""Wheel build hook: an installed copy of Quanzi carries its page assets, compiled translations and migrations.

Assets and .mo files are build products the repository never commits (node_modules/ from `npm ci`, *.mo from
pybabel), and hatch leaves git-ignored files out of a wheel. So a regular (non-editable) wheel build copies the
files the pages load from node_modules into `quanzi/vendor/<name>/`, compiles the .po catalogs into .mo files
and puts migrations/ at `quanzi/migrations`; it stops with a clear message when `npm ci` has not run.
Editable installs read the checkout directly.
"""

from __future__ import annotations

import ast
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

HERE = Path(__file__).resolve().parent
PACKAGE = HERE / "src" / "quanzi"


def _vendor_table() -> dict[str, tuple[str, tuple[str, ...]]]:
    """VENDOR from src/quanzi/kit/assets.py, read without importing the package (its deps are not in the
    build environment)."""
    tree = ast.parse((PACKAGE / "kit" / "assets.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", None) == "VENDOR":
            return ast.literal_eval(node.value)  # type: ignore[arg-type]
    raise RuntimeError("VENDOR not found in src/quanzi/kit/assets.py")


class AssetsHook(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "quanzi-assets"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel" or version == "editable":
            return
        include: dict[str, str] = build_data.setdefault("force_include", {})
        node_modules = HERE / "node_modules"
        missing: list[str] = []
        for name, (sub, files) in _vendor_table().items():
            for f in files:
                src = node_modules / sub / f
                if src.is_file():
                    include[str(src)] = f"quanzi/vendor/{name}/{f}"
                else:
                    missing.append(str(src))
        # `quanzi migrate` from an installed copy: the migrations travel inside the package.
        include[str(HERE / "migrations")] = "quanzi/migrations"
        if missing:
            raise RuntimeError("Cannot build a wheel without the page assets; run `npm ci` first. Missing: "
                               + ", ".join(missing))
        from babel.messages.mofile import write_mo
        from babel.messages.pofile import read_po

        self._mo_dir = tempfile.TemporaryDirectory(prefix="quanzi-mo-")
        for po in sorted((PACKAGE / "locale").glob("*/LC_MESSAGES/messages.po")):
            locale = po.parent.parent.name
            mo = Path(self._mo_dir.name) / f"{locale}.mo"
            with po.open("rb") as fin:
                catalog = read_po(fin, locale=locale)
            with mo.open("wb") as fout:
                write_mo(fout, catalog, use_fuzzy=True)
            include[str(mo)] = f"quanzi/locale/{locale}/LC_MESSAGES/messages.mo"

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        mo_dir = getattr(self, "_mo_dir", None)
        if mo_dir is not None:
            mo_dir.cleanup()
