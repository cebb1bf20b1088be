"""Media tests: each test stores into its own folder, so "nothing was written" can be checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from quanzi.config import Settings
from tests.conftest import make_settings


@pytest.fixture
def media_dir(tmp_path: Path) -> Path:
    return tmp_path / "media"


@pytest.fixture
def settings(db_url: str, media_dir: Path) -> Settings:
    return make_settings(db_url, media_dir=media_dir)


def stored_files(media_dir: Path) -> list[Path]:
    return sorted(p for p in media_dir.rglob("*") if p.is_file()) if media_dir.exists() else []
