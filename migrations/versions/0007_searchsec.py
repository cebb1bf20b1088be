"""search n-grams and synonyms; per-account password failures

Revision ID: 0007_searchsec
Revises: 0006
Create Date: 2026-12-05 08:30:00

- products.search_grams (CJK characters and character pairs, Latin words) beside products.search_text, both
  re-computed for every product; the FTS5 table (SQLite) gets the second column, PostgreSQL a second GIN index;
- search_synonym_groups / search_synonyms: synonyms the operator edits;
- password_throttles: wrong passwords per phone number across all IP addresses.
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import quanzi.kit.db


revision = '0007_searchsec'
down_revision = '0007_notifications'
branch_labels = None
depends_on = None

# The search index as of this revision (frozen: catalog/search.py describes only the newest one).
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
    "INSERT INTO product_fts(product_fts) VALUES ('rebuild')",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS products_fts_au", "DROP TRIGGER IF EXISTS products_fts_ad",
    "DROP TRIGGER IF EXISTS products_fts_ai", "DROP TABLE IF EXISTS product_fts",
]
SQLITE_DDL_0002 = [
    "CREATE VIRTUAL TABLE IF NOT EXISTS product_fts USING fts5(search_text, content='products', content_rowid='id')",
    "CREATE TRIGGER IF NOT EXISTS products_fts_ai AFTER INSERT ON products BEGIN "
    "INSERT INTO product_fts(rowid, search_text) VALUES (new.id, new.search_text); END",
    "CREATE TRIGGER IF NOT EXISTS products_fts_ad AFTER DELETE ON products BEGIN "
    "INSERT INTO product_fts(product_fts, rowid, search_text) VALUES ('delete', old.id, old.search_text); END",
    "CREATE TRIGGER IF NOT EXISTS products_fts_au AFTER UPDATE OF search_text ON products BEGIN "
    "INSERT INTO product_fts(product_fts, rowid, search_text) VALUES ('delete', old.id, old.search_text); "
    "INSERT INTO product_fts(rowid, search_text) VALUES (new.id, new.search_text); END",
    "INSERT INTO product_fts(product_fts) VALUES ('rebuild')",
]
POSTGRES_GRAMS_INDEX = ("CREATE INDEX IF NOT EXISTS ix_products_search_grams ON products "
                        "USING gin (to_tsvector('simple', search_grams))")


def _reindex_products() -> None:
    """Words and n-grams of every product, computed by the search module as it is now."""
    from quanzi.catalog.search import search_grams, search_text

    bind = op.get_bind()
    rows = bind.execute(sa.text(
        "SELECT p.id, p.title, p.subtitle, c.name_zh, c.name_en FROM products p "
        "LEFT JOIN categories c ON c.id = p.category_id")).all()
    for pid, title, subtitle, name_zh, name_en in rows:
        bind.execute(sa.text("UPDATE products SET search_text = :t, search_grams = :g WHERE id = :id"), {
            "t": search_text(title, subtitle or "", name_zh or ""),
            "g": search_grams(title, subtitle or "", name_zh or "", name_en or ""), "id": pid})


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        for stmt in SQLITE_DROP:
            op.execute(stmt)
    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.add_column(sa.Column('search_grams', sa.Text(), nullable=False, server_default=''))
    if not sqlite:  # on SQLite dropping a default rebuilds the table: the empty default stays there
        op.alter_column('products', 'search_grams', server_default=None)

    op.create_table('search_synonym_groups',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('note', sa.String(length=100), nullable=False),
    sa.Column('updated_at', quanzi.kit.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_by', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_search_synonym_groups'))
    )
    op.create_table('search_synonyms',
    sa.Column('term', sa.String(length=40), nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['search_synonym_groups.id'], name=op.f('fk_search_synonyms_group_id_search_synonym_groups'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('term', name=op.f('pk_search_synonyms'))
    )
    with op.batch_alter_table('search_synonyms', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_search_synonyms_group_id'), ['group_id'], unique=False)
    op.create_table('password_throttles',
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('last_failed_at', quanzi.kit.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('locked_until', quanzi.kit.db.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('phone', name=op.f('pk_password_throttles'))
    )

    _reindex_products()
    if sqlite:
        for stmt in SQLITE_DDL:
            op.execute(stmt)
    else:
        op.execute(POSTGRES_GRAMS_INDEX)


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        for stmt in SQLITE_DROP:
            op.execute(stmt)
    else:
        op.execute("DROP INDEX IF EXISTS ix_products_search_grams")
    op.drop_table('password_throttles')
    with op.batch_alter_table('search_synonyms', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_search_synonyms_group_id'))
    op.drop_table('search_synonyms')
    op.drop_table('search_synonym_groups')
    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.drop_column('search_grams')
    if sqlite:
        for stmt in SQLITE_DDL_0002:
            op.execute(stmt)
