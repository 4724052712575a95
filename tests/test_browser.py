"""The drawing page in Debian's Chromium, driven by Playwright against the running stack (gunicorn
and TorchServe): digits drawn with the mouse, with touch on a phone-sized screen and with a pen;
a scribble that is no digit ("not sure"); Undo and Clear; the message when the model is down; no
console errors. Number mode: numbers written digit by digit (spaced, touching, with a piece that
is no digit), each digit boxed where it was drawn, on a desktop and a phone."""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import sync_playwright
from skimage.measure import label

from bengali_digit import DIGITS
from bengali_digit.catalog import ROOT
from service.gateway import Gateway
from synthetic.digit_images import CANVAS, bengali_fonts
from synthetic.strokes import SCRIBBLES, Stroke, draw, font_strokes, shared_strokes
from tests.conftest import needs_shared_data

CHROMIUM = os.environ.get("BDR_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
SCREENSHOTS = ROOT / "build" / "screenshots"
FONT = next((f for f in bengali_fonts() if f.stem == "Lohit-Bengali"), bengali_fonts()[-1])
DESKTOP = {"viewport": {"width": 1280, "height": 800}, "device_scale_factor": 1}
PHONE = {"viewport": {"width": 360, "height": 740}, "device_scale_factor": 3, "is_mobile": True, "has_touch": True}
WAIT_MS = 20_000
ANSWERED = ("done", "not-sure")  # either answer, for drawings whose verdict a test does not judge
# No digit: a hatching of seven parallel slanting strokes, as people scribble to test a recognizer
HATCHING = SCRIBBLES["hatching"]

# What both modes show of an answer, read by the element ids each mode uses (JavaScript, evaluated
# in the page): the value in Bengali and Latin digits, its confidence, and the "not sure" panel.
READ_ANSWER = """
            const el = (id) => document.getElementById(id);
            const shown = (id, part) => el(id).hidden ? "" : document.querySelector(`#${id} ${part}`).textContent;
            const answer = (bengali, latin, confidence, notSure) => ({
                state: el("result").dataset.state, bengali: el(bengali).textContent,
                latin: el(latin).textContent, confidence: el(confidence).textContent,
                announce: el("announce").textContent,
                not_sure: shown(notSure, "p"), guess: shown(notSure, ".guess"),
            });"""


@dataclass
class Tab:
    """A page of the app and what its console said."""

    page: object
    errors: list[str] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)  # of every /api/predict and /api/number response

    def draw(self, strokes: list[Stroke], by: str = "mouse") -> None:
        """Replay strokes given in pixels of a 280 px tall image (a digit's pad: 280×280) as pointer
        moves over the pad."""
        box = self.page.locator("#pad").bounding_box()
        scale = box["height"] / CANVAS
        cdp = self.page.context.new_cdp_session(self.page) if by != "mouse" else None
        for stroke in strokes:
            points = [(box["x"] + x * scale, box["y"] + y * scale) for x, y in stroke]
            if by == "mouse":
                self.page.mouse.move(*points[0])
                self.page.mouse.down()
                for x, y in points[1:]:
                    self.page.mouse.move(x, y)
                self.page.mouse.up()
            elif by == "touch":
                for kind, (x, y) in [("touchStart", points[0])] + [("touchMove", p) for p in points[1:]]:
                    cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": [{"x": x, "y": y}]})
                cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
            else:  # a pen: mouse events that say so
                pen = {"button": "left", "pointerType": "pen", "force": 0.5}
                cdp.send("Input.dispatchMouseEvent", {"type": "mousePressed", "x": points[0][0], "y": points[0][1],
                                                      "clickCount": 1, **pen})
                for x, y in points[1:]:
                    cdp.send("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": x, "y": y, "buttons": 1, **pen})
                cdp.send("Input.dispatchMouseEvent", {"type": "mouseReleased", "x": points[-1][0],
                                                      "y": points[-1][1], "clickCount": 1, **pen})
        if cdp is not None:
            cdp.detach()

    def result(self, strokes: int, state: str | tuple[str, ...] = "done") -> dict:
        """Wait for the page to show its answer (in `state`, or in one of them) for a drawing of
        `strokes` strokes, and read it."""
        self.wait(strokes, state)
        return self.page.evaluate("""() => {""" + READ_ANSWER + """
            return {...answer("digit", "latin", "confidence", "not-sure"),
                hint: el("hint").hidden ? "" : el("hint").textContent,
                bars: [...document.querySelectorAll("#bars li")].map((li) => ({
                    label: li.querySelector(".label").textContent, pct: li.querySelector(".pct").textContent,
                    top: li.classList.contains("top"), visible: li.getBoundingClientRect().height > 0})),
            };
        }""")

    def wait(self, strokes: int, state: str | tuple[str, ...]) -> None:
        states = (state,) if isinstance(state, str) else state
        self.page.locator(", ".join(f'#result[data-state="{s}"][data-strokes="{strokes}"]' for s in states)
                          ).wait_for(timeout=WAIT_MS)

    def number(self, strokes: int, state: str | tuple[str, ...] = "done") -> dict:
        """Wait for Number mode's answer to a drawing of `strokes` strokes, and read it with the
        boxes over the pad (in CSS pixels of the page)."""
        self.wait(strokes, state)
        return self.page.evaluate("""() => {""" + READ_ANSWER + """
            return {...answer("number", "number-latin", "number-confidence", "number-not-sure"),
                boxes: [...document.querySelectorAll("#boxes .box")].map((b) => {
                    const r = b.getBoundingClientRect();
                    const t = b.querySelector(".tag").getBoundingClientRect();
                    return {verdict: b.dataset.verdict, tag: b.querySelector(".tag").textContent,
                            x0: r.left, y0: r.top, x1: r.right, y1: r.bottom, tag_visible: t.height > 0};
                }),
            };
        }""")

    def number_mode(self, by: str = "click") -> None:
        """Switch to Number mode with a click, a tap, or from the keyboard (Tab to the button, Enter)."""
        if by == "keyboard":
            self.page.focus("#mode-digit")
            self.page.keyboard.press("Tab")
            assert self.page.evaluate("document.activeElement.id") == "mode-number"
            self.page.keyboard.press("Enter")
        elif by == "tap":
            self.page.tap("#mode-number")
        else:
            self.page.click("#mode-number")
        self.page.locator('body[data-mode="number"] #result[data-state="idle"]').wait_for(timeout=WAIT_MS)
        assert self.page.get_attribute("#mode-number", "aria-pressed") == "true"
        assert self.page.get_attribute("#mode-digit", "aria-pressed") == "false"

    def pointer_types(self) -> list[str]:
        return sorted(self.page.evaluate("[...window.pointerTypes]"))

    def clear(self) -> None:
        self.page.keyboard.press("Escape")
        self.page.locator('#result[data-state="idle"]').wait_for(timeout=WAIT_MS)

    def ink(self) -> int:
        """Painted pixels on the pad."""
        return self.page.evaluate("""() => {
            const c = document.getElementById("pad");
            const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
            let n = 0; for (let i = 3; i < d.length; i += 4) n += d[i] > 0; return n; }""")


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}: `sudo make system-deps` installs Debian's")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def open_tab(browser, url: str, device: dict) -> Tab:
    context = browser.new_context(**device)
    # which kinds of pointer reached the page: proof that touch and pen arrive as such
    context.add_init_script("window.pointerTypes = new Set();"
                            "addEventListener('pointerdown', (e) => pointerTypes.add(e.pointerType), true);")
    page = context.new_page()
    tab = Tab(page)
    page.on("console", lambda m: m.type == "error" and tab.errors.append(m.text))
    page.on("pageerror", lambda e: tab.errors.append(str(e)))
    page.on("response", lambda r: r.url.endswith(("/api/predict", "/api/number")) and tab.statuses.append(r.status))
    page.goto(url + "/")
    page.locator('#result[data-state="idle"]').wait_for(timeout=WAIT_MS)
    return tab


@pytest.fixture
def desktop(browser, gateway):
    tab = open_tab(browser, gateway.url, DESKTOP)
    yield tab
    tab.page.context.close()


@pytest.fixture
def phone(browser, gateway):
    tab = open_tab(browser, gateway.url, PHONE)
    yield tab
    tab.page.context.close()


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
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            tab.page.screenshot(path=SCREENSHOTS / screenshot, animations="disabled")
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
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    tab.page.screenshot(path=SCREENSHOTS / f"{device}-not-sure.png", animations="disabled")

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
    tab = open_tab(browser, own_gateway.url, DESKTOP)
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
    page.context.close()


# --- Number mode -------------------------------------------------------------------------------

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
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "desktop-number.png", animations="disabled")
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
    page = desktop.page
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "desktop-number-not-sure.png", animations="disabled")
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
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "phone-number.png", animations="disabled")
    assert phone.pointer_types() == ["touch"]
    assert phone.errors == [] and set(phone.statuses) == {200}
