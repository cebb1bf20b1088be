"""Refresh the message catalogs: extract English msgids, update the .po files, and fill the Chinese
translations from src/quanzi/locale/zh_CN/terms/*.json (one file per area, {"English": "中文"}).

Usage: .venv/bin/python tools/i18n.py   (or `make i18n`). Prints msgids that still lack a translation.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parents[1]
LOCALE = ROOT / "src" / "quanzi" / "locale"
BIN = Path(sys.executable).parent


def main() -> int:
    pot = LOCALE / "messages.pot"
    subprocess.run([str(BIN / "pybabel"), "extract", "-F", str(ROOT / "babel.cfg"), "-o", str(pot),
                    "--no-location", "--sort-output", str(ROOT / "src" / "quanzi")], check=True, capture_output=True)
    for lang in ("zh_CN", "en"):
        subprocess.run([str(BIN / "pybabel"), "update", "--no-fuzzy-matching", "--ignore-obsolete",
                        "-i", str(pot), "-d", str(LOCALE), "-l", lang], check=True, capture_output=True)
    terms: dict[str, str] = {}
    for f in sorted((LOCALE / "zh_CN" / "terms").glob("*.json")):
        terms.update(json.loads(f.read_text(encoding="utf-8")))
    po = LOCALE / "zh_CN" / "LC_MESSAGES" / "messages.po"
    with po.open("rb") as fh:
        catalog = read_po(fh, locale="zh_CN")
    missing = []
    for msg in catalog:
        if not msg.id:
            continue
        key = msg.id if isinstance(msg.id, str) else msg.id[0]
        if key in terms:
            msg.string = terms[key] if isinstance(msg.id, str) else (terms[key], terms[key])
            msg.flags.discard("fuzzy")
        elif not msg.string or (isinstance(msg.string, tuple) and not any(msg.string)):
            missing.append(key)
    with po.open("wb") as fh:
        write_po(fh, catalog, width=0, omit_header=False, sort_output=True, no_location=True)
    for m in missing:
        print(f"missing zh_CN translation: {m!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
