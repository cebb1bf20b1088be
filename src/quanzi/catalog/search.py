"""Chinese full-text search: rjieba segments text into a search column; FTS5 (SQLite) or a GIN index
over to_tsvector('simple', …) (PostgreSQL) indexes it. Two-character words such as 苹果 are found.
"""

from __future__ import annotations

import re

import rjieba
from sqlalchemy import DDL, event, text
from sqlalchemy.sql.elements import TextClause

from quanzi.catalog.models import Product

_WORD = re.compile(r"\w", re.UNICODE)

SQLITE_DDL = [
    "CREATE VIRTUAL TABLE IF NOT EXISTS product_fts USING fts5(search_text, content='products', content_rowid='id')",
    "CREATE TRIGGER IF NOT EXISTS products_fts_ai AFTER INSERT ON products BEGIN "
    "INSERT INTO product_fts(rowid, search_text) VALUES (new.id, new.search_text); END",
    "CREATE TRIGGER IF NOT EXISTS products_fts_ad AFTER DELETE ON products BEGIN "
    "INSERT INTO product_fts(product_fts, rowid, search_text) VALUES ('delete', old.id, old.search_text); END",
    "CREATE TRIGGER IF NOT EXISTS products_fts_au AFTER UPDATE OF search_text ON products BEGIN "
    "INSERT INTO product_fts(product_fts, rowid, search_text) VALUES ('delete', old.id, old.search_text); "
    "INSERT INTO product_fts(rowid, search_text) VALUES (new.id, new.search_text); END",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS products_fts_au", "DROP TRIGGER IF EXISTS products_fts_ad",
    "DROP TRIGGER IF EXISTS products_fts_ai", "DROP TABLE IF EXISTS product_fts",
]
POSTGRES_DDL = ["CREATE INDEX IF NOT EXISTS ix_products_search ON products USING gin (to_tsvector('simple', search_text))"]
POSTGRES_DROP = ["DROP INDEX IF EXISTS ix_products_search"]


def ddl_for(dialect: str) -> list[str]:
    return SQLITE_DDL if dialect == "sqlite" else POSTGRES_DDL


def drop_ddl_for(dialect: str) -> list[str]:
    return SQLITE_DROP if dialect == "sqlite" else POSTGRES_DROP


# Schema built with metadata.create_all (tests) gets the same index as the migration.
for _stmt in SQLITE_DDL:
    event.listen(Product.__table__, "after_create", DDL(_stmt).execute_if(dialect="sqlite"))
for _stmt in POSTGRES_DDL:
    event.listen(Product.__table__, "after_create", DDL(_stmt).execute_if(dialect="postgresql"))


def tokens(value: str) -> list[str]:
    """Search tokens of a text: rjieba's search-mode segmentation, lower-cased, words only."""
    out: list[str] = []
    seen: set[str] = set()
    for tok in rjieba.cut_for_search(value or ""):
        tok = tok.strip().lower()
        if tok and _WORD.search(tok) and tok not in seen:
            seen.add(tok)
            out.append(tok)
    return out


def search_text(*parts: str) -> str:
    return " ".join(tokens(" ".join(p for p in parts if p)))


def match_clause(dialect: str, query: str) -> tuple[TextClause, dict[str, str]] | None:
    """A WHERE clause on products.id matching every token of `query`, or None for an empty query."""
    toks = [t.replace('"', "") for t in tokens(query)][:8]
    toks = [t for t in toks if t]
    if not toks:
        return None
    if dialect == "sqlite":
        expr = " ".join(f'"{t}"' for t in toks)
        return text("products.id IN (SELECT rowid FROM product_fts WHERE product_fts MATCH :q)"), {"q": expr}
    return text("to_tsvector('simple', products.search_text) @@ plainto_tsquery('simple', :q)"), {"q": " ".join(toks)}
