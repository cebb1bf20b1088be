"""Domains depend one way: import-linter's layers contract (pyproject.toml, [tool.importlinter]) holds for the
code, and breaks when a lower domain imports a higher one (a copy of the package with one upward import)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).parent / "lint-imports"


def lint(src: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(LINT), "--no-cache", "--config", str(ROOT / "pyproject.toml")], cwd=cwd,
                          env={"PYTHONPATH": str(src), "PATH": "/usr/bin:/bin"}, capture_output=True, text=True,
                          timeout=120)


def test_the_layers_contract_is_kept() -> None:
    done = lint(ROOT / "src", ROOT)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "Contracts: 1 kept, 0 broken." in done.stdout


def test_an_upward_import_breaks_the_contract(tmp_path: Path) -> None:
    src = tmp_path / "src"
    shutil.copytree(ROOT / "src" / "quanzi", src / "quanzi", ignore=shutil.ignore_patterns("__pycache__", "*.mo"))
    catalog = src / "quanzi" / "catalog" / "service.py"
    catalog.write_text(catalog.read_text(encoding="utf-8") + "\nfrom quanzi.orders import service as _orders  # up\n",
                       encoding="utf-8")
    done = lint(src, tmp_path)
    assert done.returncode != 0
    assert "quanzi.catalog is not allowed to import quanzi.orders" in done.stdout, done.stdout[-3000:]
