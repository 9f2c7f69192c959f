// The heap map drawn in the browser (labsupport/widgets/heapfront.py, an anywidget).
//
// The kernel sets the `state` trait once (every block of one step) and then sends, per slider
// move, a message with only what changed: {e, from, to, del, add, fl, changed, list?}.
// `applyDiff` applies it; `svgOf` draws the same SVG as stepviews.heap_svg (the same
// rectangles, labels, tooltips and number formatting), which the tests compare.

const ESC = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#x27;" };

/** Python's html.escape(s, quote=True). */
export function esc(s) {
  return String(s).replace(/[&<>"']/g, (c) => ESC[c]);
}

/** Python's f"{v:.1f}" for v >= 0: toFixed rounds an exact tie (x.x5) up, Python to even. */
export function fmt1(v) {
  const q = v * 4; // an exact tie at one decimal is an odd multiple of 0.25; only .25 differs
  if (Number.isInteger(q) && q % 4 === 1) return `${Math.floor(v)}.2`;
  return v.toFixed(1);
}

/** Python's int(v // 6) for a float v >= 0 (fmod, then floor, as CPython does). */
export function floorDiv6(v) {
  const mod = v % 6;
  const div = (v - mod) / 6;
  let f = Math.floor(div);
  if (div - f > 0.5) f += 1;
  return f;
}

/** A state from the `state` trait: blocks by offset. */
export function fromWire(w) {
  const blocks = new Map();
  for (const b of w.blocks) blocks.set(b[0], b);
  return { index: w.index, epoch: w.epoch, blocks, list: w.list, fl: w.fl.slice(), changed: w.changed };
}

/** The state `s` with the changes `d` applied (in place; heapfront.py `apply` in Python). */
export function applyDiff(s, d) {
  for (const off of d.del) s.blocks.delete(off);
  for (const b of d.add) s.blocks.set(b[0], b);
  const [p, k, ins] = d.fl;
  s.fl.splice(p, k, ...ins);
  if ("list" in d) s.list = d.list;
  s.changed = d.changed;
  s.index = d.to;
  return s;
}

/** The SVG of state `s` under `config` (heapfront.py front_config), as heap_svg writes it. */
export function svgOf(c, s) {
  const { width: w, row_h: rh, label_w: lw, rb, scale } = c;
  const order = new Map();
  s.fl.forEach((off, i) => order.set(off, i + 1));
  const name = esc(s.list);
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" width="${w + lw + 4}" height="${c.nrows * rh + 4}" ` +
    `style="font-family:monospace;font-size:9px">`];
  for (let r = 0; r < c.nrows; r++) parts.push(`<text x="0" y="${r * rh + 12}" fill="${c.row_label}">+${r * rb}</text>`);
  const spans = c.fixed.map(([o, z]) => [o, z, "meta", "", undefined]);
  const offs = [...s.blocks.keys()].sort((a, b) => a - b);
  for (const o of offs) {
    const [, z, u, own] = s.blocks.get(o);
    spans.push([o, z, u ? "used" : "free", own, order.get(o)]);
  }
  const outline = ` stroke="${c.outline}" stroke-width="2"`;
  for (const [off, size, st, own, fl] of spans) {
    let pos = off, first = true;
    const end = off + size;
    const tip = `+${off} ${size} B ${st} ${esc(own)}${fl ? ` (${name} #${fl})` : ""}`;
    while (pos < end) {
      const row = Math.floor(pos / rb), x = pos % rb;
      const wd = Math.min(end - pos, rb - x);
      const X = lw + x * scale, Y = row * rh + 2, W = Math.max(wd * scale - 0.8, 0.6);
      parts.push(`<rect x="${fmt1(X)}" y="${Y}" width="${fmt1(W)}" height="${rh - 3}" fill="${c.colors[st]}"` +
        `${off === s.changed ? outline : ""}><title>${tip}</title></rect>`);
      if (first && W > 22) {
        const label = st === "used" ? esc(own) : (fl ? `#${fl}` : "");
        if (label) {
          const colour = st === "used" ? c.text_used : c.text_free;
          parts.push(`<text x="${fmt1(X + 2)}" y="${Y + 10}" fill="${colour}">${label.slice(0, floorDiv6(W))}</text>`);
        }
      }
      first = false;
      pos += wd;
    }
  }
  parts.push("</svg>");
  return parts.join("");
}

function render({ model, el }) {
  const box = document.createElement("div");
  box.className = "lab-heapfront";
  el.appendChild(box);
  let s = fromWire(model.get("state"));
  let config = model.get("config");
  let waiting = false;
  let frame = 0;
  const draw = () => {
    frame = 0;
    box.innerHTML = svgOf(config, s);
    box.dataset.step = String(s.index);
  };
  const later = () => { if (!frame) frame = requestAnimationFrame(draw); };
  const ask = () => {
    waiting = true;
    setTimeout(() => { waiting = false; }, 1000);   // asked again on the next mismatch after a second
    model.send({ at: s.index, e: s.epoch });
  };
  const onState = () => { s = fromWire(model.get("state")); waiting = false; later(); };
  const onConfig = () => { config = model.get("config"); later(); };
  const onMsg = (msg) => {
    if (!msg || msg.to === undefined) return;
    if (msg.e !== s.epoch || msg.from !== s.index) {   // missed a message: ask for the whole state
      if (!waiting) ask();
      return;
    }
    applyDiff(s, msg);
    later();
  };
  model.on("change:state", onState);
  model.on("change:config", onConfig);
  model.on("msg:custom", onMsg);
  draw();
  model.send({ at: s.index, e: s.epoch });   // the kernel may have moved on since this state was set
  return () => {
    model.off("change:state", onState);
    model.off("change:config", onConfig);
    model.off("msg:custom", onMsg);
    if (frame) cancelAnimationFrame(frame);
  };
}

export default { render };
