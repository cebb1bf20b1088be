"""Posters draw Chinese with a real CJK font (never tofu boxes), and `quanzi serve` refuses to start without one."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import ImageChops, ImageFont

from quanzi.app import StartupRefused, preflight
from quanzi.distribution import posters
from tests.conftest import make_settings

LATIN_ONLY = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
PUBLIC = "http://127.0.0.1:8000"


@pytest.fixture(autouse=True)
def _font_reset() -> Iterator[None]:
    posters.configure_font(None)
    yield
    posters.configure_font(None)


def _poster(title: str, tmp_path: Path):  # noqa: ANN202
    import io

    from PIL import Image

    content = posters.PosterContent("p", 7, title, "脆甜", 2990, False, (), "小美的店", "为你推荐一件好物")
    png = posters.render_png(make_settings("sqlite://", media_dir=tmp_path), content,
                             posters.SharerCard(3, "小美", None), f"{PUBLIC}/r/abc")
    return Image.open(io.BytesIO(png)).convert("RGB")


def test_the_poster_font_draws_chinese_not_boxes(tmp_path: Path) -> None:
    path = posters.font_file()
    assert path is not None, posters.cjk_font_problem()
    assert posters.draws_chinese(path)
    f = ImageFont.truetype(path, 48)
    assert bytes(f.getmask("圈")) != bytes(f.getmask(posters.NOT_A_CHARACTER))
    # The same poster titled 圈子好物 and titled with four characters no font has: with tofu both would show
    # the same .notdef boxes; with a real font the titles differ.
    chinese = _poster("圈子好物", tmp_path)
    tofu = _poster(posters.NOT_A_CHARACTER * 4, tmp_path)
    assert ImageChops.difference(chinese, tofu).getbbox() is not None


@pytest.mark.skipif(not LATIN_ONLY.is_file(), reason="needs DejaVu Sans (fonts-dejavu-core)")
def test_a_latin_only_font_is_recognised_as_tofu() -> None:
    f = ImageFont.truetype(str(LATIN_ONLY), 48)
    assert bytes(f.getmask("圈")) == bytes(f.getmask(posters.NOT_A_CHARACTER))  # the check can fail
    assert not posters.draws_chinese(LATIN_ONLY)
    posters.configure_font(LATIN_ONLY)
    assert posters.font_file() is None and "QUANZI_CJK_FONT" in (posters.cjk_font_problem() or "")


def test_preflight_refuses_or_warns_without_a_cjk_font(tmp_path: Path) -> None:
    assert preflight(make_settings("sqlite://")) == []
    with pytest.raises(StartupRefused, match="draws Chinese"):
        preflight(make_settings("sqlite://", cjk_font=tmp_path / "missing.ttc"))
    warnings = preflight(make_settings("sqlite://", cjk_font=tmp_path / "missing.ttc", require_cjk_font=False))
    assert len(warnings) == 1 and "BOXES" in warnings[0]
    with pytest.raises(StartupRefused, match="Page assets missing"):
        preflight(make_settings("sqlite://", assets_dir=tmp_path))


def test_quanzi_serve_refuses_to_start_without_a_cjk_font(tmp_path: Path) -> None:
    exe = Path(sys.executable).parent / "quanzi"
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUANZI_") and k not in ("DATABASE_URL",)}
    env.update({"QUANZI_CJK_FONT": str(tmp_path / "no-such-font.ttc"), "DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
                "QUANZI_PORT": "1"})  # never reached: the check runs before anything listens
    r = subprocess.run([str(exe), "serve"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60,
                       check=False)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "refuses to start" in r.stderr and "fonts-wqy-microhei" not in r.stdout
    assert "no-such-font.ttc" in r.stderr
