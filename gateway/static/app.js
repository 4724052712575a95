// The drawing page: a Pad, live predictions from POST /api/predict, and the result shown as a
// large Bengali numeral, its Latin digit, the confidence and ten probability bars; or, when the
// model finds no Bengali digit in the drawing ("not_a_digit"), a question with its best guess.
// Number mode (#number in the URL): a wide pad read by POST /api/number, each digit boxed on the
// pad with its reading, and the number in Bengali and Latin digits. Under every answer, the model's
// version and the question whether it was right (feedback.js).
import { Feedback } from "./feedback.js";
import { Pad, dataURL, fitStrokes } from "./pad.js";
import { DIGITS, bengali, clearBoxes, notSureQuestion, showBoxes } from "./number.js";

const DEBOUNCE_MS = 250; // wait this long after a stroke: the next stroke often follows at once
const TIMEOUT_MS = 10000;
const LOW_CONFIDENCE = 0.6;

const canvas = document.getElementById("pad");
const result = document.getElementById("result");
const digit = document.getElementById("digit");
const latin = document.getElementById("latin");
const confidence = document.getElementById("confidence");
const message = document.getElementById("message");
const hint = document.getElementById("hint");
const notSure = document.getElementById("not-sure");
const guessBn = document.getElementById("guess-bn");
const guessEn = document.getElementById("guess-en");
const error = document.getElementById("error");
const announce = document.getElementById("announce");
const bars = [...document.querySelectorAll("#bars li")];
const number = document.getElementById("number");
const numberLatin = document.getElementById("number-latin");
const numberConfidence = document.getElementById("number-confidence");
const numberNotSure = document.getElementById("number-not-sure");
const questionBn = document.getElementById("question-bn");
const questionEn = document.getElementById("question-en");
const numberGuessBn = document.getElementById("number-guess-bn");
const numberGuessEn = document.getElementById("number-guess-en");
const boxes = document.getElementById("boxes");
const modeButtons = [...document.querySelectorAll(".modes button")];
const undoButton = document.getElementById("undo");
const clearButton = document.getElementById("clear");
const retryButton = document.getElementById("retry");

let timer = 0;
let inFlight = null; // the AbortController of the request whose answer we still want
let mode = "digit"; // or "number"

const pad = new Pad(canvas, { onStrokeStart: drawingChanged, onStrokeEnd: schedulePrediction });
const feedback = new Feedback(document.getElementById("feedback"), { announce, boxes });

const percent = (p) => `${Math.round(p * 100)}%`;

function cancelPrediction() {
  clearTimeout(timer);
  inFlight?.abort();
  inFlight = null;
}

function drawingChanged() {
  cancelPrediction();
  clearBoxes(boxes); // they belong to the drawing as it was
  feedback.reset(); // and so does the answer a correction would be about
}

function schedulePrediction() {
  cancelPrediction();
  timer = setTimeout(predict, DEBOUNCE_MS);
}

async function predict() {
  drawingChanged();
  if (pad.isEmpty()) {
    showIdle();
    return;
  }
  const strokes = pad.strokes.length;
  const reading = mode;
  const size = pad.imageSize(); // the whole image, in which the pad shows the answer's boxes
  const controller = new AbortController();
  inFlight = controller;
  // a plain timer rather than AbortSignal.timeout/any, which older phones lack
  const timeout = setTimeout(() => controller.abort(), TIMEOUT_MS);
  setState("pending");
  try {
    // the ink's part of the image, at `origin` in it, and the strokes in its pixels (for a correction)
    const { blob: image, origin, strokes: drawn } = await pad.toBlob();
    // a number goes with the strokes it was drawn in, by which the model parts touching digits
    const sent = reading === "number"
      ? { type: "application/json",
          body: JSON.stringify({ image: await dataURL(image), strokes: fitStrokes(drawn) }) }
      : { type: "image/png", body: image };
    const response = await fetch(reading === "number" ? "/api/number" : "/api/predict", {
      method: "POST",
      headers: { "Content-Type": sent.type },
      body: sent.body,
      signal: controller.signal,
    });
    const body = await response.json().catch(() => null);
    if (inFlight !== controller) return; // a newer drawing has taken over
    if (reading === "number") {
      if (response.ok && body?.digits) showNumber(body, strokes, size, origin);
      else if (response.status < 500 && body?.error) showNumberRejected(body, strokes);
      else showUnavailable();
    } else if (response.ok && body?.verdict === "not_a_digit") showNotSure(body, strokes);
    else if (response.ok && body) showResult(body, strokes);
    else if (response.status < 500 && body?.error) showRejected(body, strokes);
    else showUnavailable();
    if (result.dataset.state === "done" || result.dataset.state === "not-sure") {
      feedback.offer(reading, body, { image, strokes: drawn });
    }
  } catch {
    if (inFlight !== controller) return; // aborted because a newer drawing has taken over
    showUnavailable(); // no answer at all: the gateway is down, or the request timed out
  } finally {
    clearTimeout(timeout);
    if (inFlight === controller) inFlight = null;
  }
}

function setState(state, strokes = pad.strokes.length) {
  result.dataset.state = state;
  result.dataset.strokes = String(strokes);
  error.hidden = state !== "error";
}

function clearAnswer() {
  delete result.dataset.verdict;
  notSure.hidden = true;
  digit.textContent = "?";
  latin.textContent = "–";
  confidence.textContent = "–";
  showBars(null);
  numberNotSure.hidden = true;
  number.textContent = "?";
  numberLatin.textContent = "–";
  numberConfidence.textContent = "–";
  clearBoxes(boxes);
}

function showIdle() {
  setState("idle", 0);
  clearAnswer();
  message.hidden = false;
  hint.hidden = true;
  announce.textContent = "";
}

function showResult(body, strokes) {
  setState("done", strokes);
  result.dataset.verdict = "digit";
  notSure.hidden = true;
  digit.textContent = body.bengali;
  latin.textContent = String(body.digit);
  confidence.textContent = percent(body.confidence);
  message.hidden = true;
  showBars(body.probabilities, body.digit);
  const low = body.confidence < LOW_CONFIDENCE;
  if (low) {
    const second = secondBest(body.probabilities, body.digit);
    hint.textContent = `${body.bengali} না ${DIGITS[second]}? আরও বড় ও স্পষ্ট করে লিখুন। ` +
      `${body.digit} or ${second}? Try writing it larger and clearer.`;
  }
  hint.hidden = !low;
  announce.textContent = `অঙ্ক ${body.bengali}, নিশ্চয়তা ${bengali(percent(body.confidence))}। ` +
    `Digit ${body.digit}, ${percent(body.confidence)} confident.`;
}

function showNotSure(body, strokes) {
  // The model read the drawing but finds no Bengali digit in it: ask, and say what it would guess.
  // "confidence" is the guess's calibrated probability, given that the drawing is a digit at all.
  setState("not-sure", strokes);
  clearAnswer();
  result.dataset.verdict = "not_a_digit"; // styles the "?" and bars; kept while the next answer is pending
  const guess = body.best_guess;
  const sure = percent(body.confidence);
  guessBn.textContent = DIGITS[guess];
  guessEn.textContent = `${guess}, ${sure}`;
  notSure.hidden = false;
  message.hidden = true;
  hint.hidden = true;
  showBars(body.probabilities, guess);
  announce.textContent = `নিশ্চিত নই: এটি কি বাংলা অঙ্ক? সম্ভবত ${DIGITS[guess]}, ${bengali(sure)}। ` +
    `Not sure: is this a Bengali digit? Best guess ${guess}, ${sure}.`;
}

function showRejected(body, strokes) {
  // The model read the request but found no digit in it (e.g. a single dot): ask for more ink.
  setState("rejected", strokes);
  clearAnswer();
  message.hidden = true;
  hint.textContent = `অঙ্কটি পড়া গেল না, আরেকটু বড় করে লিখুন। Could not read a digit (${body.message}).`;
  hint.hidden = false;
  announce.textContent = "অঙ্কটি পড়া গেল না। Could not read a digit.";
}

function showNumber(body, strokes, size, [ox, oy]) {
  // "number" is null when some piece is no digit: ask about those pieces, and say what the model
  // would guess for each. The boxes on the pad show every piece's reading either way.
  setState(body.number === null ? "not-sure" : "done", strokes);
  clearAnswer();
  // the answer's boxes are in the pixels of the part sent; the pad shows the whole image
  const placed = body.digits.map((piece) => {
    const [x0, y0, x1, y1] = piece.box;
    return { ...piece, box: [x0 + ox, y0 + oy, x1 + ox, y1 + oy] };
  });
  showBoxes(boxes, placed, size);
  message.hidden = true;
  const sure = percent(body.confidence);
  if (body.number === null) {
    result.dataset.verdict = "not_a_digit";
    const doubtful = body.digits.flatMap((piece, i) => (piece.verdict === "digit" ? [] : [i + 1]));
    const [bn, en] = notSureQuestion(doubtful, body.digits.length);
    const guess = body.digits.map((piece) => piece.best_guess).join("");
    questionBn.textContent = bn;
    questionEn.textContent = en;
    numberGuessBn.textContent = bengali(guess);
    numberGuessEn.textContent = guess;
    numberNotSure.hidden = false;
    hint.hidden = true;
    announce.textContent = `${bn} সম্ভবত ${bengali(guess)}। ${en} Best guess ${guess}.`;
    return;
  }
  result.dataset.verdict = "digit";
  number.textContent = body.bengali;
  numberLatin.textContent = body.number;
  numberConfidence.textContent = sure;
  const low = body.confidence < LOW_CONFIDENCE;
  if (low) {
    hint.textContent = "আরও স্পষ্ট করে লিখুন, অঙ্কগুলো একটু ফাঁক রেখে। " +
      "Try writing more clearly, with a little space between the digits.";
  }
  hint.hidden = !low;
  announce.textContent = `সংখ্যা ${body.bengali}, নিশ্চয়তা ${bengali(sure)}। Number ${body.number}, ${sure} confident.`;
}

function showNumberRejected(body, strokes) {
  setState("rejected", strokes);
  clearAnswer();
  message.hidden = true;
  hint.textContent = body.error === "too_many_digits"
    ? "১২টির বেশি অঙ্ক পড়া যায় না। At most 12 digits can be read."
    : `সংখ্যাটি পড়া গেল না, আরেকটু বড় করে লিখুন। Could not read a number (${body.message}).`;
  hint.hidden = false;
  announce.textContent = "সংখ্যাটি পড়া গেল না। Could not read a number.";
}

function showUnavailable() {
  setState("error");
  clearAnswer();
  message.hidden = true;
  hint.hidden = true;
  announce.textContent = "মডেল এখন সাড়া দিচ্ছে না। The model is not answering right now.";
}

function showBars(probabilities, top = -1) {
  bars.forEach((bar, d) => {
    const p = probabilities ? probabilities[d] : 0;
    bar.querySelector(".fill").style.transform = `scaleY(${p})`; // CSSOM, which the CSP allows
    bar.querySelector(".pct").textContent = percent(p);
    bar.classList.toggle("top", d === top);
    bar.setAttribute("aria-label", `${DIGITS[d]} (${d}): ${percent(p)}`);
  });
}

function secondBest(probabilities, top) {
  let best = top === 0 ? 1 : 0;
  probabilities.forEach((p, d) => {
    if (d !== top && p > probabilities[best]) best = d;
  });
  return best;
}

function setMode(next) {
  mode = next === "number" ? "number" : "digit";
  document.body.dataset.mode = mode;
  for (const button of modeButtons) button.setAttribute("aria-pressed", String(button.dataset.mode === mode));
  canvas.setAttribute("aria-label", mode === "number" ? "সংখ্যা লেখার ঘর · drawing area" : "অঙ্ক লেখার ঘর · drawing area");
  // A digit is no number and the other way round: each mode starts on a clean pad
  pad.clear();
  predict();
}

function chooseMode(event) {
  const next = event.currentTarget.dataset.mode;
  if (next === mode) return;
  setMode(next);
  history.replaceState(null, "", next === "number" ? "#number" : location.pathname + location.search);
}

function modeFromHash() {
  const next = location.hash === "#number" ? "number" : "digit";
  if (next !== mode) setMode(next);
}

function undo() {
  if (pad.isEmpty()) return;
  pad.undo();
  predict();
}

function clear() {
  pad.clear();
  predict();
}

function handleKey(event) {
  if (event.target.closest?.("input, textarea, [contenteditable]")) return;
  if (event.key === "Escape") {
    clear();
  } else if ((event.key === "z" || event.key === "Z") && (event.ctrlKey || event.metaKey) && !event.shiftKey) {
    event.preventDefault();
    undo();
  } else if (event.key === "Backspace") {
    event.preventDefault(); // some browsers would go back a page
    undo();
  }
}

for (const button of modeButtons) button.addEventListener("click", chooseMode);
undoButton.addEventListener("click", undo);
clearButton.addEventListener("click", clear);
retryButton.addEventListener("click", predict);
document.addEventListener("keydown", handleKey);
window.addEventListener("hashchange", modeFromHash);
showIdle();
modeFromHash();
