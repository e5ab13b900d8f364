// A stacked bar chart in inline SVG: credential requests per minute by
// outcome. No library; the legend is HTML so it reads with the page.

import { h, s } from "./ui.js";
import { SUCCESS } from "./events.js";

const FAILURE_COLORS = ["#c62828", "#ef6c00", "#6a1b9a", "#ad1457", "#4e342e", "#f9a825", "#283593"];
const SUCCESS_COLOR = "#2e7d32";

/** outcomeColors gives Success green and each failure code its own color. */
export function outcomeColors(outcomes) {
  const colors = {};
  let i = 0;
  for (const o of [...outcomes].sort()) {
    colors[o] = o === SUCCESS ? SUCCESS_COLOR : FAILURE_COLORS[i++ % FAILURE_COLORS.length];
  }
  return colors;
}

const hhmm = (d) => `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;

/** perMinuteChart draws buckets from events.perMinute. */
export function perMinuteChart(buckets, { title = "Credential requests per minute" } = {}) {
  const outcomes = new Set();
  for (const b of buckets) for (const o of Object.keys(b.counts)) outcomes.add(o);
  const order = [...outcomes].sort((a, b) => (a === SUCCESS ? -1 : b === SUCCESS ? 1 : a.localeCompare(b)));
  const colors = outcomeColors(outcomes);
  const max = Math.max(1, ...buckets.map((b) => Object.values(b.counts).reduce((x, y) => x + y, 0)));
  const top = niceCeil(max);

  // Drawn at about a laptop page's width so that text keeps its size; it
  // scales with the page.
  const W = 1200, H = 180, L = 36, R = 8, T = 10, B = 24;
  const pw = W - L - R, ph = H - T - B;
  const bw = pw / Math.max(1, buckets.length);
  const y = (v) => T + ph - (v / top) * ph;

  const grid = [0, top / 2, top].map((v) =>
    s("g", {}, s("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: "grid" }), s("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end", class: "tick" }, fmtNum(v))),
  );
  const every = Math.max(1, Math.ceil(buckets.length / 12));
  const bars = buckets.map((b, i) => {
    let acc = 0;
    const x = L + i * bw;
    const total = Object.values(b.counts).reduce((p, q) => p + q, 0);
    const parts = order
      .filter((o) => b.counts[o])
      .map((o) => {
        const v = b.counts[o];
        const r = s("rect", { x: x + bw * 0.12, width: Math.max(1, bw * 0.76), y: y(acc + v), height: y(acc) - y(acc + v), fill: colors[o] });
        acc += v;
        return r;
      });
    const tip = `${hhmm(b.t)}: ${total ? order.filter((o) => b.counts[o]).map((o) => `${o} ${b.counts[o]}`).join(", ") : "none"}`;
    return s(
      "g",
      { class: "bar", "data-minute": b.t.toISOString(), "data-total": total },
      s("title", {}, tip),
      s("rect", { x, y: T, width: bw, height: ph, class: "hit" }),
      parts,
      i % every === 0 ? s("text", { x: x + bw / 2, y: H - 6, "text-anchor": "middle", class: "tick" }, hhmm(b.t)) : null,
    );
  });
  const total = buckets.reduce((n, b) => n + Object.values(b.counts).reduce((x, y) => x + y, 0), 0);
  return h(
    "figure",
    { class: "chart", "data-testid": "chart" },
    h("figcaption", {}, title, h("span", { class: "muted" }, ` — ${total} in ${buckets.length} min`)),
    s("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": `${title}: ${total} requests` }, grid, bars),
    h(
      "ul",
      { class: "legend" },
      order.length
        ? order.map((o) => h("li", {}, s("svg", { class: "swatch", width: 12, height: 12, "aria-hidden": "true" }, s("rect", { width: 12, height: 12, rx: 2, fill: colors[o] })), o))
        : h("li", { class: "muted" }, "No credential requests in this period."),
    ),
  );
}

function niceCeil(v) {
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

const fmtNum = (v) => (Number.isInteger(v) ? String(v) : v.toFixed(1));
