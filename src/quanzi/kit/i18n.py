"""Locale of the current request (zh_CN by default, English on request) and gettext for templates.

Message ids are English; `locale/zh_CN` holds the Chinese catalog, compiled by `make` with pybabel.
"""

from __future__ import annotations

from contextvars import ContextVar
from functools import lru_cache
from pathlib import Path

from babel.support import NullTranslations, Translations

LOCALE_DIR = Path(__file__).resolve().parents[1] / "locale"
DEFAULT = "zh_CN"
SUPPORTED = ("zh_CN", "en")

_current: ContextVar[str] = ContextVar("quanzi_locale", default=DEFAULT)


def normalize(value: str | None) -> str | None:
    if not value:
        return None
    v = value.strip().replace("-", "_").lower()
    if v.startswith("en"):
        return "en"
    if v.startswith("zh"):
        return "zh_CN"
    return None


def set_locale(locale: str) -> None:
    _current.set(locale if locale in SUPPORTED else DEFAULT)


def get_locale() -> str:
    return _current.get()


def short() -> str:
    """'zh' or 'en': the key used in DomainError messages."""
    return "en" if get_locale() == "en" else "zh"


@lru_cache
def translations(locale: str) -> NullTranslations:
    return Translations.load(str(LOCALE_DIR), [locale], domain="messages")


def gettext(message: str) -> str:
    return translations(get_locale()).ugettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(get_locale()).ungettext(singular, plural, n)


_ = gettext
