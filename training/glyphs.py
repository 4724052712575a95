"""Characters that are no Bengali digit, rendered from the system's fonts and redrawn the way the page
draws: the numerals of other scripts and Bengali and Devanagari letters, the things a person is most
likely to draw instead of a Bengali digit. Fonts come from Debian's fonts-* packages (`make
train-deps`); a script without a font is skipped. Numerals of VALIDATION_SCRIPTS are never trained on.
"""

from __future__ import annotations

import subprocess
from functools import cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

# Code point of the digit zero of each script's decimal numerals (Unicode category Nd). Bengali's
# (U+09E6) is ours, and Assamese writes the same digits, so neither is here.
NUMERALS = {
    "latin": 0x30, "arabic-indic": 0x660, "persian": 0x6F0, "nko": 0x7C0, "devanagari": 0x966,
    "gurmukhi": 0xA66, "gujarati": 0xAE6, "oriya": 0xB66, "tamil": 0xBE6, "telugu": 0xC66,
    "kannada": 0xCE6, "malayalam": 0xD66, "sinhala": 0xDE6, "thai": 0xE50, "lao": 0xED0,
    "tibetan": 0xF20, "myanmar": 0x1040, "khmer": 0x17E0, "mongolian": 0x1810, "limbu": 0x1946,
    "balinese": 0x1B50, "ol-chiki": 0x1C50,
}
LETTERS = {"bengali": range(0x985, 0x9BA), "devanagari": range(0x905, 0x93A)}
VALIDATION_SCRIPTS = ("telugu", "kannada", "tamil")  # numerals held out: scripts never trained on
FONTS_PER_SCRIPT = 4
SIZE = 28  # rendered like the stored digits, then redrawn by training.redraw


@cache
def fonts_for(char: str) -> list[str]:
    """Font files that have a glyph for `char`, as fontconfig knows them (a few, sorted)."""
    try:
        out = subprocess.run(["fc-list", f":charset={ord(char):x}", "file"], capture_output=True, text=True,
                             check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return []
    files = sorted({line.split(":")[0].strip() for line in out.splitlines() if line.strip()})
    return [f for f in files if f.endswith((".ttf", ".otf"))][:FONTS_PER_SCRIPT]


def render(char: str, font: str, px: int, stroke: int) -> np.ndarray:
    """The glyph, ink 255 on 0, scaled into a SIZE×SIZE frame like the training digits."""
    big = Image.new("L", (4 * SIZE, 4 * SIZE), 0)
    ImageDraw.Draw(big).text((2 * SIZE, 2 * SIZE), char, font=ImageFont.truetype(font, px), fill=255,
                             anchor="mm", stroke_width=stroke, stroke_fill=255)
    box = big.getbbox()
    if box is None:
        return np.zeros((SIZE, SIZE), np.uint8)
    crop = big.crop(box)
    scale = 24 / max(crop.size)
    crop = crop.resize((max(1, round(crop.width * scale)), max(1, round(crop.height * scale))),
                       Image.Resampling.LANCZOS)
    out = Image.new("L", (SIZE, SIZE), 0)
    out.paste(crop, ((SIZE - crop.width) // 2, (SIZE - crop.height) // 2))
    return np.asarray(out)


def characters() -> list[tuple[str, str]]:
    """(script, character) for every numeral and letter here."""
    chars = [(s, chr(zero + d)) for s, zero in NUMERALS.items() for d in range(10)]
    for script, codes in LETTERS.items():
        chars += [(f"{script}-letter", chr(c)) for c in codes]
    return chars


def render_all() -> tuple[list[np.ndarray], list[str], list[str]]:
    """(images, script of each, character of each): each character in each of its fonts at two
    stroke weights. Characters no font draws are left out."""
    images, scripts, chars = [], [], []
    for script, char in characters():
        for font in fonts_for(char):
            for px, stroke in ((80, 0), (64, 3)):
                im = render(char, font, px, stroke)
                if im.any():
                    images.append(im)
                    scripts.append(script)
                    chars.append(char)
    return images, scripts, chars
