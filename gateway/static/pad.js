// A drawing pad in the manner of signature_pad: Pointer Events for mouse, touch and pen, strokes
// kept as points in units of the pad's height (y in 0..1, x in 0..width/height) so that they
// survive a resize and can be redrawn at any resolution: on screen at devicePixelRatio, and 280 px
// tall for the model. The pad takes its shape from CSS: square for a digit, wide for a number.
// Each point also keeps the time it was drawn (the event's timeStamp, ms): [x, y, t].

const PEN = 0.055; // pen width as a fraction of the height: 15 px on the 280 px image the model reads
const INK = "#111";
const PAPER = "#fff";
const MARGIN = 2; // px of paper round the ink's anti-aliased edge in what toBlob sends
const MAX_STROKES = 100; // what the API reads along with a number or keeps with a correction
const MAX_POINTS = 10000; // (bengali_digit/strokes.py): a longer drawing's strokes are thinned to fit, or left out

export class Pad {
  constructor(canvas, { onStrokeStart = () => {}, onStrokeEnd = () => {} } = {}) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.strokes = [];
    this.pointerId = null; // the one pointer drawing now; a second finger is ignored
    this.frame = 0;
    this.onStrokeStart = onStrokeStart;
    this.onStrokeEnd = onStrokeEnd;
    this.handleDown = this.handleDown.bind(this);
    this.handleMove = this.handleMove.bind(this);
    this.handleUp = this.handleUp.bind(this);
    this.resize = this.resize.bind(this);
    canvas.addEventListener("pointerdown", this.handleDown);
    canvas.addEventListener("pointermove", this.handleMove);
    canvas.addEventListener("pointerup", this.handleUp);
    canvas.addEventListener("pointercancel", this.handleUp);
    this.observer = new ResizeObserver(this.resize);
    this.observer.observe(canvas);
    this.resize();
  }

  destroy() {
    this.canvas.removeEventListener("pointerdown", this.handleDown);
    this.canvas.removeEventListener("pointermove", this.handleMove);
    this.canvas.removeEventListener("pointerup", this.handleUp);
    this.canvas.removeEventListener("pointercancel", this.handleUp);
    this.observer.disconnect();
    cancelAnimationFrame(this.frame);
  }

  isEmpty() {
    return this.strokes.length === 0;
  }

  clear() {
    this.strokes = [];
    this.pointerId = null;
    this.render();
  }

  undo() {
    this.strokes.pop();
    this.pointerId = null;
    this.render();
  }

  // The canvas's backing store follows its CSS size times devicePixelRatio: without that, a
  // phone with a 3x screen shows strokes upscaled and blurry.
  resize() {
    const box = this.canvas.getBoundingClientRect();
    const ratio = window.devicePixelRatio || 1;
    const width = Math.max(1, Math.round(box.width * ratio));
    const height = Math.max(1, Math.round(box.height * ratio));
    if (this.canvas.width !== width || this.canvas.height !== height) {
      this.canvas.width = width;
      this.canvas.height = height;
    }
    this.render();
  }

  point(event) {
    const box = this.canvas.getBoundingClientRect();
    return [(event.clientX - box.left) / box.height, (event.clientY - box.top) / box.height, event.timeStamp];
  }

  handleDown(event) {
    if (this.pointerId !== null || (event.pointerType === "mouse" && event.button !== 0)) return;
    event.preventDefault();
    this.pointerId = event.pointerId;
    this.canvas.setPointerCapture(event.pointerId); // keep the stroke when it leaves the pad
    this.strokes.push([this.point(event)]);
    this.onStrokeStart();
    this.requestRender();
  }

  handleMove(event) {
    if (event.pointerId !== this.pointerId) return;
    event.preventDefault();
    const stroke = this.strokes[this.strokes.length - 1];
    // Coalesced events carry every position the pointer reported since the last frame:
    // fast strokes stay round instead of turning into polygons.
    const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [];
    for (const e of events.length ? events : [event]) stroke.push(this.point(e));
    this.requestRender();
  }

  handleUp(event) {
    if (event.pointerId !== this.pointerId) return;
    this.pointerId = null;
    this.requestRender();
    this.onStrokeEnd();
  }

  requestRender() {
    if (!this.frame) {
      this.frame = requestAnimationFrame(() => {
        this.frame = 0;
        this.render();
      });
    }
  }

  render() {
    this.ctx.setTransform(1, 0, 0, 1, 0, 0);
    this.ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    drawStrokes(this.ctx, this.strokes, this.canvas.height);
  }

  // The size of the image toBlob(height) makes: the pad's own shape, `height` pixels tall.
  imageSize(height = 280) {
    const box = this.canvas.getBoundingClientRect();
    return [box.height > 0 ? Math.max(1, Math.round((height * box.width) / box.height)) : height, height];
  }

  // The strokes in pixels of the image toBlob(height) makes (less its `origin` in the whole pad's
  // image), each point [x, y, t] with t in ms since the drawing's first point: what a correction
  // sends along with that image.
  pixelStrokes(height = 280, [ox, oy] = [0, 0]) {
    const start = this.strokes[0]?.[0][2] ?? 0;
    const tenth = (v) => Math.round(v * 10) / 10;
    return this.strokes.map((stroke) =>
      stroke.map(([x, y, t]) => [tenth(x * height - ox), tenth(y * height - oy), Math.round(t - start)]));
  }

  // The drawing as the model should see it, dark ink on white: the pad's image `height` px tall (a
  // digit's pad: 280 × 280) cut to the ink and a margin of paper, and where that cut lies in the
  // whole image, with the strokes in the part's pixels: {blob, origin: [x0, y0], strokes}. The
  // preprocessing crops to the ink anyway and reads the background off the image's edges, which
  // the margin keeps paper: the network's input is the whole image's to the bit, for fewer pixels
  // to send and decode (docs/benchmarks.md). Taken as the strokes are now, whatever comes next.
  async toBlob(height = 280) {
    const box = inkBox(this.strokes, height, this.imageSize(height)[0]);
    const origin = [box[0], box[1]];
    const strokes = this.pixelStrokes(height, origin);
    const canvas = render(this.strokes, height, box);
    const blob = await new Promise((resolve, reject) =>
      canvas.toBlob((b) => (b ? resolve(b) : reject(new Error("canvas export failed"))), "image/png"),
    );
    return { blob, origin, strokes };
  }
}

// Strokes within the API's bounds: every k-th point (and each stroke's last) past MAX_POINTS; none
// past MAX_STROKES (they are optional).
export function fitStrokes(strokes) {
  if (!strokes.length || strokes.length > MAX_STROKES) return undefined;
  const points = strokes.reduce((n, stroke) => n + stroke.length, 0);
  if (points <= MAX_POINTS) return strokes;
  const k = Math.ceil(points / (MAX_POINTS - 2 * strokes.length));
  return strokes.map((stroke) => stroke.filter((_, i) => i % k === 0 || i === stroke.length - 1));
}

export function dataURL(blob) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(blob);
  });
}

// Strokes drawn `height` px tall onto white, the part [x0, y0, x1, y1] of that image only. Whole
// pixels only: a whole-pixel shift leaves every pixel's anti-aliasing as it was.
export function render(strokes, height, [x0, y0, x1, y1]) {
  const canvas = document.createElement("canvas");
  canvas.width = x1 - x0;
  canvas.height = y1 - y0;
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = PAPER;
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.translate(-x0, -y0);
  drawStrokes(ctx, strokes, height);
  return canvas;
}

// The box [x0, y0, x1, y1] of whole pixels that holds all ink of the strokes drawn `height` px tall,
// with MARGIN px of paper round it, within the image (width × height). A curve stays inside its
// points' hull and the pen reaches half its width beyond them.
export function inkBox(strokes, height, width) {
  let [left, top, right, bottom] = [Infinity, Infinity, -Infinity, -Infinity];
  for (const [x, y] of strokes.flat()) {
    [left, right] = [Math.min(left, x), Math.max(right, x)];
    [top, bottom] = [Math.min(top, y), Math.max(bottom, y)];
  }
  if (left === Infinity) return [0, 0, width, height];
  const reach = (PEN * height) / 2 + MARGIN;
  const clamp = (v, hi) => Math.min(Math.max(v, 0), hi);
  const box = [
    clamp(Math.floor(left * height - reach), width), clamp(Math.floor(top * height - reach), height),
    clamp(Math.ceil(right * height + reach), width), clamp(Math.ceil(bottom * height + reach), height),
  ];
  // strokes wholly off the image (a pointer dragged out of the pad) leave no box: send it all
  return box[2] > box[0] && box[3] > box[1] ? box : [0, 0, width, height];
}

// Smooth strokes: a quadratic curve through the midpoints between reported positions, each
// position serving as the control point, so that corners between samples are rounded off.
function drawStrokes(ctx, strokes, side) {
  ctx.lineWidth = PEN * side; // side: the height, in pixels, that the strokes' unit stands for
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  ctx.strokeStyle = INK;
  ctx.fillStyle = INK;
  for (const stroke of strokes) {
    const p = stroke.map(([x, y]) => [x * side, y * side]);
    if (p.length === 1) {
      ctx.beginPath();
      ctx.arc(p[0][0], p[0][1], ctx.lineWidth / 2, 0, 2 * Math.PI);
      ctx.fill();
      continue;
    }
    ctx.beginPath();
    ctx.moveTo(p[0][0], p[0][1]);
    for (let i = 1; i < p.length - 1; i++) {
      ctx.quadraticCurveTo(p[i][0], p[i][1], (p[i][0] + p[i + 1][0]) / 2, (p[i][1] + p[i + 1][1]) / 2);
    }
    ctx.lineTo(p[p.length - 1][0], p[p.length - 1][1]);
    ctx.stroke();
  }
}
