"""kit/console form helpers shared by the campaign consoles: every wrong field reported at once, per-SKU
columns read defensively, and the JSON API's schema as the last word."""

from __future__ import annotations

from pydantic import BaseModel

from quanzi.kit.console import collect, parse_int, schema_backstop, sku_rows


def test_collect_keeps_going_after_a_bad_field() -> None:
    errors: dict[str, str] = {}
    assert collect(errors, "a", lambda: parse_int("x", low=1, high=9)) is None
    assert collect(errors, "b", lambda: parse_int("7", low=1, high=9)) == 7
    assert collect(errors, "c", lambda: parse_int("", low=1, high=9)) is None
    assert set(errors) == {"a", "c"}


def test_sku_rows_pairs_columns_and_drops_tampered_ids() -> None:
    rows = sku_rows(["11", "evil", "0", "12"], price=["9.90", "1", "2", "5"], quota=["3"])
    assert rows == {11: {"price": "9.90", "quota": "3"}, 12: {"price": "5", "quota": ""}}
    assert sku_rows(None, price=None) == {}
    assert len(sku_rows([str(i) for i in range(1, 100)], price=None)) == 20  # a form never has more rows


class Probe(BaseModel):
    size_fen: int
    title: str


def test_schema_backstop_files_complaints_under_form_names() -> None:
    errors: dict[str, str] = {}
    schema_backstop(errors, Probe, {"size_fen": "many", "title": "ok"}, lambda k: k.removesuffix("_fen"))
    assert list(errors) == ["size"] and errors["size"]
    errors = {}
    schema_backstop(errors, Probe, {"size_fen": 3, "title": "ok"})
    assert errors == {}
