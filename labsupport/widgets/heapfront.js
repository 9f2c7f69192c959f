// The heap map drawn in the browser (labsupport/widgets/heapfront.py, an anywidget).
//
// The kernel sets the `state` trait once (every block of one step) and then sends, per slider
// move, a message with only what changed: {e, from, to, del, add, fl, changed, list?} (a far
// jump: `full`, every block as columns, instead of del/add).
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
  if (d.full) {                       // a far jump: every block, as columns (heapfront.py full_blocks)
    const f = d.full;
    s.blocks = new Map();
    let pos = f.start;
    for (let i = 0; i < f.size.length; i++) {
      pos += f.gap[i];
      s.blocks.set(pos, [pos, f.size[i], f.used[i] === "1" ? 1 : 0, f.own[i]]);
      pos += f.size[i];
    }
  }
  for (const off of d.del || []) s.blocks.delete(off);
  for (const b of d.add || []) s.blocks.set(b[0], b);
  const [p, k, ins] = d.fl;
  s.fl.splice(p, k, ...ins);
  if ("list" in d) s.list = d.list;
  s.changed = d.changed;
  s.index = d.to;
  return s;
}

/** heap_svg's patterns (stepviews.STRIP_DEFS): free striped, meta dotted, drawn over the colour. */
const STRIP_PATTERNS = { free: "heap-strip-free", meta: "heap-strip-meta" };
const STRIP_DEFS = "<defs>" + hatchPattern("heap-strip-free", "///", "#8a8a8a") +
  hatchPattern("heap-strip-meta", "..", "#8a8a8a") + "</defs>";

/** The SVG of state `s` under `config` (heapfront.py front_config), as heap_svg writes it. */
export function svgOf(c, s) {
  const { width: w, row_h: rh, label_w: lw, rb, scale } = c;
  const order = new Map();
  s.fl.forEach((off, i) => order.set(off, i + 1));
  const name = esc(s.list);
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" width="${w + lw + 4}" height="${c.nrows * rh + 4}" ` +
    `style="font-family:monospace;font-size:9px">`, STRIP_DEFS];
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
      if (st in STRIP_PATTERNS) {
        parts.push(`<rect x="${fmt1(X)}" y="${Y}" width="${fmt1(W)}" height="${rh - 3}" ` +
          `fill="url(#${STRIP_PATTERNS[st]})" pointer-events="none"/>`);
      }
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

/** Python's draw_heap row width: a power of two from 64 giving about 32 rows. */
export function autoRowBytes(span) {
  return Math.max(64, 2 ** Math.ceil(Math.log2(Math.max(span, 1) / 32)));
}

const fmtInt = (n) => n.toLocaleString("en-US");
let uid = 0;

/** An SVG pattern for a matplotlib hatch string (style.HATCHES): "/" and "\\" stripes,
 *  "|" and "-" lines, "x" and "+" both, "." dots; repeating a character makes it denser. */
export function hatchPattern(id, h, ink) {
  const n = (ch) => [...h].filter((c) => c === ch).length;
  const lines = n("/") + n("\\") + n("|") + n("-") + 2 * (n("x") + n("+"));
  const t = lines ? Math.max(3, Math.round(24 / lines)) : Math.max(3, Math.round(12 / Math.max(1, n("."))));
  const d = [];
  if (n("/") || n("x")) d.push(`M0,${t} L${t},0 M${-t / 2},${t / 2} L${t / 2},${-t / 2} M${t / 2},${1.5 * t} L${1.5 * t},${t / 2}`);
  if (n("\\") || n("x")) d.push(`M0,0 L${t},${t} M${-t / 2},${t / 2} L${t / 2},${1.5 * t} M${t / 2},${-t / 2} L${1.5 * t},${t / 2}`);
  if (n("|") || n("+")) d.push(`M${t / 2},0 L${t / 2},${t}`);
  if (n("-") || n("+")) d.push(`M0,${t / 2} L${t},${t / 2}`);
  const dots = n(".") ? `<circle cx="${t / 2}" cy="${t / 2}" r="0.8" fill="${ink}"/>` : "";
  const path = d.length ? `<path d="${d.join(" ")}" stroke="${ink}" stroke-width="0.8"/>` : "";
  return `<pattern id="${id}" width="${t}" height="${t}" patternUnits="userSpaceOnUse">${path}${dots}</pattern>`;
}

/** The heap map of MapFront (heapfront.py): blocks as columns, drawn as rows of row_bytes. */
export function mapSvg(c, b, highlight) {
  const n = b.size.length;
  const W = c.width, lw = 64, top = 18;
  if (!n) {
    return `<svg xmlns="http://www.w3.org/2000/svg" width="${W + lw}" height="40" role="img" aria-label="${esc(c.alt)}" ` +
      `style="font-family:sans-serif;font-size:11px"><text x="${lw}" y="24">(empty heap)</text></svg>`;
  }
  const off = new Array(n);
  let pos = b.start, end = b.start;
  for (let i = 0; i < n; i++) { pos += b.gap[i]; off[i] = pos; pos += b.size[i]; end = Math.max(end, pos); }
  const start = b.start, rb = c.row_bytes || autoRowBytes(end - start);
  const nrows = Math.max(1, Math.ceil((end - start) / rb));
  const rh = Math.max(4, Math.min(16, Math.floor(256 / nrows)));
  const scale = W / rb;
  const names = b.states, totals = names.map(() => 0);
  const parts = [];
  const rows = [], xs = [], ws = [], st = [], idx = [];
  for (let i = 0; i < n; i++) {
    totals[b.state[i]] += b.size[i];
    let p = off[i] - start;
    const e = p + b.size[i];
    while (p < e) {
      const r = Math.floor(p / rb), x = p % rb, w = Math.min(e - p, rb - x);
      const k = rows.length - 1;
      if (!c.edges && k >= 0 && rows[k] === r && st[k] === b.state[i] && xs[k] + ws[k] === x && idx[k] !== highlight
          && i !== highlight) {
        ws[k] += w;                                    // no edges at this size: neighbours of one state merge
      } else {
        rows.push(r); xs.push(x); ws.push(w); st.push(b.state[i]); idx.push(i);
      }
      p += w;
    }
  }
  const height = top + nrows * rh + 26;
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W + lw + 4}" height="${height}" role="img" ` +
    `aria-label="${esc(c.alt)}" style="font-family:sans-serif;font-size:9px">`);
  const hatches = c.hatches || {}, pid = `lab-hatch-${++uid}-`;
  const fills = names.map((name) => hatches[name] ? `url(#${pid}${name})` : "");
  parts.push("<defs>" + names.filter((name) => hatches[name])
    .map((name) => hatchPattern(pid + name, hatches[name], c.hatch_ink || "#8a8a8a")).join("") + "</defs>");
  parts.push(`<text x="${lw}" y="12" font-size="11">${esc(c.title)}</text>`);
  const every = Math.max(1, Math.floor(nrows / 8));
  for (let r = 0; r < nrows; r += every) {
    parts.push(`<text x="${lw - 4}" y="${top + r * rh + rh / 2 + 3}" text-anchor="end" fill="#666">+${start + r * rb}</text>`);
  }
  const edge = c.edges ? ` stroke="white" stroke-width="0.6"` : "";
  const hl = [];
  for (let k = 0; k < rows.length; k++) {
    const i = idx[k], name = names[st[k]];
    const X = lw + xs[k] * scale, Y = top + rows[k] * rh + 0.5, w = Math.max(ws[k] * scale, 0.5);
    const tip = c.edges ? `<title>block ${i}: +${off[i]} ${fmtInt(b.size[i])} B ${name}${b.owner[i] ? " " + esc(b.owner[i]) : ""}</title>` : "";
    parts.push(`<rect x="${X.toFixed(2)}" y="${Y}" width="${w.toFixed(2)}" height="${rh - 1}" fill="${c.colors[name]}"${edge}>${tip}</rect>`);
    if (fills[st[k]]) parts.push(`<rect x="${X.toFixed(2)}" y="${Y}" width="${w.toFixed(2)}" height="${rh - 1}" fill="${fills[st[k]]}" pointer-events="none"/>`);
    if (c.labels && b.owner[i] && ws[k] >= rb / 14) {
      parts.push(`<text x="${(X + w / 2).toFixed(2)}" y="${Y + rh / 2 + 3}" text-anchor="middle" ` +
        `fill="${name === "free" ? "black" : "white"}" font-size="${Math.min(11, rh - 2)}">${esc(b.owner[i])}</text>`);
    }
    if (i === highlight) hl.push(`<rect x="${X.toFixed(2)}" y="${Y - 0.5}" width="${w.toFixed(2)}" height="${rh}" fill="none" stroke="${c.outline}" stroke-width="1.5"/>`);
  }
  parts.push(...hl);
  let lx = lw;
  const ly = top + nrows * rh + 10;
  names.forEach((name, s) => {
    parts.push(`<rect x="${lx}" y="${ly}" width="10" height="10" fill="${c.colors[name]}" stroke="#999" stroke-width="0.5"/>` +
      (fills[s] ? `<rect x="${lx}" y="${ly}" width="10" height="10" fill="${fills[s]}"/>` : "") +
      `<text x="${lx + 14}" y="${ly + 9}">${esc(name)} ${fmtInt(totals[s])} B</text>`);
    lx += 150;
  });
  parts.push(`<text x="${lx}" y="${ly + 9}" fill="#666">${rb} bytes per row; rows are offsets from the heap start</text>`);
  parts.push("</svg>");
  return parts.join("");
}

function renderMap({ model, el }) {
  const box = document.createElement("div");
  box.className = "lab-heapfront lab-heapmap";
  el.appendChild(box);
  let frame = 0;
  const draw = () => {
    frame = 0;
    box.innerHTML = mapSvg(model.get("config"), model.get("blocks"), model.get("highlight"));
  };
  const later = () => { if (!frame) frame = requestAnimationFrame(draw); };
  const names = ["change:config", "change:blocks", "change:highlight"];
  names.forEach((n) => model.on(n, later));
  draw();
  return () => {
    names.forEach((n) => model.off(n, later));
    if (frame) cancelAnimationFrame(frame);
  };
}

function render({ model, el }) {
  if (model.get("kind") === "map") return renderMap({ model, el });
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
