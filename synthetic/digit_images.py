"""Test inputs made on the spot: Bengali digits rendered from the system's Bengali fonts
(Debian's fonts-beng, installed by `make system-deps`), placed and sized like canvas drawings."""

from __future__ import annotations

import io
import subprocess
from functools import cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from bengali_digit import DIGITS

CANVAS = 280


class MissingFont(RuntimeError):
    """A font the inputs are rendered from is not installed (the tests skip on it, with this reason)."""


@cache
def bengali_fonts() -> list[Path]:
    """Font files that cover the Bengali digits, as fontconfig knows them."""
    try:
        out = subprocess.run(["fc-list", ":lang=bn", "file"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        out = ""
    fonts = sorted({Path(line.split(":")[0].strip()) for line in out.splitlines() if line.strip()})
    if not fonts:
        raise MissingFont("no Bengali font found: install Debian's fonts-beng (`sudo make system-deps`)")
    return fonts


def render_digit(digit: int, font: Path, glyph_px: int = 170, center: tuple[int, int] = (140, 140),
                 stroke: int = 0, size: int = CANVAS) -> Image.Image:
    """Dark digit on a white square canvas, like the drawing page sends."""
    return render_text(DIGITS[digit], font, glyph_px, center, stroke, size)


def render_text(text: str, font: Path, glyph_px: int = 170, center: tuple[int, int] = (140, 140),
                stroke: int = 0, size: int | tuple[int, int] = CANVAS) -> Image.Image:
    """Dark text on a white canvas, square or (width, height)."""
    image = Image.new("L", size if isinstance(size, tuple) else (size, size), 255)
    draw = ImageDraw.Draw(image)
    draw.text(center, text, font=ImageFont.truetype(str(font), glyph_px), fill=0, anchor="mm",
              stroke_width=stroke, stroke_fill=0)
    return image


@cache
def latin_font() -> Path:
    """A font with Latin letters (DejaVu Sans, on every Debian with fontconfig)."""
    out = subprocess.run(["fc-match", "-f", "%{file}", "DejaVu Sans:style=Book"], capture_output=True, text=True)
    if out.returncode or not out.stdout:
        raise MissingFont("no Latin font found: install Debian's fonts-dejavu-core (`sudo make system-deps`)")
    return Path(out.stdout)


def png_bytes(image: Image.Image, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt)
    return buf.getvalue()


def variants(fonts: list[Path]) -> list[tuple[int, Image.Image, str]]:
    """(digit, image, description): every digit in every font at several sizes, places and pens."""
    out = []
    for font in fonts:
        for glyph_px, center, stroke in ((170, (140, 140), 0), (110, (90, 170), 3), (220, (150, 130), 6)):
            for d in range(10):
                image = render_digit(d, font, glyph_px, center, stroke)
                out.append((d, image, f"{font.stem} {glyph_px}px stroke {stroke}"))
    return out
