// The drawing page: a Pad, live predictions from POST /api/predict, and the result shown as a
// large Bengali numeral, its Latin digit, the confidence and ten probability bars; or, when the
// model finds no Bengali digit in the drawing ("not_a_digit"), a question with its best guess.
import { Pad } from "./pad.js";

const DEBOUNCE_MS = 250; // wait this long after a stroke: the next stroke often follows at once
const TIMEOUT_MS = 10000;
const LOW_CONFIDENCE = 0.6;
const DIGITS = "০১২৩৪৫৬৭৮৯";

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
const undoButton = document.getElementById("undo");
const clearButton = document.getElementById("clear");
const retryButton = document.getElementById("retry");

let timer = 0;
let inFlight = null; // the AbortController of the request whose answer we still want

const pad = new Pad(canvas, { onStrokeStart: cancelPrediction, onStrokeEnd: schedulePrediction });

const bengali = (text) => String(text).replace(/[0-9]/g, (d) => DIGITS[d]);
const percent = (p) => `${Math.round(p * 100)}%`;

function cancelPrediction() {
  clearTimeout(timer);
  inFlight?.abort();
  inFlight = null;
}

function schedulePrediction() {
  cancelPrediction();
  timer = setTimeout(predict, DEBOUNCE_MS);
}

async function predict() {
  cancelPrediction();
  if (pad.isEmpty()) {
    showIdle();
    return;
  }
  const strokes = pad.strokes.length;
  const controller = new AbortController();
  inFlight = controller;
  // a plain timer rather than AbortSignal.timeout/any, which older phones lack
  const timeout = setTimeout(() => controller.abort(), TIMEOUT_MS);
  setState("pending");
  try {
    const image = await pad.toBlob();
    const response = await fetch("/api/predict", {
      method: "POST",
      headers: { "Content-Type": "image/png" },
      body: image,
      signal: controller.signal,
    });
    const body = await response.json().catch(() => null);
    if (inFlight !== controller) return; // a newer drawing has taken over
    if (response.ok && body?.verdict === "not_a_digit") showNotSure(body, strokes);
    else if (response.ok && body) showResult(body, strokes);
    else if (response.status < 500 && body?.error) showRejected(body, strokes);
    else showUnavailable();
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

undoButton.addEventListener("click", undo);
clearButton.addEventListener("click", clear);
retryButton.addEventListener("click", predict);
document.addEventListener("keydown", handleKey);
showIdle();
