"""The drawing page's corrections in Debian's Chromium, driven by Playwright against the running stack
(gunicorn and TorchServe): after an answer, "Wrong? Tap the digit you meant" from the keyboard alone
on a desktop, "Right" tapped on a phone, one digit of a number corrected, each kept in the gateway's
feedback database as the page sent it (label, the model's digit and version, a PNG, the strokes);
and a database that is down, which the page says in both languages while predictions go on."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bengali_digit import DIGITS
from bengali_digit.catalog import MODEL_VERSION
from feedback import settings
from feedback.models import Correction
from feedback.store import Store
from service.gateway import Gateway
from service.processes import free_port
from synthetic.digit_images import CANVAS, bengali_fonts
from synthetic.strokes import SCRIBBLES, Stroke, font_strokes
from tests.drawing_page import ANSWERED, DESKTOP, PHONE, WAIT_MS, Tab, open_tab

pytestmark = pytest.mark.server

FONT = next((f for f in bengali_fonts() if f.stem == "Lohit-Bengali"), bengali_fonts()[-1])
THANKS = "ধন্যবাদ! Thanks, noted."
VERSION = f"মডেল {''.join(DIGITS[int(c)] if c.isdigit() else c for c in MODEL_VERSION)} · model {MODEL_VERSION}"
PEN = 15  # the page's pen on the 280 px tall image it sends (pad.js)


class Corrections:
    """A gateway in front of the session's TorchServe, keeping corrections in a folder of its own,
    and what its database holds."""

    def __init__(self, gateway: Gateway, folder: Path):
        self.gateway = gateway
        self.store = Store(settings.database_url(None, folder))

    def rows(self) -> list[Correction]:
        """Every correction kept, oldest first."""
        return self.store.listing()[::-1]


@pytest.fixture(scope="module")
def corrections(torchserve, tmp_path_factory) -> Iterator[Corrections]:
    workdir = tmp_path_factory.mktemp("feedback-gateway")
    with Gateway(workdir, torchserve.inference, feedback_dir=workdir / "data") as gateway:
        gateway.wait_ready("/readyz")
        kept = Corrections(gateway, workdir / "data")
        yield kept
        kept.store.dispose()


def active(tab: Tab) -> dict:
    """The focused element: its id, digit (a digit button's), piece (a piece button's)."""
    return tab.page.evaluate("""() => { const e = document.activeElement;
        return {id: e.id, digit: e.dataset.digit ?? null, piece: e.dataset.piece ?? null}; }""")


def thanked(tab: Tab) -> None:
    tab.page.locator('#feedback-status[data-kind="done"]').wait_for(timeout=WAIT_MS)
    assert tab.page.text_content("#feedback-status") == THANKS
    assert "Thanks, noted." in tab.page.text_content("#announce")


def png(data: bytes) -> np.ndarray:
    """The image kept, decoded: grey levels."""
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("L"))


def check_strokes(kept: list, drawn: list[Stroke], image: np.ndarray, tolerance: float = 2.0) -> None:
    """The strokes kept are the ones drawn, in the pixels of the image kept (the part of the pad's
    280 px image that the page sent, so moved by where that part lies), each point [x, y, t] with t
    counting up in ms from the drawing's first point; and the image's ink lies along them."""
    assert len(kept) == len(drawn)
    assert kept[0][0][2] == 0
    shift = np.subtract(drawn[0][0], kept[0][0][:2])  # where the image kept lies in the pad's
    for stroke, want in zip(kept, drawn, strict=True):
        assert all(len(point) == 3 for point in stroke)
        times = [t for _, _, t in stroke]
        assert times == sorted(times) and times[0] >= 0
        assert stroke[0][:2] == pytest.approx(list(np.subtract(want[0], shift)), abs=tolerance)
        assert stroke[-1][:2] == pytest.approx(list(np.subtract(want[-1], shift)), abs=tolerance)
    points = np.array([point[:2] for stroke in kept for point in stroke])
    ys, xs = np.nonzero(image < 128)
    for ink, along in ((xs, points[:, 0]), (ys, points[:, 1])):  # the ink reaches half a pen beyond the points
        assert ink.min() == pytest.approx(along.min() - PEN / 2, abs=2 * tolerance)
        assert ink.max() == pytest.approx(along.max() + PEN / 2, abs=2 * tolerance)


def sent_part(image: np.ndarray) -> None:
    """The image kept is the part of the pad's 280 px image that holds the ink, in a margin of paper."""
    assert image.shape[0] <= CANVAS and image.shape[1] <= CANVAS and (image < 128).any()
    assert (image[[0, -1]] > 200).all() and (image[:, [0, -1]] > 200).all()


def test_wrong_digit_corrected_with_the_keyboard(browser, corrections):
    """Tab to "Wrong?", Enter: the focus is on ০; Escape closes the ten digits (not the drawing) and
    Backspace on them undoes nothing; the arrow keys pick a digit, Enter sends it; thanks, once."""
    with open_tab(browser, corrections.gateway.url, DESKTOP) as tab:
        page = tab.page
        three = font_strokes(3, FONT)
        tab.draw(three)
        shown = int(tab.result(len(three))["latin"])
        assert page.text_content("#model-version") == VERSION
        assert page.locator("#feedback-right").is_visible() and page.locator("#feedback-picker").is_hidden()

        passed = []
        for _ in range(12):  # from the top of the page: the modes, Undo, Clear, then the row
            page.keyboard.press("Tab")
            passed.append(active(tab)["id"])
            if passed[-1] == "feedback-wrong":
                break
        assert passed[-2:] == ["feedback-right", "feedback-wrong"], passed
        page.keyboard.press("Enter")
        assert active(tab)["digit"] == "0"
        assert page.get_attribute("#feedback-wrong", "aria-expanded") == "true"
        assert page.text_content("#feedback-question") == "কোন অঙ্কটি লিখেছিলেন? Which digit did you mean?"
        labels = page.eval_on_selector_all("#feedback-picker button", "bs => bs.map((b) => b.ariaLabel)")
        assert labels == [f"অঙ্ক {DIGITS[d]} · digit {d}" for d in range(10)]
        assert page.locator("#feedback-picker button.read").get_attribute("data-digit") == str(shown)
        tab.screenshot("desktop-feedback.png")

        page.keyboard.press("Escape")  # closes the ten digits, back on "Wrong?"; the drawing stays
        assert page.locator("#feedback-picker").is_hidden() and active(tab)["id"] == "feedback-wrong"
        assert page.get_attribute("#feedback-wrong", "aria-expanded") == "false"
        page.keyboard.press(" ")
        assert active(tab)["digit"] == "0" and page.locator("#feedback-picker").is_visible()
        page.keyboard.press("Backspace")  # on the row: no Undo, which would drop the answer
        tab.wait(len(three), "done")
        assert page.locator("#feedback-picker").is_visible() and tab.ink() > 0

        label = (shown + 7) % 10
        for key in ["ArrowDown"] * (label // 5) + ["ArrowRight"] * (label % 5):
            page.keyboard.press(key)
        assert active(tab)["digit"] == str(label)
        page.keyboard.press("Enter")
        thanked(tab)
        assert active(tab)["id"] == "feedback-status"
        assert page.locator("#feedback-ask").is_hidden() and page.locator("#feedback-picker").is_hidden()
        page.evaluate("document.getElementById('feedback-right').click()")  # no second correction of one answer
        assert page.get_attribute("#feedback-status", "data-kind") == "done"

        [row] = corrections.rows()
        assert (row.label, row.predicted, row.model_version) == (label, shown, MODEL_VERSION)
        sent_part(png(row.image))
        assert len(row.probabilities) == 10 and max(row.probabilities) == row.probabilities[shown]
        check_strokes(row.strokes, three, png(row.image))

        # A new stroke: the row goes with the answer it was about, and comes back fresh with the next
        tab.draw([[(40.0, 250.0), (240.0, 250.0)]])
        tab.result(len(three) + 1, ANSWERED)
        assert page.locator("#feedback").is_visible() and page.locator("#feedback-status").is_hidden()
        tab.clear()
        assert page.locator("#feedback").is_hidden() and page.locator("#model-version").is_hidden()
        assert tab.errors == [] and set(tab.statuses) == {200}


def test_right_tapped_on_a_phone(browser, corrections):
    """Touch at 360 px: every button of the row at least 44 px and on the screen; "Right" keeps the
    answer as the label."""
    before = len(corrections.rows())
    with open_tab(browser, corrections.gateway.url, PHONE) as tab:
        page = tab.page
        four = font_strokes(4, FONT)
        tab.draw(four, "touch")
        shown = int(tab.result(len(four))["latin"])
        page.tap("#feedback-wrong")
        assert page.locator("#feedback-picker").is_visible()
        buttons = ["#feedback-right", "#feedback-wrong"] + [f'#feedback-picker [data-digit="{d}"]' for d in range(10)]
        for button in buttons:
            box = page.locator(button).bounding_box()
            assert box["height"] >= 44 and box["width"] >= 44 and box["x"] >= 0 and box["x"] + box["width"] <= 360, box
        assert page.evaluate("document.documentElement.scrollWidth") <= 360, "the page scrolls sideways at 360 px"
        page.locator("#feedback").scroll_into_view_if_needed()
        tab.screenshot("phone-feedback.png")

        page.tap("#feedback-right")
        thanked(tab)
        rows = corrections.rows()
        assert len(rows) == before + 1
        row = rows[-1]
        assert (row.label, row.predicted, row.model_version) == (shown, shown, MODEL_VERSION)
        sent_part(png(row.image))
        check_strokes(row.strokes, four, png(row.image))
        assert tab.pointer_types() == ["touch"]
        assert tab.errors == [] and set(tab.statuses) == {200}


def test_not_sure_asks_which_digit(browser, corrections):
    """No "Right" for an answer that is no digit: the ten digits are asked outright, and the
    correction says the model answered none (predicted null)."""
    before = len(corrections.rows())
    with open_tab(browser, corrections.gateway.url, DESKTOP) as tab:
        page = tab.page
        hatching = SCRIBBLES["hatching"]
        tab.draw(hatching)
        tab.result(len(hatching), state="not-sure")
        assert page.locator("#feedback-ask").is_hidden() and page.locator("#feedback-picker").is_visible()
        assert page.text_content("#feedback-question") == "কোন অঙ্কটি লিখেছিলেন? Which digit did you mean?"
        assert page.locator("#feedback-picker button.read").count() == 0
        page.click('#feedback-picker [data-digit="5"]')
        thanked(tab)
        assert page.locator("#feedback-picker").is_hidden()
        rows = corrections.rows()
        assert len(rows) == before + 1
        assert (rows[-1].label, rows[-1].predicted, rows[-1].model_version) == (5, None, MODEL_VERSION)
        assert len(rows[-1].probabilities) == 10
        sent_part(png(rows[-1].image))
        check_strokes(rows[-1].strokes, hatching, png(rows[-1].image))
        assert tab.errors == [] and set(tab.statuses) == {200}


def place(text: str, gap: float = 40, scale: float = 0.72, left: float = 30) -> list[Stroke]:
    """The digits of `text` as font strokes, left to right in pixels of a 280 px tall image, `gap`
    pixels of paper between one digit's ink and the next."""
    out, x = [], left
    for ch in text:
        strokes = font_strokes(DIGITS.index(ch), FONT)
        first = min(px for stroke in strokes for px, _ in stroke)
        placed = [[(x + (px - first) * scale, CANVAS / 2 + (py - CANVAS / 2) * scale) for px, py in stroke]
                  for stroke in strokes]
        out += placed
        x = max(px for stroke in placed for px, _ in stroke) + PEN + gap
    return out


def test_one_digit_of_a_number_corrected(browser, corrections):
    """Number mode: a button for each digit read; the second chosen (its box outlined), a digit
    picked: the correction keeps that piece's crop of the number, its strokes and the model's digit."""
    before = len(corrections.rows())
    with open_tab(browser, corrections.gateway.url, DESKTOP) as tab:
        page = tab.page
        tab.number_mode()
        first = place("৩")
        strokes = place("৩৪")
        tab.draw(strokes)
        assert tab.number(len(strokes))["bengali"] == "৩৪"
        assert page.text_content("#model-version") == VERSION
        pieces = page.locator("#feedback-pieces button")
        assert pieces.all_text_contents() == ["৩3", "৪4"]
        assert page.locator("#feedback-ask").is_hidden()

        pieces.nth(1).click()
        assert pieces.nth(1).get_attribute("aria-expanded") == "true"
        assert page.eval_on_selector_all("#boxes .box", "bs => bs.map((b) => b.classList.contains('chosen'))") == [
            False, True]
        assert "piece 2 from the left" in page.text_content("#feedback-question")
        tab.screenshot("desktop-number-feedback.png")
        page.click('#feedback-picker [data-digit="7"]')
        thanked(tab)
        assert page.locator("#feedback-picker").is_hidden() and page.locator("#boxes .box.chosen").count() == 0
        assert pieces.nth(1).get_attribute("aria-disabled") == "true"
        pieces.nth(1).click(force=True)  # corrected already (aria-disabled): nothing opens
        assert page.locator("#feedback-picker").is_hidden()
        # From the keyboard: the arrow keys go along the pieces, Enter opens one, Escape goes back to it
        assert active(tab)["piece"] == "1"
        page.keyboard.press("ArrowLeft")
        assert active(tab)["piece"] == "0"
        page.keyboard.press("Enter")
        assert active(tab)["digit"] == "0" and "piece 1 from the left" in page.text_content("#feedback-question")
        page.keyboard.press("Escape")
        assert page.locator("#feedback-picker").is_hidden() and active(tab)["piece"] == "0"
        assert page.locator("#boxes .box").count() == 2  # not cleared

        rows = corrections.rows()
        assert len(rows) == before + 1
        row = rows[-1]
        assert (row.label, row.predicted, row.model_version) == (7, 4, MODEL_VERSION)
        crop = png(row.image)
        width = page.evaluate("document.getElementById('pad').getBoundingClientRect().width")
        full = CANVAS * width / page.locator("#pad").bounding_box()["height"]
        assert crop.shape[0] < 1.2 * CANVAS and crop.shape[1] < full / 2, crop.shape
        assert (crop < 128).any() and (crop[0] > 200).all() and (crop[:, 0] > 200).all()  # ink, white margins
        assert 0 < len(row.strokes) <= len(strokes) - len(first)
        assert all(0 <= x < crop.shape[1] and 0 <= y < crop.shape[0] for stroke in row.strokes for x, y, _ in stroke)
        assert tab.errors == [] and set(tab.statuses) == {200}


def test_database_down_says_so_and_predictions_go_on(browser, torchserve, tmp_path):
    """The gateway's feedback database unreachable: the page says, in both languages and without any
    trace, that corrections cannot be kept now, keeps the choice open, and still reads drawings."""
    down = {"BDR_DATABASE_URL": f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/feedback"}
    with Gateway(tmp_path / "gateway", torchserve.inference, settings=down) as gateway:
        gateway.wait_ready("/readyz")
        with open_tab(browser, gateway.url, DESKTOP) as tab:
            page = tab.page
            one = font_strokes(1, FONT)
            tab.draw(one)
            tab.result(len(one))
            page.click("#feedback-right")
            page.locator('#feedback-status[data-kind="error"]').wait_for(timeout=WAIT_MS)
            said = page.text_content("#feedback-status")
            assert said == ("এখন সংশোধন রাখা যাচ্ছে না, একটু পরে আবার চেষ্টা করুন। "
                            "Corrections can't be kept right now; try again shortly."), said
            assert "Corrections can't be kept" in page.text_content("#announce")
            assert page.locator("#feedback-right").is_visible()  # to try again
            tab.screenshot("desktop-feedback-down.png")

            extra = [[(40.0, 250.0), (240.0, 250.0)]]
            tab.draw(extra)
            tab.result(len(one) + 1, ANSWERED)
            assert page.locator("#feedback-status").is_hidden()
            assert set(tab.statuses) == {200}
            # Chromium logs every non-2xx fetch as a console error; nothing else may appear
            assert [e for e in tab.errors if "status of 503" not in e] == []
