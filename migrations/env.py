"""Alembic environment: sync driver, batch mode on SQLite so ALTERs work there too."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from quanzi import domains
from quanzi.kit.db import Base, sync_url

domains.load_all()
config = context.config
target_metadata = Base.metadata

# Not managed by autogenerate: tests' probe tables and the SQLite full-text index (raw DDL in
# quanzi.catalog.search, created by the commerce migration).
IGNORED_PREFIXES = ("test_", "product_fts")


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    return not (type_ == "table" and name and name.startswith(IGNORED_PREFIXES))


def include_object(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    if type_ == "table" and name and name.startswith(IGNORED_PREFIXES):
        return False
    return not (type_ == "index" and name in ("ix_products_search", "ix_products_search_grams"))


def run_migrations_offline() -> None:
    url = config.get_main_option("sqlalchemy.url")
    context.configure(url=url, target_metadata=target_metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    url = sync_url(config.get_main_option("sqlalchemy.url") or "")
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection, target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite", compare_type=True,
            include_name=include_name, include_object=include_object,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
