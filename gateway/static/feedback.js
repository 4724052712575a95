// Corrections: after each answer the page asks whether it was right. Digit mode: "Right", or
// "Wrong? Tap the digit you meant" opening ten buttons (only the ten, asked outright, when the model
// was not sure). Number mode: a button for each piece read, each opening the ten buttons for that
// piece. A choice goes to POST /api/feedback with the PNG the answer was about (in Number mode that
// piece's crop of it), what the model answered and the strokes; once for each answer (each piece),
// then thanks. The row is reset whenever the drawing changes (app.js calls reset()).
//
// Keys in the row: Tab, Enter and Space as on any button; the arrow keys move among the ten digits
// (five a row) and among the pieces; Escape closes the ten digits a button opened and gives the
// focus back to that button; Backspace does nothing here: undoing a stroke would throw away the
// answer being corrected (Ctrl+Z still undoes).
import { bengali, markBox } from "./number.js";
import { dataURL, fitStrokes } from "./pad.js";

const TIMEOUT_MS = 10000;

const MESSAGES = {
  thanks: ["ধন্যবাদ!", "Thanks, noted."],
  sending: ["পাঠানো হচ্ছে…", "Sending…"],
  limited: (s) => [`এখন অনেক সংশোধন এসেছে; ${bengali(s)} সেকেন্ড পরে আবার চেষ্টা করুন।`,
    `Too many corrections just now; try again in ${s} s.`],
  down: ["এখন সংশোধন রাখা যাচ্ছে না, একটু পরে আবার চেষ্টা করুন।",
    "Corrections can't be kept right now; try again shortly."],
  refused: ["সংশোধনটি নেওয়া গেল না।", "The correction was not accepted."],
  offline: ["পাঠানো গেল না; সংযোগ দেখে আবার চেষ্টা করুন।", "Could not send it; check the connection and try again."],
};

export class Feedback {
  constructor(root, { announce, boxes }) {
    const $ = (id) => document.getElementById(id);
    this.root = root;
    this.announce = announce;
    this.boxes = boxes; // Number mode's boxes over the pad: the chosen piece's is outlined
    this.version = $("model-version");
    this.ask = $("feedback-ask");
    this.right = $("feedback-right");
    this.wrong = $("feedback-wrong");
    this.number = $("feedback-number");
    this.pieces = $("feedback-pieces");
    this.picker = $("feedback-picker");
    this.question = $("feedback-question");
    this.digits = [...this.picker.querySelectorAll("button[data-digit]")];
    this.status = $("feedback-status");
    this.answer = null; // what is being corrected; null when there is nothing to correct
    this.right.addEventListener("click", () => this.choose(this.predicted()));
    this.wrong.addEventListener("click", () => (this.picker.hidden ? this.openPicker(-1) : this.closePicker()));
    this.digits.forEach((button, d) => button.addEventListener("click", () => this.choose(d)));
    root.addEventListener("keydown", (event) => this.handleKey(event));
  }

  // An answer is shown: `body` as the API gave it, `drawing` {image: the PNG Blob sent, strokes:
  // in that image's pixels}.
  offer(mode, body, drawing) {
    this.reset();
    this.answer = { mode, body, drawing, piece: -1, sent: new Set(), busy: false };
    const version = body.model_version;
    if (version) {
      setText(this.version, `মডেল ${bengali(version)}`, `model ${version}`, " · ");
      this.version.hidden = false;
    }
    if (mode === "number") {
      this.pieces.replaceChildren(...body.digits.map((piece, i) => this.pieceButton(piece, i)));
      this.number.hidden = false;
    } else if (body.verdict === "digit") {
      this.ask.hidden = false;
    } else {
      this.openPicker(-1, false); // not sure: "Right" means nothing, so ask outright
    }
    this.root.hidden = false;
  }

  // The drawing changed (a stroke, undo, clear, another mode): nothing to correct until the next answer.
  reset() {
    this.answer = null; // a reply to a correction still in flight updates nothing now
    for (const part of [this.root, this.version, this.ask, this.number, this.picker, this.status]) part.hidden = true;
    this.root.removeAttribute("aria-busy");
    this.wrong.setAttribute("aria-expanded", "false");
    this.pieces.replaceChildren();
    markBox(this.boxes, -1);
  }

  // The model's digit for the whole drawing (piece -1) or one piece of a number; null when it was not sure.
  predicted(piece = -1) {
    const read = piece < 0 ? this.answer?.body : this.answer?.body.digits[piece];
    return read?.verdict === "digit" ? read.digit : null;
  }

  pieceButton(piece, i) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "piece";
    button.dataset.piece = String(i);
    button.setAttribute("aria-expanded", "false");
    button.setAttribute("aria-controls", "feedback-picker");
    const digit = piece.verdict === "digit";
    if (digit) {
      const latin = document.createElement("small");
      latin.lang = "en";
      latin.textContent = String(piece.digit);
      button.append(piece.bengali, latin);
    } else {
      button.append("?");
    }
    button.setAttribute("aria-label", `বাঁ দিক থেকে ${bengali(i + 1)} নম্বর: ${digit ? piece.bengali : "নিশ্চিত নই"} · ` +
      `piece ${i + 1} from the left: ${digit ? piece.digit : "not sure"}`);
    button.addEventListener("click", () => {
      if (!this.answer || this.answer.busy || this.answer.sent.has(i)) return; // sending, or corrected already
      if (this.answer.piece === i && !this.picker.hidden) this.closePicker();
      else this.openPicker(i);
    });
    return button;
  }

  // The button that opened the ten digits (to give the focus back to), or null when they were asked outright.
  opener() {
    if (!this.answer) return null;
    if (this.answer.mode === "number") return this.pieces.children[this.answer.piece] ?? null;
    return this.ask.hidden ? null : this.wrong;
  }

  openPicker(piece, focus = true) {
    const answer = this.answer;
    answer.piece = piece;
    const place = bengali(piece + 1);
    setText(this.question, ...(piece < 0
      ? ["কোন অঙ্কটি লিখেছিলেন?", "Which digit did you mean?"]
      : [`বাঁ দিক থেকে ${place} নম্বর অংশে কোন অঙ্কটি লিখেছিলেন?`, `Which digit did you mean for piece ${piece + 1} from the left?`]));
    const read = this.predicted(piece);
    this.digits.forEach((button, d) => button.classList.toggle("read", d === read));
    [...this.pieces.children].forEach((button, i) => button.setAttribute("aria-expanded", String(i === piece)));
    if (answer.mode === "number") markBox(this.boxes, piece);
    else this.wrong.setAttribute("aria-expanded", "true");
    this.picker.hidden = false;
    if (focus) this.digits[0].focus();
  }

  closePicker(refocus = false) {
    const opener = this.opener();
    this.picker.hidden = true;
    this.wrong.setAttribute("aria-expanded", "false");
    for (const button of this.pieces.children) button.setAttribute("aria-expanded", "false");
    markBox(this.boxes, -1);
    if (refocus) opener?.focus();
  }

  async choose(label) {
    const answer = this.answer;
    if (!answer || answer.busy || answer.sent.has(answer.piece)) return; // never twice for one answer
    const piece = answer.piece;
    answer.busy = true;
    this.root.setAttribute("aria-busy", "true");
    this.say(MESSAGES.sending, "busy", false);
    let failure;
    try {
      failure = await send(await correction(answer, piece, label, this.predicted(piece)));
    } catch {
      failure = MESSAGES.offline; // no answer at all, or the request timed out
    }
    if (this.answer !== answer) return; // the drawing changed meanwhile
    answer.busy = false;
    this.root.removeAttribute("aria-busy");
    if (failure) {
      this.say(failure, "error"); // the choice stays open: the same button tries again
      return;
    }
    answer.sent.add(piece);
    const inside = this.root.contains(document.activeElement);
    this.closePicker();
    let next = this.status;
    if (answer.mode === "number") {
      const button = this.pieces.children[piece];
      button.classList.add("sent");
      button.setAttribute("aria-disabled", "true");
      button.setAttribute("aria-label", `${button.getAttribute("aria-label")} — পাঠানো হয়েছে · sent`);
      next = button;
    } else {
      this.ask.hidden = true;
    }
    this.say(MESSAGES.thanks, "done");
    if (inside) next.focus(); // the buttons pressed are gone (or spent): keep the focus in the row
  }

  say([bn, en], kind, announce = true) {
    setText(this.status, bn, en);
    this.status.dataset.kind = kind;
    this.status.hidden = false;
    if (announce) this.announce.textContent = `${bn} ${en}`;
  }

  handleKey(event) {
    const target = event.target;
    if (event.key === "Escape" && !this.picker.hidden && this.opener()) {
      event.stopPropagation(); // not the page's Clear: Escape closes what it opened
      this.closePicker(true);
    } else if (event.key === "Backspace") {
      event.stopPropagation(); // not the page's Undo, which would throw away the answer being corrected
    } else if (event.key.startsWith("Arrow") && target.matches?.("button[data-digit], button.piece")) {
      const group = target.classList.contains("piece") ? [...this.pieces.children] : this.digits;
      const step = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -5, ArrowDown: 5 }[event.key];
      if (!step || (group !== this.digits && Math.abs(step) > 1)) return;
      event.preventDefault(); // no scrolling
      group[Math.min(group.length - 1, Math.max(0, group.indexOf(target) + step))].focus();
    }
  }
}

// POST /api/feedback; null when kept, else the message to show.
async function send(payload) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), TIMEOUT_MS);
  try {
    const response = await fetch("/api/feedback", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(payload),
      signal: controller.signal,
    });
    if (response.status === 201) return null;
    if (response.status === 429) return MESSAGES.limited(Number(response.headers.get("Retry-After")) || 10);
    return response.status >= 500 ? MESSAGES.down : MESSAGES.refused;
  } finally {
    clearTimeout(timer);
  }
}

// The correction's JSON: the whole drawing (piece -1) or one piece of a number, cropped from the
// image sent with a margin of white around its box, with the strokes that lie mostly in that box.
async function correction(answer, piece, label, predicted) {
  const { body, drawing } = answer;
  const common = { label, predicted, model_version: body.model_version ?? null };
  if (piece < 0) {
    return { ...common, image: await dataURL(drawing.image), probabilities: body.probabilities ?? null,
      strokes: fitStrokes(drawing.strokes) };
  }
  const [x0, y0, x1, y1] = body.digits[piece].box.map(Math.round);
  const margin = Math.round(Math.max(8, 0.15 * Math.max(x1 - x0, y1 - y0)));
  const area = [x0 - margin, y0 - margin, x1 + margin, y1 + margin];
  const inside = ([x, y]) => x >= x0 && x < x1 && y >= y0 && y < y1;
  const strokes = drawing.strokes
    .filter((stroke) => 2 * stroke.filter(inside).length >= stroke.length)
    .map((stroke) => stroke.map(([x, y, t]) => [tenth(x - area[0]), tenth(y - area[1]), t]));
  return { ...common, image: await crop(drawing.image, area), strokes: fitStrokes(strokes) };
}

const tenth = (v) => Math.round(v * 10) / 10;

// The part [x0, y0, x1, y1] of a PNG, as a PNG data URL, white where it lies outside the image.
async function crop(blob, [x0, y0, x1, y1]) {
  const canvas = document.createElement("canvas");
  canvas.width = x1 - x0;
  canvas.height = y1 - y0;
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  const bitmap = await createImageBitmap(blob);
  ctx.drawImage(bitmap, -x0, -y0);
  bitmap.close();
  return canvas.toDataURL("image/png");
}

// Bangla, then English in a span of its own (as everywhere on the page).
function setText(element, bn, en, between = " ") {
  const span = document.createElement("span");
  span.lang = "en";
  span.textContent = en;
  element.replaceChildren(`${bn}${between}`, span);
}
