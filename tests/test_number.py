"""Whole numbers: `bengali_digit.number` in-process on numbers rendered from Bengali fonts (spaced,
tight, a touching pair), touching numbers read with the strokes they were drawn in, its errors, and
the `bengali_number` model through a real TorchServe."""

from __future__ import annotations

import numpy as np
import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image, ImageDraw, ImageFont

from bengali_digit import DIGITS
from bengali_digit.catalog import NUMBER_MODEL_NAME
from bengali_digit.limits import PreprocessError
from bengali_digit.number import MAX_DIGITS, read_number
from synthetic.digit_images import bengali_fonts, png_bytes
from synthetic.strokes import font_numbers, page_json
from tests.fuzzing import FUZZ
from training.evaluate import Served

FONTS = bengali_fonts()


@pytest.fixture(scope="module")
def served():
    return Served(in_numbers=True)


def render_number(text: str, font, gap: int, px: int = 120) -> tuple[Image.Image, list]:
    """Dark digits on white, `gap` px between neighbouring ink boxes (negative: they overlap), and the
    ink box of each digit."""
    face = ImageFont.truetype(str(font), px)
    glyphs = []
    for ch in text:
        g = Image.new("L", (2 * px, 2 * px), 0)
        ImageDraw.Draw(g).text((px // 2, px // 2), ch, font=face, fill=255)
        glyphs.append(g.crop(g.getbbox()))
    width = sum(g.width for g in glyphs) + gap * (len(glyphs) - 1) + 80
    ink = Image.new("L", (max(width, 80), 2 * px), 0)
    x, boxes = 40, []
    for g in glyphs:
        y = px - g.height // 2
        ink.paste(Image.fromarray(np.maximum(np.asarray(ink.crop((x, y, x + g.width, y + g.height))), np.asarray(g))),
                  (x, y))
        boxes.append([x, y, x + g.width, y + g.height])
        x += g.width + gap
    return Image.fromarray(255 - np.asarray(ink)), boxes


@pytest.mark.parametrize("gap", [60, 25, 8])
def test_font_numbers_in_several_spacings_are_read(served, gap):
    wrong = []
    for font in FONTS:
        for text in ("২০২৬", "১৯৭১", "৩৪৫৮"):
            image, _ = render_number(text, font, gap)
            answer = read_number(image, served.classify)
            if answer["bengali"] != text:
                wrong.append(f"{font.stem} {text} -> {[d['best_guess'] for d in answer['digits']]}")
    print(f"gap {gap}: wrong {wrong}")
    assert len(wrong) <= len(FONTS) * 3 // 8, wrong  # most fonts read every number right


def test_answer_shape_and_boxes(served):
    image, boxes = render_number("৫০৭", FONTS[0], 40)
    answer = read_number(image, served.classify)
    assert answer["number"] == "507" and answer["bengali"] == "৫০৭"
    assert 0 < answer["confidence"] <= 1
    assert [d["digit"] for d in answer["digits"]] == [5, 0, 7]
    for d, want in zip(answer["digits"], boxes, strict=True):
        assert d["bengali"] == DIGITS[d["digit"]] and d["verdict"] == "digit"
        x0, y0, x1, y1 = d["box"]
        assert abs(x0 - want[0]) <= 3 and abs(x1 - want[2]) <= 3 and abs(y0 - want[1]) <= 3 and abs(y1 - want[3]) <= 3


def test_a_touching_pair_is_split(served):
    right = 0
    for font in FONTS:
        image, _ = render_number("৫৮", font, -6)
        right += read_number(image, served.classify)["number"] == "58"
    assert right >= len(FONTS) // 2


@pytest.fixture(scope="module")
def touching():
    """Font digits traced into strokes and composed as the validation composes numbers, their ink
    boxes overlapping by up to 15 % of the height (strokes may cross)."""
    return font_numbers("touching", 60)


def test_strokes_part_touching_digits(served, touching):
    """Where cuts through the picture part touching digits badly, the strokes they were drawn in,
    digit after digit, part them where one digit's strokes end."""
    with_strokes = [read_number(n.image, served.classify, n.strokes)["number"] == n.label for n in touching]
    pictures = [read_number(n.image, served.classify)["number"] == n.label for n in touching]
    print(f"touching font numbers read right: {sum(with_strokes)} with strokes, {sum(pictures)} from pictures")
    assert sum(with_strokes) >= 0.9 * len(touching) and sum(with_strokes) >= sum(pictures)


def test_strokes_in_any_order_give_the_digits_left_to_right(served, touching):
    """A person may go back and finish a digit: the answer is still read left to right."""
    for n in touching[:10]:
        want = read_number(n.image, served.classify, n.strokes)
        again = read_number(n.image, served.classify, n.strokes[::-1])
        assert [d["box"][0] for d in again["digits"]] == sorted(d["box"][0] for d in again["digits"])
        if want["number"] == n.label:
            assert again["number"] == n.label, (n.label, again["number"])


def test_a_stroke_added_to_a_digit_later_still_belongs_to_it(served, touching):
    """A person finishes the first digit after beginning the next: that digit's last stroke comes
    last. The reading holds, where the strokes in order alone would part the first digit."""
    late, pictures, n_late = 0, 0, 0
    for n in touching:
        x0, _, x1, _ = n.boxes[0]
        first = [i for i, s in enumerate(n.strokes) if all(x0 - 1 <= x <= x1 + 1 for x, _ in s)]
        if len(first) < 2:
            continue
        n_late += 1
        moved = [s for i, s in enumerate(n.strokes) if i != first[-1]] + [n.strokes[first[-1]]]
        late += read_number(n.image, served.classify, moved)["number"] == n.label
        pictures += read_number(n.image, served.classify)["number"] == n.label
    print(f"{n_late} numbers with a late stroke: {late} read right, {pictures} from pictures")
    assert n_late >= 20 and late >= 0.9 * n_late and late >= pictures


def test_strokes_that_miss_the_ink_are_ignored(served, touching):
    """Strokes that do not match the picture (another drawing's, shifted away) cannot make the
    reading worse than the picture's alone."""
    for n in touching[:5]:
        shifted = [[(x + 5000, y) for x, y in stroke] for stroke in n.strokes]
        assert read_number(n.image, served.classify, shifted) == read_number(n.image, served.classify)


COORDINATE = st.floats(min_value=-1e12, max_value=1e12, allow_nan=False)
POINT = st.lists(COORDINATE, min_size=2, max_size=3)


@FUZZ
@given(st.lists(st.lists(POINT, min_size=1, max_size=6), min_size=1, max_size=8))
def test_any_strokes_give_an_answer_or_a_refusal(served, strokes):
    """Whatever strokes come with a picture (off it, huge, one point, crossing everything), the
    number is read or refused by name, never a crash."""
    image, _ = render_number("৫৮", FONTS[0], -6)
    try:
        answer = read_number(image, served.classify, strokes)
    except PreprocessError as err:
        assert err.code in ("too_many_digits", "no_digit", "blank_image"), err.code
        return
    assert answer["digits"] and all(d["box"][0] < d["box"][2] for d in answer["digits"])


def test_errors_name_the_problem(served):
    with pytest.raises(PreprocessError) as err:
        read_number(Image.new("L", (600, 200), 255), served.classify)
    assert err.value.code == "blank_image" and err.value.status == 422
    image, _ = render_number("১২৩৪৫৬৭৮৯০১২৩", FONTS[0], 30, px=60)
    with pytest.raises(PreprocessError) as err:
        read_number(image, served.classify)
    assert err.value.code == "too_many_digits" and err.value.status == 422 and str(MAX_DIGITS) in err.value.message


def test_bengali_number_through_torchserve(torchserve):
    image, boxes = render_number("২০২৬", FONTS[0], 40)
    r = requests.post(f"{torchserve.inference}/predictions/{NUMBER_MODEL_NAME}", data=png_bytes(image), timeout=30)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"number", "bengali", "confidence", "digits", "model_version"}
    assert body["number"] == "2026" and body["bengali"] == "২০২৬", body
    assert [d["box"][0] for d in body["digits"]] == sorted(d["box"][0] for d in body["digits"])
    for d, want in zip(body["digits"], boxes, strict=True):
        assert set(d) == {"verdict", "digit", "bengali", "best_guess", "confidence", "box"}
        assert abs(d["box"][0] - want[0]) <= 3 and abs(d["box"][2] - want[2]) <= 3


def test_strokes_through_torchserve(torchserve, touching):
    url = f"{torchserve.inference}/predictions/{NUMBER_MODEL_NAME}"
    n = touching[0]
    r = requests.post(url, json=page_json(n), timeout=30)
    assert r.status_code == 200 and r.json()["number"] == n.label, (n.label, r.text)


@pytest.mark.parametrize(("strokes", "status", "code"), [
    ("M 0 0 L 10 10", 400, "bad_strokes"), ([[]], 400, "bad_strokes"), ([[[1.0, "2"]]], 400, "bad_strokes"),
    ([[[1.0, 2.0]]] * 101, 413, "too_many_points"), ([[[1.0, 2.0]] * 10_001], 413, "too_many_points"),
])
def test_bad_strokes_are_refused_by_name(torchserve, touching, strokes, status, code):
    url = f"{torchserve.inference}/predictions/{NUMBER_MODEL_NAME}"
    r = requests.post(url, json={**page_json(touching[0]), "strokes": strokes}, timeout=30)
    assert r.status_code == status and r.json()["error"] == code, r.text


@pytest.mark.parametrize(("data", "status", "code"), [(b"", 400, "empty_input"), (b"not an image", 415, "not_an_image"),
                                                      (png_bytes(Image.new("L", (300, 100), 255)), 422, "blank_image")])
def test_bad_inputs_get_the_digit_models_errors(torchserve, data, status, code):
    for model in ("bengali_digit", NUMBER_MODEL_NAME):
        r = requests.post(f"{torchserve.inference}/predictions/{model}", data=data, timeout=30)
        assert r.status_code == status and r.json()["error"] == code, (model, r.text)
