"""The drawing page in Debian's Chromium, driven by Playwright: a browser, a page of the app on a
desktop or a phone, and what the tests do to it (draw strokes with a mouse, a finger or a pen; read
the answer either mode shows; switch modes; clear) and read from it (its console errors, the status
of every prediction request, the ink on the pad). The fixtures are in tests/conftest.py."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from bengali_digit.catalog import ROOT
from synthetic.digit_images import CANVAS
from synthetic.strokes import Stroke

CHROMIUM = os.environ.get("BDR_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
SCREENSHOTS = ROOT / "build" / "screenshots"
DESKTOP = {"viewport": {"width": 1280, "height": 800}, "device_scale_factor": 1}
PHONE = {"viewport": {"width": 360, "height": 740}, "device_scale_factor": 3, "is_mobile": True, "has_touch": True}
WAIT_MS = 20_000
ANSWERED = ("done", "not-sure")  # either answer, for drawings whose verdict a test does not judge

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
            focused = self.page.evaluate("document.activeElement.id")
            assert focused == "mode-number", focused
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

    def screenshot(self, name: str) -> None:
        """The page as it looks now, in build/screenshots/`name`."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=SCREENSHOTS / name, animations="disabled")

    def ink(self) -> int:
        """Painted pixels on the pad."""
        return self.page.evaluate("""() => {
            const c = document.getElementById("pad");
            const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
            let n = 0; for (let i = 3; i < d.length; i += 4) n += d[i] > 0; return n; }""")


@contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's Chromium under Playwright (never a browser build of Playwright's own)."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}: `sudo make system-deps` installs Debian's")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@contextmanager
def open_tab(browser: Browser, url: str, device: dict) -> Iterator[Tab]:
    """The app at `url` in a fresh context with `device`'s screen, idle and ready to draw on; closed after."""
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
    try:
        yield tab
    finally:
        context.close()
