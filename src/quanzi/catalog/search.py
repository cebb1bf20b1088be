"""Chinese product search: words (rjieba) and character n-grams indexed side by side, operator-edited
synonyms applied at query time, ranking that puts exact word hits first, and suggestions for a search
that finds nothing.

Two indexed columns per product:
- `search_text`: rjieba's search-mode words (苹果, 脐橙, 奶油, 草莓) — what an exact word hit means;
- `search_grams`: every single CJK character and every pair of neighbouring ones within a run (赣南脐橙 →
  赣 南 脐 橙 赣南 南脐 脐橙), plus each Latin/digit word — so 草莓 finds 奶油草莓 and 橙 finds 赣南脐橙 whatever
  the segmenter did.

Both are space-separated tokens in plain columns, indexed by FTS5 (SQLite, an external-content table with
two columns kept in sync by triggers) and by GIN over to_tsvector('simple', …) (PostgreSQL). Both engines
then see the same tokens and answer the same queries, which is why the n-grams are made here rather than by
FTS5's trigram tokenizer or pg_trgm: trigrams cannot match the two-character words most Chinese searches are
(橙子, 草莓), FTS5's trigram tokenizer and pg_trgm rank and match differently, and pg_trgm ignores CJK
characters in some database locales. A query matches when every query word (or one of its synonyms) has
all its n-grams in the product; Latin words match as prefixes (iph → iphone).
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

import rjieba
from sqlalchemy import DDL, ColumnElement, String, bindparam, case, delete, event, literal, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from quanzi.catalog.models import Category, Product, SynonymGroup, SynonymTerm

MAX_QUERY_CHARS = 60  # a pasted paragraph is cut here: nobody searches with more
MAX_UNITS = 8  # query words
MAX_GRAMS_PER_WORD = 12
MAX_TERM_CHARS = 20  # one synonym term

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# Runs of CJK characters, of letters, of digits: "iPhone15" and "iPhone 15" give the same tokens.
_RUN = re.compile(rf"[{_CJK}]+|[^\W\d_{_CJK}]+|\d+")
_IS_CJK = re.compile(rf"[{_CJK}]")
_WORD = re.compile(r"[^\W_]", re.UNICODE)

SQLITE_DDL = [
    "CREATE VIRTUAL TABLE IF NOT EXISTS product_fts USING fts5(search_text, search_grams, content='products', "
    "content_rowid='id')",
    "CREATE TRIGGER IF NOT EXISTS products_fts_ai AFTER INSERT ON products BEGIN "
    "INSERT INTO product_fts(rowid, search_text, search_grams) VALUES (new.id, new.search_text, new.search_grams); "
    "END",
    "CREATE TRIGGER IF NOT EXISTS products_fts_ad AFTER DELETE ON products BEGIN "
    "INSERT INTO product_fts(product_fts, rowid, search_text, search_grams) "
    "VALUES ('delete', old.id, old.search_text, old.search_grams); END",
    "CREATE TRIGGER IF NOT EXISTS products_fts_au AFTER UPDATE OF search_text, search_grams ON products BEGIN "
    "INSERT INTO product_fts(product_fts, rowid, search_text, search_grams) "
    "VALUES ('delete', old.id, old.search_text, old.search_grams); "
    "INSERT INTO product_fts(rowid, search_text, search_grams) VALUES (new.id, new.search_text, new.search_grams); "
    "END",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS products_fts_au", "DROP TRIGGER IF EXISTS products_fts_ad",
    "DROP TRIGGER IF EXISTS products_fts_ai", "DROP TABLE IF EXISTS product_fts",
]
POSTGRES_DDL = [
    "CREATE INDEX IF NOT EXISTS ix_products_search ON products USING gin (to_tsvector('simple', search_text))",
    "CREATE INDEX IF NOT EXISTS ix_products_search_grams ON products "
    "USING gin (to_tsvector('simple', search_grams))",
]
POSTGRES_DROP = ["DROP INDEX IF EXISTS ix_products_search_grams", "DROP INDEX IF EXISTS ix_products_search"]


def ddl_for(dialect: str) -> list[str]:
    return SQLITE_DDL if dialect == "sqlite" else POSTGRES_DDL


def drop_ddl_for(dialect: str) -> list[str]:
    return SQLITE_DROP if dialect == "sqlite" else POSTGRES_DROP


# Schema built with metadata.create_all (tests) gets the same index as the migration.
for _stmt in SQLITE_DDL:
    event.listen(Product.__table__, "after_create", DDL(_stmt).execute_if(dialect="sqlite"))
for _stmt in POSTGRES_DDL:
    event.listen(Product.__table__, "after_create", DDL(_stmt).execute_if(dialect="postgresql"))


# --- what gets indexed ---------------------------------------------------------------------------

def normalize(value: str) -> str:
    """Full-width to half-width (ＩＰＨＯＮＥ → iphone), lower case."""
    return unicodedata.normalize("NFKC", value or "").lower()


def tokens(value: str) -> list[str]:
    """Search words of a text: rjieba's search-mode segmentation, normalized, words only."""
    out: list[str] = []
    seen: set[str] = set()
    for tok in rjieba.cut_for_search(normalize(value)):
        tok = tok.strip()
        if tok and _WORD.search(tok) and tok not in seen:
            seen.add(tok)
            out.append(tok)
    return out


def search_text(*parts: str) -> str:
    return " ".join(tokens(" ".join(p for p in parts if p)))


def grams(*parts: str) -> list[str]:
    """Index n-grams: per CJK run every character and every neighbouring pair; Latin/digit words whole.
    Parts are kept apart so no pair spans the end of the title and the start of the subtitle."""
    out: dict[str, None] = {}
    for part in parts:
        for run in _RUN.findall(normalize(part)):
            if _IS_CJK.match(run):
                out.update(dict.fromkeys(run))
                out.update(dict.fromkeys(run[i:i + 2] for i in range(len(run) - 1)))
            else:
                out[run] = None
    return list(out)


def search_grams(*parts: str) -> str:
    return " ".join(grams(*parts))


# --- synonyms (operator-edited, applied at query time) ---------------------------------------------

def parse_terms(raw: str) -> list[str]:
    """"橙子, 橙 ⇔ 脐橙" → [橙子, 橙, 脐橙]: any separator between terms; normalized; duplicates dropped."""
    out: dict[str, None] = {}
    for part in re.split(r"[\s,，、;；/|⇔=]+", normalize(raw)):
        term = "".join(_RUN.findall(part))
        if term:
            out[term] = None
    return list(out)


async def synonyms_of(s: AsyncSession, terms: Iterable[str]) -> dict[str, list[str]]:
    """For each of `terms` that belongs to a synonym group, the group's other terms (one query)."""
    wanted = list(dict.fromkeys(terms))
    if not wanted:
        return {}
    mine, other = SynonymTerm.__table__.alias("mine"), SynonymTerm.__table__.alias("other")
    rows = (await s.execute(
        select(mine.c.term, other.c.term).join(other, other.c.group_id == mine.c.group_id)
        .where(mine.c.term.in_(wanted), other.c.term != mine.c.term).order_by(other.c.term)
    )).all()
    out: dict[str, list[str]] = {}
    for term, alt in rows:
        out.setdefault(term, []).append(alt)
    return out


@dataclass(frozen=True)
class GroupView:
    id: int
    terms: list[str]
    note: str
    updated_at: datetime
    updated_by: int | None


async def synonym_groups(s: AsyncSession) -> list[GroupView]:
    groups = list((await s.execute(select(SynonymGroup).order_by(SynonymGroup.id))).scalars())
    terms: dict[int, list[str]] = {}
    for t in (await s.execute(select(SynonymTerm).order_by(SynonymTerm.position, SynonymTerm.term))).scalars():
        terms.setdefault(t.group_id, []).append(t.term)
    return [GroupView(g.id, terms.get(g.id, []), g.note, g.updated_at, g.updated_by) for g in groups]


async def save_synonym_group(s: AsyncSession, raw_terms: str, *, note: str = "", group_id: int | None = None,
                             actor_id: int | None) -> SynonymGroup:
    """Create or replace a group of interchangeable terms (at least two; a term is in one group only)."""
    from quanzi.audit.service import record
    from quanzi.catalog.errors import SynonymGroupNotFound, SynonymTermTaken, TooFewSynonyms, TooLongSynonym
    from quanzi.kit.clock import clock

    terms = parse_terms(raw_terms)
    if len(terms) < 2:
        raise TooFewSynonyms()
    if too_long := [t for t in terms if len(t) > MAX_TERM_CHARS]:
        raise TooLongSynonym(term=too_long[0], max=MAX_TERM_CHARS)
    if len(terms) > 20:
        raise TooFewSynonyms({"zh": "一组最多 20 个词", "en": "At most 20 terms in one group"})
    taken = (await s.execute(select(SynonymTerm.term, SynonymTerm.group_id).where(SynonymTerm.term.in_(terms))
                             )).all()
    if clash := [t for t, g in taken if g != group_id]:
        raise SynonymTermTaken(term=clash[0])
    now = clock.now()
    if group_id is None:
        group = SynonymGroup(note=note, updated_at=now, updated_by=actor_id)
        s.add(group)
        await s.flush()
        before: list[str] = []
    else:
        found = await s.get(SynonymGroup, group_id)
        if found is None:
            raise SynonymGroupNotFound()
        group = found
        before = list((await s.execute(select(SynonymTerm.term).where(SynonymTerm.group_id == group.id)
                                       .order_by(SynonymTerm.position))).scalars())
        group.note, group.updated_at, group.updated_by = note, now, actor_id
        await s.execute(delete(SynonymTerm).where(SynonymTerm.group_id == group.id))
    s.add_all(SynonymTerm(term=t, group_id=group.id, position=i) for i, t in enumerate(terms))
    record(s, actor_id, "update" if before else "create", "search_synonyms", group.id,
           {"terms": [before, terms], "note": note})
    return group


async def delete_synonym_group(s: AsyncSession, group_id: int, *, actor_id: int | None) -> None:
    from quanzi.audit.service import record
    from quanzi.catalog.errors import SynonymGroupNotFound

    group = await s.get(SynonymGroup, group_id)
    if group is None:
        raise SynonymGroupNotFound()
    before = list((await s.execute(select(SynonymTerm.term).where(SynonymTerm.group_id == group_id)
                                   .order_by(SynonymTerm.position))).scalars())
    await s.execute(delete(SynonymTerm).where(SynonymTerm.group_id == group_id))
    await s.delete(group)
    record(s, actor_id, "delete", "search_synonyms", group_id, {"terms": [before, None]})


# --- queries -------------------------------------------------------------------------------------

@dataclass
class Plan:
    """A parsed query: its words, each with the synonyms that may stand in for it."""

    words: list[str]
    alternatives: dict[str, list[str]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not self.words


def _query_grams(term: str) -> list[tuple[str, bool]]:
    """(token, is_prefix) for one query word: CJK single characters or pairs (all must be present),
    Latin/digit words as prefixes."""
    out: list[tuple[str, bool]] = []
    for run in _RUN.findall(term):
        if _IS_CJK.match(run):
            out += [(run, False)] if len(run) == 1 else [(run[i:i + 2], False) for i in range(len(run) - 1)]
        else:
            out.append((run, True))
    return list(dict.fromkeys(out))[:MAX_GRAMS_PER_WORD]


async def plan(s: AsyncSession, query: str) -> Plan:
    norm = normalize(query)[:MAX_QUERY_CHARS]
    segments = _RUN.findall(norm)
    pieces: list[list[str]] = [[w.strip() for w in rjieba.cut(seg) if w.strip() and _WORD.search(w)]
                               for seg in segments]
    syn = await synonyms_of(s, [*segments, *(w for ws in pieces for w in ws)])
    words: list[str] = []
    for seg, ws in zip(segments, pieces, strict=True):
        # A synonym term the segmenter would split (牛奶草莓) stays one word.
        for w in ([seg] if seg in syn else ws):
            if w not in words:
                words.append(w)
    words = words[:MAX_UNITS]
    return Plan(words, {w: syn[w] for w in words if w in syn})


def _fts_gram_query(p: Plan) -> str:
    def word(alt: str) -> str:
        return "(" + " AND ".join(f'"{g}"*' if prefix else f'"{g}"' for g, prefix in _query_grams(alt)) + ")"

    units = ["(" + " OR ".join(word(a) for a in [w, *p.alternatives.get(w, [])] if _query_grams(a)) + ")"
             for w in p.words]
    return "search_grams : (" + " AND ".join(units) + ")"


def _fts_word_query(p: Plan, with_synonyms: bool) -> str:
    units = ["(" + " OR ".join(f'"{a}"' for a in ([w, *p.alternatives.get(w, [])] if with_synonyms else [w]))
             + ")" for w in p.words]
    return "search_text : (" + " AND ".join(units) + ")"


def _ts_quote(token: str) -> str:
    return "'" + token.replace("'", "") + "'"


def _ts_gram_query(p: Plan) -> str:
    def word(alt: str) -> str:
        return "(" + " & ".join(_ts_quote(g) + (":*" if prefix else "") for g, prefix in _query_grams(alt)) + ")"

    return " & ".join("(" + " | ".join(word(a) for a in [w, *p.alternatives.get(w, [])] if _query_grams(a)) + ")"
                      for w in p.words)


def _ts_word_query(p: Plan, with_synonyms: bool) -> str:
    return " & ".join("(" + " | ".join(_ts_quote(a) for a in ([w, *p.alternatives.get(w, [])] if with_synonyms
                                                             else [w])) + ")" for w in p.words)


def _fts_ids(query: str) -> ColumnElement[bool]:
    return text("products.id IN (SELECT rowid FROM product_fts WHERE product_fts MATCH :q)").bindparams(  # type: ignore[return-value]
        bindparam("q", query, type_=String, unique=True))


def _ts(column: str, query: str) -> ColumnElement[bool]:
    return text(f"to_tsvector('simple', products.{column}) @@ to_tsquery('simple', :q)").bindparams(  # type: ignore[return-value]
        bindparam("q", query, type_=String, unique=True))


def clauses(dialect: str, p: Plan) -> tuple[ColumnElement[bool], ColumnElement[int]]:
    """(match, rank): `match` finds through the n-gram index; `rank` is 3 when every query word is a word of
    the product, 2 when every word or one of its synonyms is, else 1 (a match by characters only)."""
    if dialect == "sqlite":
        match, exact = _fts_ids(_fts_gram_query(p)), _fts_ids(_fts_word_query(p, False))
        syn = _fts_ids(_fts_word_query(p, True)) if p.alternatives else None
    else:
        match, exact = _ts("search_grams", _ts_gram_query(p)), _ts("search_text", _ts_word_query(p, False))
        syn = _ts("search_text", _ts_word_query(p, True)) if p.alternatives else None
    whens: list[tuple[ColumnElement[bool], int]] = [(exact, 3)] + ([(syn, 2)] if syn is not None else [])
    return match, case(*whens, else_=literal(1))


# --- when nothing is found --------------------------------------------------------------------------

@dataclass(frozen=True)
class Suggestions:
    terms: list[str]  # "did you mean": nearby words that do find something
    categories: list[Category]
    popular: list[Product]


async def suggest(s: AsyncSession, query: str, *, limit: int = 6) -> Suggestions:
    """Plain ways on from an empty result: words close to the query that exist in the catalog (or in the
    synonym table), the categories, and the best-selling products."""
    dialect = s.bind.dialect.name if s.bind is not None else "sqlite"
    norm = normalize(query)[:MAX_QUERY_CHARS]
    chars = list(dict.fromkeys(c for c in norm if _IS_CJK.match(c)))[:MAX_GRAMS_PER_WORD]
    latin = [w[:3] for w in _RUN.findall(norm) if not _IS_CJK.match(w) and len(w) >= 3][:4]
    vocabulary: set[str] = set()
    if chars or latin:
        # Products sharing any character (or a Latin word's first letters) with the query: their words.
        if dialect == "sqlite":
            near = _fts_ids("search_grams : (" + " OR ".join([f'"{c}"' for c in chars] + [f'"{w}"*' for w in latin])
                            + ")")
        else:
            near = _ts("search_grams", " | ".join([_ts_quote(c) for c in chars] + [_ts_quote(w) + ":*" for w in latin]))
        rows = (await s.execute(select(Product.search_text).where(Product.status == "published", near)
                                .order_by(Product.sales_count.desc(), Product.id).limit(50))).scalars()
        for st in rows:
            vocabulary.update(t for t in st.split() if len(t) >= 2)
        vocabulary.update((await s.execute(select(SynonymTerm.term).limit(2000))).scalars())
    scored = sorted(((difflib.SequenceMatcher(None, norm, t).ratio(), t) for t in vocabulary if t != norm),
                    key=lambda x: (-x[0], len(x[1]), x[1]))
    terms = [t for r, t in scored if r >= 0.5][:3]
    cats = list((await s.execute(select(Category).order_by(Category.sort, Category.id).limit(12))).scalars())
    popular = list((await s.execute(select(Product).where(Product.status == "published")
                                    .order_by(Product.sales_count.desc(), Product.id).limit(limit))).scalars())
    return Suggestions(terms, cats, popular)
