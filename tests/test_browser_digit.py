"""The drawing page's digit mode in Debian's Chromium, driven by Playwright against the running stack
(gunicorn and TorchServe): digits drawn with the mouse, with touch on a phone-sized screen and with
a pen; a scribble that is no digit ("not sure"); Undo and Clear; the message when the model is down;
no console errors."""

from __future__ import annotations

import re

import numpy as np
import pytest

from bengali_digit import DIGITS
from bengali_digit.payload import image_bytes
from bengali_digit.preprocess import prepare_bytes
from service.gateway import Gateway
from synthetic.digit_images import CANVAS, bengali_fonts
from synthetic.strokes import SCRIBBLES, Stroke, font_strokes, shared_strokes
from tests.conftest import needs_shared_data
from tests.drawing_page import ANSWERED, DESKTOP, WAIT_MS, Tab, open_tab

FONT = next((f for f in bengali_fonts() if f.stem == "Lohit-Bengali"), bengali_fonts()[-1])
# No digit: a hatching of seven parallel slanting strokes, as people scribble to test a recognizer
HATCHING = SCRIBBLES["hatching"]


def read_digits(tab: Tab, drawings: dict[int, list[Stroke]], by: str,
                screenshot: str | None = None) -> list[int | None]:
    """Draw each digit on a clean pad; the digits the page showed (None for "not sure": a wrong
    answer here), after checking how it showed them."""
    shown: list[int | None] = []
    for digit, strokes in drawings.items():
        tab.clear()
        tab.draw(strokes, by)
        result = tab.result(len(strokes), ANSWERED)
        if result["state"] == "not-sure":
            shown.append(None)
            continue
        latin = int(result["latin"])
        assert result["bengali"] == DIGITS[latin]
        assert [b["label"] for b in result["bars"]] == [f"{DIGITS[d]}{d}" for d in range(10)]
        assert all(b["visible"] for b in result["bars"])
        assert [i for i, b in enumerate(result["bars"]) if b["top"]] == [latin]
        assert result["confidence"].endswith("%") and result["bars"][latin]["pct"] == result["confidence"]
        assert DIGITS[latin] in result["announce"] and result["not_sure"] == ""
        shown.append(latin)
        if screenshot and digit == 3:
            tab.screenshot(screenshot)
    print(f"{by}: drew {list(drawings)}, page showed {shown}")
    return shown


def right(drawings: dict[int, list[Stroke]], shown: list[int | None]) -> int:
    return sum(d == s for d, s in zip(drawings, shown, strict=True))


def font_drawings() -> dict[int, list[Stroke]]:
    return {d: font_strokes(d, FONT) for d in range(10)}


def test_mouse_drawn_digits(desktop):
    drawings = font_drawings()
    assert right(drawings, read_digits(desktop, drawings, "mouse", "desktop.png")) >= 8
    assert desktop.pointer_types() == ["mouse"]
    assert desktop.errors == [] and set(desktop.statuses) == {200}


def test_shared_canvas_strokes_drawn_with_the_mouse(desktop):
    drawings = shared_strokes(needs_shared_data("canvas_val_strokes.json"))
    assert right(drawings, read_digits(desktop, drawings, "mouse")) >= 8
    assert desktop.errors == [] and set(desktop.statuses) == {200}


def test_the_page_sends_only_the_ink_s_part_of_its_image(desktop):
    """What the page sends is the part of its 280 px image that holds the ink (pad.js, toBlob): fewer
    pixels to send and decode. In this browser's own drawing, that part gives the network the very
    input the whole image gives, for a digit in the middle and one against the pad's corner."""
    seven = font_strokes(7, FONT)
    desktop.clear()
    # the size of every image the page posts, from its PNG header (Chromium hands Playwright no
    # Blob bodies, so the page's fetch is watched from inside)
    desktop.page.evaluate("""() => {
        const post = window.fetch;
        window.sentSizes = [];
        window.fetch = async (url, options) => {
            if (options?.body instanceof Blob) {
                const header = new DataView(await options.body.slice(16, 24).arrayBuffer());
                window.sentSizes.push([header.getUint32(0), header.getUint32(4)]);
            }
            return post(url, options);
        };
    }""")
    desktop.draw(seven)
    assert desktop.result(len(seven))["latin"] == "7"
    width, height = desktop.page.evaluate("window.sentSizes.at(-1)")
    assert 0 < width < CANVAS and 0 < height < CANVAS
    left, top = min(x for s in seven for x, _ in s), min(y for s in seven for _, y in s)
    cornered = [[(x - left + 2, y - top + 2) for x, y in stroke] for stroke in seven]
    for strokes in (seven, cornered):
        whole, part = desktop.page.evaluate("""async (strokes) => {
            const { render, inkBox } = await import("/static/pad.js");
            const unit = strokes.map((stroke) => stroke.map(([x, y]) => [x / 280, y / 280]));
            const png = (box) => render(unit, 280, box).toDataURL("image/png");
            return [png([0, 0, 280, 280]), png(inkBox(unit, 280, 280))];
        }""", strokes)
        whole, part = image_bytes(whole), image_bytes(part)
        assert len(part) < len(whole)
        assert np.array_equal(prepare_bytes(part), prepare_bytes(whole))
    assert desktop.errors == []


def test_touch_on_a_phone(phone):
    page = phone.page
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, "the page scrolls sideways at 360 px"
    pad = page.locator("#pad").bounding_box()
    assert 300 <= pad["width"] <= 360 and pad["width"] == pytest.approx(pad["height"], abs=1)
    backing = page.evaluate("document.getElementById('pad').width")
    assert backing == pytest.approx(pad["width"] * 3, abs=2), "canvas not scaled by devicePixelRatio"
    for button in ("#undo", "#clear"):
        assert page.locator(button).bounding_box()["height"] >= 40
    assert page.evaluate("getComputedStyle(document.getElementById('pad')).touchAction") == "none"

    drawings = font_drawings()
    assert right(drawings, read_digits(phone, drawings, "touch", "phone.png")) >= 8
    digit = page.locator("#digit").bounding_box()
    assert digit["y"] + digit["height"] <= 740, "the answer is below the fold"
    assert phone.pointer_types() == ["touch"]
    assert phone.errors == [] and set(phone.statuses) == {200}


def test_pen(desktop):
    strokes = font_strokes(4, FONT)
    desktop.draw(strokes, "pen")
    desktop.result(len(strokes))
    assert desktop.pointer_types() == ["pen"]
    assert desktop.ink() > 0 and desktop.errors == []


@pytest.mark.server  # its page comes by name (request.getfixturevalue), out of the fixture scan
@pytest.mark.parametrize(("device", "by"), [("desktop", "mouse"), ("phone", "touch")])
def test_scribble_is_not_a_digit(request, device, by):
    """The real model refuses a hatching (no threshold override): the page asks, in both languages,
    whether it is a Bengali digit and names its best guess; a digit drawn next is an answer again."""
    tab = request.getfixturevalue(device)
    tab.draw(HATCHING, by)
    result = tab.result(len(HATCHING), state="not-sure")
    assert result["not_sure"] == "নিশ্চিত নই: এটি কি বাংলা অঙ্ক? Not sure: is this a Bengali digit?"
    shown = re.fullmatch(r"সম্ভবত ([০-৯]) · best guess (\d), (\d+%)", result["guess"])
    assert shown, result["guess"]
    guess = int(shown[2])
    assert shown[1] == DIGITS[guess]
    assert result["bengali"] == "?" and result["latin"] == "–" and result["hint"] == ""
    assert all(b["visible"] for b in result["bars"])
    assert [i for i, b in enumerate(result["bars"]) if b["top"]] == [guess]
    assert result["bars"][guess]["pct"] == shown[3]
    assert "নিশ্চিত নই" in result["announce"] and "Not sure" in result["announce"]
    assert f"Best guess {guess}, {shown[3]}" in result["announce"]
    view = tab.page.viewport_size
    for what in ("#not-sure", "#bars .top .track"):
        box = tab.page.locator(what).bounding_box()
        assert box["y"] + box["height"] <= view["height"], f"{what} is below the fold"
    assert tab.page.evaluate("document.documentElement.scrollWidth") <= view["width"]
    tab.screenshot(f"{device}-not-sure.png")

    tab.clear()
    assert tab.page.locator("#not-sure").is_hidden()
    three = font_strokes(3, FONT)
    tab.draw(three, by)
    result = tab.result(len(three))
    assert result["bengali"] == DIGITS[int(result["latin"])] and result["not_sure"] == ""
    assert tab.errors == [] and set(tab.statuses) == {200}


def test_undo_and_clear(desktop):
    page = desktop.page
    seven = font_strokes(7, FONT)
    extra = [[(40.0, 240.0), (120.0, 250.0), (240.0, 235.0)]]  # a scribble under the digit
    desktop.draw(seven + extra)
    desktop.result(len(seven) + 1, ANSWERED)  # a digit or not: this test is about Undo
    with_scribble = desktop.ink()

    page.click("#undo")
    after_undo = desktop.result(len(seven))
    assert 0 < desktop.ink() < with_scribble

    desktop.draw(extra)
    desktop.result(len(seven) + 1, ANSWERED)
    page.keyboard.press("Control+z")
    assert desktop.result(len(seven)) == after_undo

    desktop.draw(extra)
    desktop.result(len(seven) + 1, ANSWERED)
    page.keyboard.press("Backspace")
    assert desktop.result(len(seven)) == after_undo

    page.click("#clear")
    page.locator('#result[data-state="idle"]').wait_for(timeout=WAIT_MS)
    assert desktop.ink() == 0 and page.text_content("#digit") == "?"
    assert page.locator("#bars .top").count() == 0

    page.keyboard.press("Control+z")  # nothing to undo: no request for an empty pad
    page.keyboard.press("Escape")
    desktop.draw(seven)
    desktop.result(len(seven))
    # an empty pad sent to the model would have come back 422 (blank_image)
    assert set(desktop.statuses) == {200} and desktop.errors == []


def test_model_down_shows_the_error_then_retry_works(browser, own_torchserve, own_gateway: Gateway):
    with open_tab(browser, own_gateway.url, DESKTOP) as tab:
        page = tab.page
        one = font_strokes(1, FONT)
        tab.draw(one)
        tab.result(len(one))
        assert page.locator("#error").is_hidden()

        own_torchserve.stop()
        extra = [[(40.0, 250.0), (240.0, 250.0)]]
        tab.draw(extra)
        tab.result(len(one) + 1, state="error")
        assert page.locator("#error").is_visible()
        assert "not answering" in page.text_content("#error")
        assert "not answering" in page.text_content("#announce")
        assert page.text_content("#digit") == "?"

        own_torchserve.start()
        own_torchserve.wait_ready()
        own_gateway.wait_ready("/readyz")
        page.click("#retry")
        tab.result(len(one) + 1, ANSWERED)  # a ১ with a line under it: a digit or not
        assert page.locator("#error").is_hidden()
        assert 503 in tab.statuses and tab.statuses[-1] == 200
        # Chromium logs every non-2xx fetch as a console error; nothing else may appear
        assert [e for e in tab.errors if "status of 503" not in e] == []
