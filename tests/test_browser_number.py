"""The drawing page's Number mode in Debian's Chromium, driven by Playwright against the running
stack: numbers written digit by digit (spaced, touching, overlapping, with a piece that is no digit), each digit
boxed where it was drawn, on a desktop and a phone; the mode kept in the URL and left again."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from skimage.measure import label

from bengali_digit import DIGITS
from synthetic.digit_images import CANVAS, bengali_fonts
from synthetic.strokes import SCRIBBLES, Stroke, draw, font_strokes
from tests.drawing_page import ANSWERED, WAIT_MS, Tab

FONT = next((f for f in bengali_fonts() if f.stem == "Lohit-Bengali"), bengali_fonts()[-1])
PEN = 15  # the page's pen on the 280 px tall image it sends (pad.js: PEN × 280)
NUMBER_SCALE = 0.72  # font strokes (a 220 px glyph on 280) shrunk to leave room above and below
LEFT = 30  # where the first digit starts, in image pixels


def place(text: str, gap: float) -> list[list[Stroke]]:
    """Each digit of `text` as font strokes, left to right in pixels of a 280 px tall image, with
    `gap` pixels of paper between one digit's ink and the next (negative: the inks overlap)."""
    out, x = [], float(LEFT)
    for ch in text:
        strokes = font_strokes(DIGITS.index(ch), FONT)
        left = min(px for stroke in strokes for px, _ in stroke)
        placed = [[(x + (px - left) * NUMBER_SCALE, CANVAS / 2 + (py - CANVAS / 2) * NUMBER_SCALE)
                   for px, py in stroke] for stroke in strokes]
        out.append(placed)
        x = max(px for stroke in placed for px, _ in stroke) + PEN + gap
    return out


def pieces(digits: list[list[Stroke]]) -> int:
    """Connected pieces of ink when drawn the way the page draws."""
    ink = np.asarray(draw([s for d in digits for s in d], PEN, (3 * CANVAS, CANVAS))) < 128
    return int(label(ink, connectivity=2).max())


def touching(text: str) -> list[list[Stroke]]:
    """The digits of `text` moved together until their inks touch (one piece fewer than apart)."""
    apart = sum(pieces(place(ch, 0)) for ch in text)
    for gap in range(0, -40, -2):
        if pieces(digits := place(text, gap)) < apart:
            return digits
    raise AssertionError(f"{text} never touches")


def ink_box(tab: Tab, strokes: list[Stroke]) -> tuple[float, float, float, float]:
    """Where the ink of `strokes` lies on the page, in CSS pixels: the strokes' extent plus half a pen."""
    pad = tab.page.locator("#pad").bounding_box()
    scale = pad["height"] / CANVAS
    xs = [x for stroke in strokes for x, _ in stroke]
    ys = [y for stroke in strokes for _, y in stroke]
    return (pad["x"] + (min(xs) - PEN / 2) * scale, pad["y"] + (min(ys) - PEN / 2) * scale,
            pad["x"] + (max(xs) + PEN / 2) * scale, pad["y"] + (max(ys) + PEN / 2) * scale)


def check_number(tab: Tab, text: str, digits: list[list[Stroke]], by: str = "mouse", spaced: bool = True) -> dict:
    """Draw the digits stroke by stroke on a clean pad; the page must show `text`, in Bengali and
    Latin digits, and one box per digit with its reading (where the digit was drawn, when spaced)."""
    strokes = [s for d in digits for s in d]
    tab.clear()
    assert tab.page.locator("#boxes .box").count() == 0
    tab.draw(strokes, by)
    shown = tab.number(len(strokes))
    latin = "".join(str(DIGITS.index(ch)) for ch in text)
    assert (shown["bengali"], shown["latin"]) == (text, latin), shown
    assert shown["confidence"].endswith("%") and shown["not_sure"] == ""
    assert text in shown["announce"] and latin in shown["announce"]
    boxes = shown["boxes"]
    assert [b["tag"] for b in boxes] == [f"{ch}{DIGITS.index(ch)}" for ch in text]
    assert all(b["verdict"] == "digit" and b["tag_visible"] for b in boxes)
    assert [b["x0"] for b in boxes] == sorted(b["x0"] for b in boxes)
    pad = tab.page.locator("#pad").bounding_box()
    tolerance = 6 * pad["height"] / CANVAS  # a few image pixels: anti-aliasing, the pen's smoothing
    for box, digit in zip(boxes, digits, strict=True):
        x0, y0, x1, y1 = ink_box(tab, digit)
        assert pad["x"] - 1 <= box["x0"] < box["x1"] <= pad["x"] + pad["width"] + 1, box
        assert (box["y0"], box["y1"]) == (pytest.approx(y0, abs=tolerance), pytest.approx(y1, abs=tolerance))
        if spaced:  # a touching pair is cut somewhere at its neck
            assert (box["x0"], box["x1"]) == (pytest.approx(x0, abs=tolerance), pytest.approx(x1, abs=tolerance))
    return shown


SPACED, TOUCHING = "৩৪৫৮", "৫৮"  # read right from these strokes by the committed model


def test_number_mode_with_the_mouse(desktop):
    page = desktop.page
    desktop.number_mode(by="keyboard")
    assert page.url.endswith("#number")
    pad = page.locator("#pad").bounding_box()
    assert 2.5 <= pad["width"] / pad["height"] <= 3.05, pad
    backing = page.evaluate("[document.getElementById('pad').width, document.getElementById('pad').height]")
    assert backing == [pytest.approx(pad["width"], abs=2), pytest.approx(pad["height"], abs=2)]

    check_number(desktop, SPACED, place(SPACED, 25))
    desktop.screenshot("desktop-number.png")
    pair = touching(TOUCHING)
    check_number(desktop, TOUCHING, pair, spaced=False)

    # Undo takes back the last stroke and the boxes with it; the reading comes back for what is left
    strokes = sum(len(d) for d in pair)
    page.click("#undo")
    assert page.locator("#boxes .box").count() == 0
    desktop.wait(strokes - 1, ANSWERED)
    desktop.clear()
    assert page.locator("#boxes .box").count() == 0 and page.text_content("#number") == "?"

    page.reload()  # the mode is in the URL
    page.locator('body[data-mode="number"] #result[data-state="idle"]').wait_for(timeout=WAIT_MS)
    page.click("#mode-digit")
    page.locator('body[data-mode="digit"] #result[data-state="idle"]').wait_for(timeout=WAIT_MS)
    assert not page.url.endswith("#number")
    square = page.locator("#pad").bounding_box()
    assert square["width"] == pytest.approx(square["height"], abs=1)
    three = font_strokes(3, FONT)
    desktop.draw(three)
    assert desktop.result(len(three))["bengali"] == DIGITS[3]
    assert desktop.errors == [] and set(desktop.statuses) == {200}


def test_overlapping_digits_are_parted_by_their_strokes(desktop):
    """Digits whose inks overlap by a tenth of their height, strokes crossing: the page sends the
    strokes with the picture, and each digit comes back boxed on its own ink, as if spaced."""
    sent: list[dict] = []
    desktop.page.on("request", lambda r: r.url.endswith("/api/number") and sent.append(json.loads(r.post_data)))
    desktop.number_mode()
    digits = place(SPACED, -16)
    check_number(desktop, SPACED, digits)
    last = sent[-1]
    assert last["image"].startswith("data:image/png;base64,")
    assert len(last["strokes"]) == sum(len(d) for d in digits)
    assert desktop.errors == [] and set(desktop.statuses) == {200}


def test_number_with_a_piece_that_is_no_digit(desktop):
    """A star between two digits: the page asks about piece 2 and boxes it as unsure."""
    star = SCRIBBLES["star"]
    left, scale = min(x for s in star for x, _ in s), 0.5
    five, eight = place("৫৮", 80 + 220 * scale - PEN)  # room between them for the star, 40 px from each
    right = max(x for s in five for x, _ in s)
    star = [[(right + 40 + scale * (x - left), CANVAS / 2 + scale * (y - CANVAS / 2)) for x, y in s] for s in star]
    desktop.number_mode()
    strokes = five + star + eight
    desktop.draw(strokes)
    shown = desktop.number(len(strokes), state="not-sure")
    assert shown["not_sure"] == ("নিশ্চিত নই: বাঁ দিক থেকে ২ নম্বর অংশটি কি বাংলা অঙ্ক? "
                                 "Not sure: is piece 2 from the left a Bengali digit?"), shown
    assert re.fullmatch(r"সম্ভবত ৫[০-৯]৮ · best guess 5\d8", shown["guess"]), shown["guess"]
    assert shown["bengali"] == "?" and shown["latin"] == "–"
    assert [b["verdict"] for b in shown["boxes"]] == ["digit", "not_a_digit", "digit"]
    assert [b["tag"] for b in shown["boxes"]] == ["৫5", "?", "৮8"]
    assert "Not sure" in shown["announce"]
    desktop.screenshot("desktop-number-not-sure.png")
    assert desktop.errors == [] and set(desktop.statuses) == {200}


def test_number_mode_on_a_phone(phone):
    page = phone.page
    phone.number_mode(by="tap")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360, "the page scrolls sideways at 360 px"
    pad = page.locator("#pad").bounding_box()
    assert pad["width"] >= 320 and pad["x"] >= 0 and pad["x"] + pad["width"] <= 360, pad
    assert pad["height"] <= 0.6 * pad["width"], "the number pad should be wider than tall"
    for button in ("#mode-digit", "#mode-number", "#undo", "#clear"):
        assert page.locator(button).bounding_box()["height"] >= 40
    check_number(phone, SPACED, place(SPACED, 15), by="touch")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    answer = page.locator("#number").bounding_box()
    assert answer["y"] + answer["height"] <= 740, "the answer is below the fold"
    phone.screenshot("phone-number.png")
    assert phone.pointer_types() == ["touch"]
    assert phone.errors == [] and set(phone.statuses) == {200}
