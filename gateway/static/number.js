// Number mode's pieces: a box over the pad around each digit the model read, with its reading, and
// the words that name the pieces that are no digit.

export const DIGITS = "০১২৩৪৫৬৭৮৯";

export const bengali = (text) => String(text).replace(/[0-9]/g, (d) => DIGITS[d]);

// Boxes come in the pixels of the image that was sent: [x0, y0, x1, y1], x1 and y1 exclusive. The
// layer takes that image's shape, as tall as the pad and anchored at its left like the strokes, so
// that percentages of it stay on the strokes however the pad has been resized since.
export function showBoxes(layer, digits, [width, height]) {
  layer.style.aspectRatio = `${width} / ${height}`; // CSSOM, which the CSP allows
  layer.replaceChildren(...digits.map((piece) => box(piece, width, height)));
}

export function clearBoxes(layer) {
  layer.replaceChildren();
}

// Outline the box of the piece being corrected (index from the left), or none (-1).
export function markBox(layer, index) {
  [...layer.children].forEach((element, i) => element.classList.toggle("chosen", i === index));
}

function box(piece, width, height) {
  const [x0, y0, x1, y1] = piece.box;
  const element = document.createElement("div");
  element.className = "box";
  element.dataset.verdict = piece.verdict;
  element.style.left = `${(100 * x0) / width}%`;
  element.style.top = `${(100 * y0) / height}%`;
  element.style.width = `${(100 * (x1 - x0)) / width}%`;
  element.style.height = `${(100 * (y1 - y0)) / height}%`;
  const tag = document.createElement("span");
  tag.className = "tag";
  if (y0 < 0.15 * height) tag.classList.add("inside"); // no room above the box: inside its top
  if (piece.verdict === "digit") {
    const latin = document.createElement("small");
    latin.lang = "en";
    latin.textContent = String(piece.digit);
    tag.append(piece.bengali, latin);
  } else {
    tag.textContent = "?";
  }
  element.append(tag);
  return element;
}

// The question asked when some pieces are no digit, in Bangla and English. `positions` count from 1
// at the left; `pieces` is how many there are in all.
export function notSureQuestion(positions, pieces) {
  if (positions.length === pieces) {
    return ["নিশ্চিত নই: এটি কি বাংলা সংখ্যা?", "Not sure: is this a Bengali number?"];
  }
  const list = (items, and) =>
    items.length === 1 ? String(items[0]) : `${items.slice(0, -1).join(", ")} ${and} ${items[items.length - 1]}`;
  if (positions.length === 1) {
    return [`নিশ্চিত নই: বাঁ দিক থেকে ${bengali(positions[0])} নম্বর অংশটি কি বাংলা অঙ্ক?`,
      `Not sure: is piece ${positions[0]} from the left a Bengali digit?`];
  }
  return [`নিশ্চিত নই: বাঁ দিক থেকে ${list(positions.map(bengali), "ও")} নম্বর অংশগুলো কি বাংলা অঙ্ক?`,
    `Not sure: are pieces ${list(positions, "and")} from the left Bengali digits?`];
}
