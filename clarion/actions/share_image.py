"""The Open Graph share image: drawn with Pillow on request (a few ms), cached by
browsers and share crawlers for five minutes."""

from __future__ import annotations

import io
import textwrap
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont

WIDTH, HEIGHT = 1200, 630
FONT_DIRS = ("/usr/share/fonts/truetype/dejavu/", "/usr/share/fonts/dejavu/")


@lru_cache(maxsize=8)
def _font(size: int, bold: bool = False):
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    for folder in FONT_DIRS:
        try:
            return ImageFont.truetype(folder + name, size)
        except OSError:
            continue
    return ImageFont.load_default(size=size)


def share_image_png(*, title: str, line: str, organisation: str) -> bytes:
    image = Image.new("RGB", (WIDTH, HEIGHT), (179, 18, 46))
    draw = ImageDraw.Draw(image)
    draw.rectangle([0, HEIGHT - 120, WIDTH, HEIGHT], fill=(140, 14, 36))
    y = 70
    for row in textwrap.wrap(title, width=28)[:4]:
        draw.text((70, y), row, font=_font(64, bold=True), fill=(255, 255, 255))
        y += 80
    draw.text((70, max(y + 30, 380)), line, font=_font(44), fill=(255, 255, 255))
    draw.text((70, HEIGHT - 85), organisation[:60], font=_font(36, bold=True), fill=(255, 255, 255))
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False)
    return out.getvalue()
