"""China calendar days in SQL: the day a UTC timestamp column falls on in China, for GROUP BY per day.

Infrastructure only. China has no daylight saving (always UTC+8), so SQLite's fixed '+8 hours' is exact.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, literal_column


def china_day(column: Any, dialect: str) -> Any:
    """'YYYY-MM-DD' text of the China calendar date of `column` (stored in UTC), on SQLite and PostgreSQL."""
    # Literals, not bind parameters: PostgreSQL must see the same expression in SELECT and GROUP BY.
    if dialect == "postgresql":
        return func.to_char(func.timezone(literal_column("'Asia/Shanghai'"), column), literal_column("'YYYY-MM-DD'"))
    return func.date(column, literal_column("'+8 hours'"))
