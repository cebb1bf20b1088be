"""Demo pictures drawn locally with Pillow (no network): product images and round shop avatars.

Each image is drawn only when its file is missing, so re-running the seed is cheap. A CJK font is looked
up once (WenQuanYi Micro Hei, then fontconfig, then any TrueType file, then Pillow's built-in font);
drawing never fails for lack of a font.
"""

from __future__ import annotations

import colorsys
import functools
import hashlib
import shutil
import subprocess
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

PREFERRED_FONT = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
FONT_DIRS = (Path("/usr/share/fonts"), Path("/usr/local/share/fonts"), Path.home() / ".fonts")
PRODUCT_SIZE = 800
AVATAR_SIZE = 320

# Category key → (gradient top-left, gradient bottom-right, accent) as RGB.
PALETTES: dict[str, tuple[tuple[int, int, int], tuple[int, int, int], tuple[int, int, int]]] = {
    "fruit": ((255, 236, 210), (255, 196, 170), (240, 120, 60)),
    "snack": ((255, 243, 205), (250, 214, 150), (214, 140, 40)),
    "tea": ((226, 242, 220), (178, 214, 180), (70, 130, 80)),
    "grain": ((245, 235, 220), (222, 200, 168), (150, 105, 60)),
    "care": ((226, 238, 252), (186, 208, 240), (70, 110, 190)),
    "baby": ((252, 230, 238), (240, 196, 214), (214, 96, 140)),
    "home": ((232, 232, 248), (200, 198, 232), (110, 100, 180)),
}
SHAPE_OF = {"fruit": "fruit", "snack": "bag", "tea": "cup", "grain": "jar", "care": "bottle", "baby": "bear",
            "home": "house"}


# --- fonts --------------------------------------------------------------------------------------

@functools.cache
def font_path() -> str | None:
    """A font file that can draw Chinese, or None (then Pillow's default font is used)."""
    if PREFERRED_FONT.exists():
        return str(PREFERRED_FONT)
    if shutil.which("fc-match"):
        try:
            out = subprocess.run(["fc-match", "-f", "%{file}", "sans-serif:lang=zh-cn"], capture_output=True,
                                 text=True, timeout=5, check=False).stdout.strip()
            if out and Path(out).is_file():
                return out
        except (OSError, subprocess.SubprocessError):
            pass
    for root in FONT_DIRS:
        if root.is_dir():
            found = sorted(p for p in root.rglob("*") if p.suffix.lower() in {".ttc", ".ttf", ".otf"})
            if found:
                return str(found[0])
    return None


@functools.cache
def font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    path = font_path()
    if path is not None:
        try:
            return ImageFont.truetype(path, size)
        except OSError:
            pass
    try:
        return ImageFont.load_default(size)
    except (OSError, TypeError):  # very old Pillow / no FreeType: the tiny bitmap font
        return ImageFont.load_default()


AnyFont = ImageFont.FreeTypeFont | ImageFont.ImageFont


def _text_width(draw: ImageDraw.ImageDraw, text: str, f: AnyFont) -> float:
    left, _, right, _ = draw.textbbox((0, 0), text, font=f)
    return right - left


def _wrap(draw: ImageDraw.ImageDraw, text: str, size: int, max_width: int, max_lines: int = 2,
          ) -> tuple[list[str], ImageFont.FreeTypeFont | ImageFont.ImageFont]:
    """Split `text` into at most `max_lines` lines that fit (breaking at spaces when possible, else
    between characters), shrinking the font until they do."""
    while True:
        f = font(size)
        lines: list[str] = []
        current = ""
        for word in text.split():
            candidate = f"{current} {word}" if current else word
            if _text_width(draw, candidate, f) <= max_width:
                current = candidate
                continue
            if current:
                lines.append(current)
                current = ""
            for ch in word:  # a word wider than the line: break it between characters
                if current and _text_width(draw, current + ch, f) > max_width:
                    lines.append(current)
                    current = ch
                else:
                    current += ch
        if current:
            lines.append(current)
        if len(lines) <= max_lines or size <= 24:
            return lines[:max_lines], f
        size -= 4


# --- drawing ------------------------------------------------------------------------------------

def _mix(a: tuple[int, int, int], b: tuple[int, int, int], t: float) -> tuple[int, int, int]:
    return (round(a[0] + (b[0] - a[0]) * t), round(a[1] + (b[1] - a[1]) * t), round(a[2] + (b[2] - a[2]) * t))


def _gradient(size: int, top: tuple[int, int, int], bottom: tuple[int, int, int]) -> Image.Image:
    """A soft diagonal gradient, built from a tiny image scaled up (fast, no per-pixel Python loop)."""
    small = Image.new("RGB", (2, 2))
    small.putdata([top, _mix(top, bottom, 0.5), _mix(top, bottom, 0.5), bottom])
    return small.resize((size, size), Image.Resampling.BILINEAR)


def _shape(draw: ImageDraw.ImageDraw, kind: str, cx: int, cy: int, r: int, fill: tuple[int, ...],
           accent: tuple[int, ...]) -> None:
    """A simple flat illustration centred on (cx, cy) with radius-ish size r."""
    if kind == "fruit":
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=fill)
        draw.rectangle((cx - 6, cy - r - 40, cx + 6, cy - r + 10), fill=(120, 80, 40, 255))
        draw.ellipse((cx + 4, cy - r - 50, cx + 110, cy - r + 4), fill=(96, 170, 80, 255))
        draw.ellipse((cx - r * 0.55, cy - r * 0.6, cx - r * 0.2, cy - r * 0.25), fill=(255, 255, 255, 90))
    elif kind == "bag":
        draw.rounded_rectangle((cx - r * 0.8, cy - r, cx + r * 0.8, cy + r), radius=40, fill=fill)
        for i in range(9):  # crimped top edge
            x = cx - r * 0.8 + i * (r * 1.6 / 8)
            draw.polygon([(x - 14, cy - r + 2), (x, cy - r - 22), (x + 14, cy - r + 2)], fill=fill)
        draw.rounded_rectangle((cx - r * 0.55, cy - r * 0.2, cx + r * 0.55, cy + r * 0.45), radius=30,
                               fill=(255, 255, 255, 170))
        draw.ellipse((cx - 34, cy - 10, cx + 34, cy + 58), fill=accent)
    elif kind == "cup":
        draw.rounded_rectangle((cx - r * 0.75, cy - r * 0.55, cx + r * 0.75, cy + r * 0.85), radius=60,
                               fill=fill)
        draw.ellipse((cx + r * 0.5, cy - r * 0.25, cx + r * 1.15, cy + r * 0.45), outline=fill, width=26)
        draw.rounded_rectangle((cx - r, cy + r * 0.78, cx + r, cy + r * 0.98), radius=20, fill=fill)
        for dx in (-r * 0.35, 0, r * 0.35):  # steam
            draw.arc((cx + dx - 30, cy - r * 1.25, cx + dx + 30, cy - r * 0.7), 200, 340, fill=accent,
                     width=12)
        draw.ellipse((cx - 50, cy - 10, cx + 50, cy + 90), fill=(255, 255, 255, 150))
    elif kind == "jar":
        draw.rounded_rectangle((cx - r * 0.8, cy - r * 0.6, cx + r * 0.8, cy + r), radius=70, fill=fill)
        draw.rounded_rectangle((cx - r * 0.65, cy - r * 0.95, cx + r * 0.65, cy - r * 0.55), radius=24,
                               fill=accent)
        draw.rounded_rectangle((cx - r * 0.5, cy - r * 0.1, cx + r * 0.5, cy + r * 0.5), radius=26,
                               fill=(255, 255, 255, 170))
    elif kind == "bottle":
        draw.rounded_rectangle((cx - r * 0.6, cy - r * 0.5, cx + r * 0.6, cy + r), radius=70, fill=fill)
        draw.rectangle((cx - r * 0.22, cy - r * 0.8, cx + r * 0.22, cy - r * 0.45), fill=fill)
        draw.rounded_rectangle((cx - r * 0.3, cy - r * 1.1, cx + r * 0.3, cy - r * 0.78), radius=16,
                               fill=accent)
        draw.rounded_rectangle((cx - r * 0.4, cy - r * 0.05, cx + r * 0.4, cy + r * 0.55), radius=22,
                               fill=(255, 255, 255, 170))
    elif kind == "bear":
        for ex in (-1, 1):
            draw.ellipse((cx + ex * r * 0.72 - r * 0.33, cy - r * 0.98, cx + ex * r * 0.72 + r * 0.33,
                          cy - r * 0.32), fill=fill)
        draw.ellipse((cx - r, cy - r * 0.8, cx + r, cy + r), fill=fill)
        draw.ellipse((cx - r * 0.38, cy + r * 0.1, cx + r * 0.38, cy + r * 0.65), fill=(255, 255, 255, 190))
        for ex in (-1, 1):
            ex_x, ey = cx + ex * r * 0.38, cy - r * 0.2
            draw.ellipse((ex_x - 16, ey - 16, ex_x + 16, ey + 16), fill=(60, 50, 60, 255))
        draw.ellipse((cx - 18, cy + r * 0.22, cx + 18, cy + r * 0.22 + 28), fill=(60, 50, 60, 255))
    else:  # house
        draw.polygon([(cx - r * 1.05, cy - r * 0.1), (cx, cy - r * 1.0), (cx + r * 1.05, cy - r * 0.1)],
                     fill=accent)
        draw.rectangle((cx - r * 0.8, cy - r * 0.15, cx + r * 0.8, cy + r * 0.9), fill=fill)
        draw.rounded_rectangle((cx - r * 0.22, cy + r * 0.3, cx + r * 0.22, cy + r * 0.9), radius=16,
                               fill=(255, 255, 255, 190))
        for wx in (-0.65, 0.35):  # windows
            draw.rectangle((cx + r * wx, cy + r * 0.05, cx + r * (wx + 0.3), cy + r * 0.35),
                           fill=(255, 255, 255, 190))


def _seeded(text: str) -> int:
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)


def _hue_shift(rgb: tuple[int, int, int], degrees: float) -> tuple[int, int, int]:
    hue, light, sat = colorsys.rgb_to_hls(*(c / 255 for c in rgb))
    r, g, b = colorsys.hls_to_rgb((hue + degrees / 360) % 1.0, light, sat)
    return round(r * 255), round(g * 255), round(b * 255)


def draw_product(title: str, category: str, label: str = "", color: tuple[int, int, int] | None = None,
                 ) -> Image.Image:
    """An 800×800 picture: category gradient, a flat illustration (in `color`, or the category's colour
    shifted a little per title) and the title on a card."""
    top, bottom, accent = PALETTES.get(category, PALETTES["home"])
    size = PRODUCT_SIZE
    h = _seeded(title)
    accent = color or _hue_shift(accent, (h % 41) - 20)
    img = _gradient(size, top, bottom).convert("RGBA")
    layer = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    d = ImageDraw.Draw(layer)
    # A few soft background circles, placed from the title so every product looks a little different.
    for i in range(3):
        rr = 90 + (h >> (i * 4)) % 120
        x = (h >> (i * 5)) % size
        y = (h >> (i * 7 + 3)) % (size // 2)
        d.ellipse((x - rr, y - rr, x + rr, y + rr), fill=(255, 255, 255, 60))
    shadow = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    fill = (*_mix(accent, (255, 255, 255), 0.25), 255)
    _shape(ImageDraw.Draw(shadow), SHAPE_OF.get(category, "house"), size // 2 + 14, 330 + 18, 190,
           (0, 0, 0, 70), (0, 0, 0, 70))
    # Blur a quarter-size copy: the same soft shadow at a fraction of the cost.
    small = shadow.resize((size // 4, size // 4), Image.Resampling.BILINEAR)
    small = small.filter(ImageFilter.GaussianBlur(3))
    shadow = small.resize((size, size), Image.Resampling.BILINEAR)
    img = Image.alpha_composite(img, layer)
    img = Image.alpha_composite(img, shadow)
    fg = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    _shape(ImageDraw.Draw(fg, "RGBA"), SHAPE_OF.get(category, "house"), size // 2, 330, 190, fill,
           (*_mix(accent, (0, 0, 0), 0.15), 255))
    img = Image.alpha_composite(img, fg)
    # Title card: one or two lines of title, then the SKU label.
    d = ImageDraw.Draw(img, "RGBA")
    lines, f = _wrap(d, title, 60, size - 180)
    line_h = (f.size if isinstance(f, ImageFont.FreeTypeFont) else 16) + 14
    block = line_h * len(lines) + (44 if label else 0)
    card_top = 600 if len(lines) == 1 else 570
    d.rounded_rectangle((60, card_top, size - 60, 770), radius=36, fill=(255, 255, 255, 235))
    y = (card_top + 770) / 2 - block / 2
    for line in lines:
        d.text((size / 2, y + line_h / 2), line, font=f, fill=(51, 51, 51), anchor="mm")
        y += line_h
    if label:
        d.text((size / 2, y + 22), label, font=font(32), fill=(*_mix(accent, (0, 0, 0), 0.2), 255),
               anchor="mm")
    return img.convert("RGB")


def draw_avatar(name: str, index: int) -> Image.Image:
    """A round avatar: a coloured disc with the shop's first character, transparent outside."""
    keys = list(PALETTES)
    accent = PALETTES[keys[index % len(keys)]][2]
    size = AVATAR_SIZE
    disc = _gradient(size, _mix(accent, (255, 255, 255), 0.35), _mix(accent, (0, 0, 0), 0.05)).convert("RGBA")
    glow = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    ImageDraw.Draw(glow).ellipse((size * 0.6, -size * 0.2, size * 1.2, size * 0.4), fill=(255, 255, 255, 60))
    disc = Image.alpha_composite(disc, glow)
    d = ImageDraw.Draw(disc)
    ch = next((c for c in name if not c.isspace()), "圈")
    d.text((size / 2, size / 2 + 4), ch, font=font(int(size * 0.5)), fill=(255, 255, 255), anchor="mm")
    scale = 4  # draw the mask large and shrink it: smooth edges
    mask = Image.new("L", (size * scale, size * scale), 0)
    ImageDraw.Draw(mask).ellipse((0, 0, size * scale - 1, size * scale - 1), fill=255)
    mask = mask.resize((size, size), Image.Resampling.LANCZOS)
    out = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    out.paste(disc, (0, 0), mask)
    return out


def _save(img: Image.Image, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    if img.mode == "RGB":
        # An adaptive palette keeps the soft gradient smooth and the file ~30–60 KB.
        img = img.quantize(colors=192, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.FLOYDSTEINBERG)
    img.save(tmp, format="PNG", optimize=True)
    tmp.replace(path)  # never leave a half-written picture behind


def product_url(name: str) -> str:
    return f"/media/products/{name}.png"


def avatar_url(name: str) -> str:
    return f"/media/shops/{name}.png"


def ensure_product_image(media_dir: Path, name: str, title: str, category: str, label: str = "",
                         color: tuple[int, int, int] | None = None) -> str:
    """Draw media_dir/products/{name}.png if missing; return its URL under /media."""
    path = media_dir / "products" / f"{name}.png"
    if not path.exists():
        _save(draw_product(title, category, label, color), path)
    return product_url(name)


def ensure_avatar(media_dir: Path, name: str, shop_name: str, index: int) -> str:
    """Draw media_dir/shops/{name}.png (a round avatar) if missing; return its URL under /media."""
    path = media_dir / "shops" / f"{name}.png"
    if not path.exists():
        _save(draw_avatar(shop_name, index), path)
    return avatar_url(name)


__all__ = ["avatar_url", "draw_avatar", "draw_product", "ensure_avatar", "ensure_product_image", "font_path",
           "product_url"]
