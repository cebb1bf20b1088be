"""Share posters (分享海报): a PNG a distributor saves and posts to their circle — the picture, the platform
price, the shop, the sharer, a call to action and a QR code of a signed share link (kit/sharetokens.py).

What a poster shows comes from a small registry of target kinds (shop, product; campaigns plug in with
`@target("c")`). Posters are cached under media_dir/posters/<sharer>/<kind>-<target>-<hash>.png, where the
hash covers everything drawn except the token; a cached file is reused while its embedded token is younger
than half the share-token validity, so a saved poster always has weeks of life left when it is posted.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import io
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path

import segno
from PIL import Image, ImageDraw, ImageFilter, ImageFont, ImageOps
from PIL.PngImagePlugin import PngInfo
from sqlalchemy.ext.asyncio import AsyncSession

from quanzi.config import Settings
from quanzi.distribution import service as distribution
from quanzi.distribution.errors import NotADistributor
from quanzi.kit.clock import clock
from quanzi.kit.db import Database
from quanzi.kit.errors import DomainError, NotFound
from quanzi.kit.money import yuan
from quanzi.kit import sharetokens as tokens

W, H = 750, 1334
LAYOUT = "2"  # bump when the drawing changes: every cached poster is redrawn
TOKEN_KEY = "quanzi:share-token"
PLATFORM_NAME = "圈子"
CTA_MAIN = "长按识别二维码"
CTA_SUB = "自购省钱 分享赚钱"
RED = (228, 57, 60)
RED_LIGHT = (255, 112, 84)
INK = (34, 34, 34)
MUTED = (136, 136, 136)
PREFERRED_FONT = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")


# --- what a poster shows ------------------------------------------------------------------------------

@dataclass(frozen=True)
class PosterContent:
    kind: str
    target_id: int
    title: str
    subtitle: str
    price_fen: int | None
    price_from: bool          # several prices: "¥x 起"
    images: tuple[str, ...]   # one picture (product) or up to four (a shop's shelf); /media/... URLs
    shop_name: str
    invite: str               # the line under the sharer's name


@dataclass(frozen=True)
class SharerCard:
    user_id: int
    nickname: str
    avatar_url: str | None


Resolver = Callable[[AsyncSession, int, int], Awaitable[PosterContent]]
TARGETS: dict[str, Resolver] = {}


def target(kind: str) -> Callable[[Resolver], Resolver]:
    """Register what a poster of `kind` shows: `async def f(session, sharer_id, target_id) -> PosterContent`
    (raise a 404 DomainError for a target that cannot be shared). Kinds are those of kit/sharetokens.py."""
    if kind not in tokens.KINDS:
        raise ValueError(f"unknown share kind {kind!r}")

    def decorate(fn: Resolver) -> Resolver:
        TARGETS[kind] = fn
        return fn

    return decorate


async def _sharer_shop_name(s: AsyncSession, sharer_id: int) -> str:
    from quanzi.shops import service as shops

    shop = await shops.find_my_shop(s, sharer_id)
    return shop.name if shop is not None and shop.status == "open" else PLATFORM_NAME


@target("p")
async def _product(s: AsyncSession, sharer_id: int, target_id: int) -> PosterContent:
    from quanzi.catalog import service as catalog

    product, skus = await catalog.published_product(s, target_id)  # 404 unless on sale
    prices = {k.price_fen for k in skus if k.is_active}
    return PosterContent(
        kind="p", target_id=product.id, title=product.title, subtitle=product.subtitle,
        price_fen=min(prices) if prices else None, price_from=len(prices) > 1,
        images=(product.image_url,) if product.image_url else (), shop_name=await _sharer_shop_name(s, sharer_id),
        invite="为你推荐一件好物",
    )


@target("s")
async def _shop(s: AsyncSession, sharer_id: int, target_id: int) -> PosterContent:
    from quanzi.shops import service as shops

    shop = await shops.public_shop(s, target_id)  # 404 unless open
    shelf = await shops.shelf(s, shop.id)
    prices = [e.min_price_fen for e in shelf if e.min_price_fen > 0]
    pictures = tuple(e.product.image_url for e in shelf if e.product.image_url)[:4]
    if not pictures and shop.avatar_url:
        pictures = (shop.avatar_url,)
    return PosterContent(
        kind="s", target_id=shop.id, title=shop.name,
        subtitle=shop.intro.strip() or f"店里有 {len(shelf)} 件平台好物", price_fen=min(prices) if prices else None,
        price_from=len(set(prices)) > 1, images=pictures, shop_name=shop.name, invite="邀你逛逛我的小店",
    )


async def sharer_card(s: AsyncSession, user_id: int) -> SharerCard:
    """Read-only: the sharer's public face (nickname, avatar — else the shop's avatar)."""
    from quanzi.accounts import service as accounts
    from quanzi.shops import service as shops

    row = (await accounts.profiles(s, [user_id]))[user_id]
    avatar = row.avatar_url
    if not avatar:
        shop = await shops.find_my_shop(s, user_id)
        avatar = shop.avatar_url if shop else None
    return SharerCard(user_id, row.nickname, avatar)


# --- cache ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Poster:
    png: bytes
    token: str
    etag: str
    path: Path


def share_url(settings: Settings, token: str) -> str:
    return f"{settings.public_url.rstrip('/')}/r/{token}"


def _media_file(media_dir: Path, url: str | None) -> Path | None:
    """A /media/... URL as a file inside media_dir (never outside it); remote URLs are not fetched."""
    if not url or not url.startswith("/media/"):
        return None
    root = media_dir.resolve()
    try:
        path = (root / url.removeprefix("/media/").split("?")[0]).resolve()
    except (OSError, ValueError):
        return None
    return path if path.is_relative_to(root) and path.is_file() else None


def _file_identity(media_dir: Path, url: str | None) -> str:
    path = _media_file(media_dir, url)
    if path is None:
        return f"{url}|missing"
    st = path.stat()
    return f"{url}|{st.st_size}|{st.st_mtime_ns}"


def inputs_hash(settings: Settings, content: PosterContent, sharer: SharerCard) -> str:
    """Everything drawn except the token: when any of it changes, the file name changes."""
    doc = {
        "layout": LAYOUT, "content": asdict(content), "sharer": [sharer.nickname, sharer.avatar_url],
        "files": [_file_identity(settings.media_dir, u) for u in (*content.images, sharer.avatar_url)],
        "base": settings.public_url.rstrip("/"),
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:20]


def _still_fresh(settings: Settings, path: Path, content: PosterContent, sharer: SharerCard, now: datetime,
                 token_days: int) -> str | None:
    """The cached poster's token, if it is valid for this sharer/target and younger than half its life."""
    try:
        with Image.open(path) as im:  # reads the chunks before the pixels only: the token is one of them
            token = im.info.get(TOKEN_KEY)
    except (OSError, ValueError, SyntaxError):
        return None
    if not token:
        return None
    try:
        share = tokens.verify(settings.secret_key, token, now, token_days)
    except DomainError:
        return None
    if (share.sharer_id, share.kind, share.target_id) != (sharer.user_id, content.kind, content.target_id):
        return None
    return token if now - share.issued_at < timedelta(days=token_days) / 2 else None


def ensure_poster(settings: Settings, content: PosterContent, sharer: SharerCard, now: datetime,
                  token_days: int) -> Poster:
    """Return the cached poster or draw a new one (blocking: call it in a thread)."""
    digest = inputs_hash(settings, content, sharer)
    folder = settings.media_dir / "posters" / str(sharer.user_id)
    stem = f"{content.kind}-{content.target_id}-"
    path = folder / f"{stem}{digest}.png"
    if path.is_file() and (token := _still_fresh(settings, path, content, sharer, now, token_days)):
        return Poster(path.read_bytes(), token, f'"{digest}-{token[-8:]}"', path)
    token = tokens.issue(settings.secret_key, sharer.user_id, content.kind, content.target_id, now)
    png = render_png(settings, content, sharer, share_url(settings, token))
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".png")
    with os.fdopen(fd, "wb") as fh:
        fh.write(png)
    os.replace(tmp, path)  # atomic: a concurrent reader sees the old file or the new one
    for old in folder.glob(f"{stem}*.png"):
        if old != path:
            old.unlink(missing_ok=True)  # the previous price/title/picture: never served again
    return Poster(png, token, f'"{digest}-{token[-8:]}"', path)


async def poster_for(db: Database, settings: Settings, sharer_id: int, kind: str, target_id: int) -> Poster:
    """The poster of `kind`/`target_id` shared by `sharer_id`; 403 unless an active distributor."""
    resolver = TARGETS.get(kind)
    if resolver is None:
        raise NotFound()
    async with db.read() as s:
        if not await distribution.is_active_distributor(s, sharer_id):
            raise NotADistributor()
        content = await resolver(s, sharer_id, target_id)
        sharer = await sharer_card(s, sharer_id)
        days = (await distribution.get_policy(s)).share_token_days
    return await asyncio.to_thread(ensure_poster, settings, content, sharer, clock.now(), days)


# --- drawing -------------------------------------------------------------------------------------------

_configured_font: Path | None = None
# A code point no font draws: FreeType gives its .notdef glyph (the "tofu" box, or nothing).
NOT_A_CHARACTER = "\U0010fffd"
CJK_SAMPLE = "圈子同价"


def configure_font(path: Path | None) -> None:
    """Use this font first (settings.cjk_font, QUANZI_CJK_FONT); None: the usual places."""
    global _configured_font
    if path != _configured_font:
        _configured_font = path
        font_file.cache_clear()
        font.cache_clear()


def draws_chinese(path: str | Path, sample: str = CJK_SAMPLE) -> bool:
    """True if the font has real glyphs for `sample`: each renders ink, and not the font's .notdef box."""
    try:
        f = ImageFont.truetype(str(path), 48)
        notdef = f.getmask(NOT_A_CHARACTER)
        for ch in sample:
            mask = f.getmask(ch)
            if mask.getbbox() is None or (mask.size == notdef.size and bytes(mask) == bytes(notdef)):
                return False
    except (OSError, ValueError):
        return False
    return True


@functools.cache
def font_file() -> str | None:
    """The configured font, else WenQuanYi Micro Hei (Debian fonts-wqy-microhei, which `make setup` installs),
    else any font fontconfig says covers Chinese; only a font that really draws Chinese. None: Pillow's own
    font, which draws boxes (`quanzi serve` refuses to start then, see cjk_font_problem)."""
    candidates: list[str] = []
    if _configured_font is not None:
        return str(_configured_font) if draws_chinese(_configured_font) else None
    if PREFERRED_FONT.is_file():
        candidates.append(str(PREFERRED_FONT))
    if shutil.which("fc-list"):
        try:
            out = subprocess.run(["fc-list", ":lang=zh", "file"], capture_output=True, text=True, timeout=5,
                                 check=False).stdout
            candidates += [c for c in (line.split(":")[0].strip() for line in sorted(out.splitlines()))
                           if c and Path(c).is_file()]
        except (OSError, subprocess.SubprocessError):
            pass
    return next((c for c in candidates if draws_chinese(c)), None)


def cjk_font_problem() -> str | None:
    """Why posters would show boxes instead of Chinese, or None when a CJK font is in place."""
    if font_file() is not None:
        return None
    if _configured_font is not None:
        return (f"QUANZI_CJK_FONT={_configured_font} is not a font that draws Chinese (missing file, or no "
                "glyph for 圈).")
    return ("No font that draws Chinese was found, so share posters would show boxes instead of text. Install "
            "the Debian/Ubuntu package fonts-wqy-microhei (`apt-get install fonts-wqy-microhei`; `make setup` "
            "does it when run as root), or set QUANZI_CJK_FONT to a .ttf/.ttc/.otf that covers Simplified "
            "Chinese.")


@functools.cache
def font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    path = font_file()
    if path:
        try:
            return ImageFont.truetype(path, size)
        except OSError:
            pass
    try:
        return ImageFont.load_default(size)
    except (TypeError, OSError, ImportError):  # very old Pillow or no FreeType: bitmap font
        return ImageFont.load_default()


def _open_picture(media_dir: Path, url: str | None) -> Image.Image | None:
    path = _media_file(media_dir, url)
    if path is None:
        return None
    try:
        with Image.open(path) as im:
            im.draft("RGB", (1200, 1200))  # JPEG: decode at reduced size
            return ImageOps.exif_transpose(im).convert("RGB")
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None


def _tint(seed: str) -> tuple[int, int, int]:
    """A soft colour picked from the text, so a missing picture is still a recognisable block."""
    h = hashlib.md5(seed.encode()).digest()  # noqa: S324 (colour choice, not security)
    palette = [(244, 162, 97), (231, 111, 81), (42, 157, 143), (233, 196, 106), (118, 120, 237),
               (239, 71, 111), (6, 214, 160), (17, 138, 178)]
    return palette[h[0] % len(palette)]


def _block(size: tuple[int, int], text: str) -> Image.Image:
    w, h = size
    base = _tint(text)
    top = tuple(min(255, c + 60) for c in base)
    im = Image.linear_gradient("L").resize((w, h))
    im = Image.composite(Image.new("RGB", (w, h), base), Image.new("RGB", (w, h), top), im)  # type: ignore[arg-type]
    d = ImageDraw.Draw(im)
    ch = (text.strip() or "?")[0]
    f = font(int(min(w, h) * 0.42))
    d.text((w / 2, h / 2), ch, font=f, fill=(255, 255, 255), anchor="mm")
    return im


def _cover(im: Image.Image, size: tuple[int, int]) -> Image.Image:
    return ImageOps.fit(im, size, Image.Resampling.LANCZOS)


def _rounded(im: Image.Image, radius: int) -> Image.Image:
    mask = Image.new("L", im.size, 0)
    ImageDraw.Draw(mask).rounded_rectangle((0, 0, im.width - 1, im.height - 1), radius=radius, fill=255)
    out = Image.new("RGBA", im.size)
    out.paste(im, (0, 0), mask)
    return out


def _avatar(media_dir: Path, sharer: SharerCard, size: int) -> Image.Image:
    pic = _open_picture(media_dir, sharer.avatar_url)
    scale = 4  # draw big, shrink: smooth circle edges
    big = size * scale
    if pic is not None:
        face = _cover(pic, (big, big))
    else:
        face = Image.new("RGB", (big, big), (255, 236, 230))
        ImageDraw.Draw(face).text((big / 2, big / 2), (sharer.nickname.strip() or "?")[0], font=font(int(big * 0.5)),
                                  fill=RED, anchor="mm")
    mask = Image.new("L", (big, big), 0)
    ImageDraw.Draw(mask).ellipse((0, 0, big - 1, big - 1), fill=255)
    ring = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    ImageDraw.Draw(ring).ellipse((0, 0, big - 1, big - 1), fill=(255, 255, 255, 255))
    inner = int(big * 0.06)
    ring.paste(face.resize((big - 2 * inner, big - 2 * inner)), (inner, inner),
               mask.resize((big - 2 * inner, big - 2 * inner)))
    return ring.resize((size, size), Image.Resampling.LANCZOS)


def _wrap(d: ImageDraw.ImageDraw, text: str, f: ImageFont.FreeTypeFont | ImageFont.ImageFont, width: int,
          max_lines: int) -> list[str]:
    """Break by character (Chinese has no spaces); the last line ends in … when text is left over."""
    lines: list[str] = []
    line = ""
    for ch in text.replace("\n", " "):
        if d.textlength(line + ch, font=f) <= width:
            line += ch
            continue
        lines.append(line)
        line = ch.lstrip()
        if len(lines) == max_lines:
            last = lines[-1]
            while last and d.textlength(last + "…", font=f) > width:
                last = last[:-1]
            lines[-1] = last + "…"
            return lines
    if line:
        lines.append(line)
    return lines[:max_lines]


def _qr(url: str, size: int) -> Image.Image:
    qr = segno.make(url, error="m", micro=False)
    modules = qr.symbol_size(scale=1, border=0)[0]
    scale = max(1, size // modules)
    buf = io.BytesIO()
    qr.save(buf, kind="png", scale=scale, border=0, dark="#111111", light="#ffffff")
    buf.seek(0)
    code = Image.open(buf).convert("RGB")
    box = Image.new("RGB", (size, size), (255, 255, 255))
    box.paste(code, ((size - code.width) // 2, (size - code.height) // 2))
    return box


def _picture_area(media_dir: Path, content: PosterContent, box: tuple[int, int]) -> Image.Image:
    w, h = box
    pics = [p for p in (_open_picture(media_dir, u) for u in content.images) if p is not None]
    if content.kind == "s" and len(pics) >= 2:
        gap = 10
        area = Image.new("RGB", (w, h), (255, 255, 255))
        cells = pics[:4] if len(pics) >= 4 else pics[:2]
        if len(cells) == 4:
            cw, ch = (w - gap) // 2, (h - gap) // 2
            for i, p in enumerate(cells):
                area.paste(_cover(p, (cw, ch)), ((i % 2) * (cw + gap), (i // 2) * (ch + gap)))
        else:
            cw = (w - gap) // 2
            for i, p in enumerate(cells):
                area.paste(_cover(p, (cw, h)), (i * (cw + gap), 0))
        return area
    if pics:
        pic = pics[0]
        if abs(pic.width / pic.height - w / h) < 0.04:
            return _cover(pic, (w, h))
        # Show the whole picture, on a soft blurred copy of itself instead of cropping it.
        back = _cover(pic, (w // 4, h // 4)).filter(ImageFilter.GaussianBlur(6)).resize((w, h))
        back = Image.blend(back, Image.new("RGB", (w, h), (255, 255, 255)), 0.35)
        front = ImageOps.contain(pic, (w, h), Image.Resampling.LANCZOS)
        back.paste(front, ((w - front.width) // 2, (h - front.height) // 2))
        return back
    return _block((w, h), content.title)


def _price_text(fen: int) -> tuple[str, str, str]:
    text = yuan(fen, "zh_CN").lstrip("¥").replace(",", "")
    whole, _dot, cents = text.partition(".")
    return "¥", whole, f".{cents}" if cents else ""


def render_png(settings: Settings, content: PosterContent, sharer: SharerCard, url: str) -> bytes:
    """Draw the poster (750×1334) and return PNG bytes with the share token in a text chunk."""
    im = Image.new("RGB", (W, H), RED)
    # Background: a red → coral gradient behind a white card.
    grad = Image.linear_gradient("L").resize((W, H))
    im = Image.composite(Image.new("RGB", (W, H), RED_LIGHT), Image.new("RGB", (W, H), RED), grad)
    d = ImageDraw.Draw(im)

    # Header on red: the sharer.
    av = _avatar(settings.media_dir, sharer, 96)
    im.paste(av, (44, 36), av)
    d.text((160, 44), _fit(d, sharer.nickname, font(34), 460), font=font(34), fill=(255, 255, 255))
    d.text((160, 94), content.invite, font=font(26), fill=(255, 228, 222))
    d.text((W - 44, 58), PLATFORM_NAME, font=font(30), fill=(255, 255, 255), anchor="ra")

    # The white card; its parts are placed from the bottom up so nothing can collide.
    card_top, card_bottom, margin, pad = 156, H - 32, 28, 56
    d.rounded_rectangle((margin, card_top, W - margin, card_bottom), radius=28, fill=(255, 255, 255))
    qr_size = 208
    qr_x, qr_y = W - pad - qr_size, card_bottom - 40 - qr_size
    sep_y = qr_y - 30
    price_base = sep_y - 34
    text_bottom = price_base - 76
    title_f, sub_f = font(36), font(26)
    pic_w = W - 2 * pad
    pic_top = card_top + 28
    pic_h = text_bottom - 2 * 50 - 38 - 22 - pic_top  # room for two title lines and a subtitle
    pic = _rounded(_picture_area(settings.media_dir, content, (pic_w, pic_h)), 18)
    im.paste(pic, (pad, pic_top), pic)

    # Title (two lines at most) and subtitle.
    y = pic_top + pic_h + 22
    for line in _wrap(d, content.title, title_f, pic_w, 2):
        d.text((pad, y), line, font=title_f, fill=INK)
        y += 50
    if content.subtitle:
        d.text((pad, y + 4), _fit(d, content.subtitle, sub_f, pic_w), font=sub_f, fill=MUTED)

    # Price: the platform's, the same in every shop.
    if content.price_fen is not None:
        sym, whole, cents = _price_text(content.price_fen)
        x = pad
        for text, size in ((sym, 38), (whole, 72), (cents, 40)):
            if text:
                d.text((x, price_base), text, font=font(size), fill=RED, anchor="ls")
                x += int(d.textlength(text, font=font(size))) + 2
        if content.price_from:
            d.text((x + 4, price_base), "起", font=font(28), fill=RED, anchor="ls")
            x += int(d.textlength("起", font=font(28))) + 4
        tag = "平台统一价"
        tw = int(d.textlength(tag, font=font(22)))
        d.rounded_rectangle((x + 18, price_base - 36, x + 18 + tw + 24, price_base - 4), radius=16, outline=RED,
                            width=2)
        d.text((x + 30, price_base - 20), tag, font=font(22), fill=RED, anchor="lm")

    # Bottom: who sells it, the call to action and the QR code.
    for x0 in range(pad, W - pad, 18):
        d.line((x0, sep_y, min(x0 + 9, W - pad), sep_y), fill=(225, 225, 225), width=2)
    im.paste(_qr(url, qr_size), (qr_x, qr_y))
    left_w = qr_x - pad - 24
    seller = content.shop_name if content.shop_name != content.title else f"{PLATFORM_NAME} · 小店"
    d.text((pad, qr_y + 4), _fit(d, seller, font(30), left_w), font=font(30), fill=INK)
    d.text((pad, qr_y + 70), _fit(d, CTA_MAIN, font(36), left_w), font=font(36), fill=RED)
    d.text((pad, qr_y + 124), _fit(d, CTA_SUB, font(28), left_w), font=font(28), fill=MUTED)
    d.text((pad, qr_y + 178), _fit(d, "同一个圈子 · 同一个价格", font(20), left_w), font=font(20), fill=(190, 190, 190))

    info = PngInfo()
    info.add_text(TOKEN_KEY, url.rsplit("/", 1)[-1])
    buf = io.BytesIO()
    im.save(buf, format="PNG", pnginfo=info, compress_level=6)
    return buf.getvalue()


def _fit(d: ImageDraw.ImageDraw, text: str, f: ImageFont.FreeTypeFont | ImageFont.ImageFont, width: int) -> str:
    if d.textlength(text, font=f) <= width:
        return text
    while text and d.textlength(text + "…", font=f) > width:
        text = text[:-1]
    return text + "…"
