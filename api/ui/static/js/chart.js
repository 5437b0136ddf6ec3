// chart.js: a small hand-drawn SVG area chart of a time series.

const NS = "http://www.w3.org/2000/svg";
const TOP = 14, BOTTOM = 14;

function svgEl(tag, attrs, text) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

/**
 * draw renders points ([{t: ms, v: number}]) over the last spanMs into svg,
 * scaled to the largest value; fmt formats the axis label.
 */
export function draw(svg, points, spanMs, fmt) {
  // One user unit per pixel, so the labels are not stretched.
  const W = Math.max(100, svg.clientWidth), H = Math.max(60, svg.clientHeight);
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.replaceChildren();
  const end = points.length ? points[points.length - 1].t : Date.now();
  const start = end - spanMs;
  const max = Math.max(1, ...points.map((p) => p.v));
  const x = (t) => ((t - start) / spanMs) * W;
  const y = (v) => H - BOTTOM - (v / max) * (H - TOP - BOTTOM);
  svg.append(svgEl("line", { class: "axis", x1: 0, x2: W, y1: H - BOTTOM, y2: H - BOTTOM }));
  svg.append(svgEl("line", { class: "axis", x1: 0, x2: W, y1: TOP, y2: TOP, "stroke-dasharray": "3 3" }));
  if (points.length > 1) {
    const line = points.map((p) => `${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join(" ");
    const first = x(points[0].t).toFixed(1), last = x(end).toFixed(1);
    svg.append(svgEl("polygon", { class: "area", points: `${first},${H - BOTTOM} ${line} ${last},${H - BOTTOM}` }));
    svg.append(svgEl("polyline", { class: "line", points: line }));
  }
  svg.append(svgEl("text", { x: 2, y: TOP - 2 }, "max " + fmt(max)));
  svg.append(svgEl("text", { x: 2, y: H - 2 }, "-" + Math.round(spanMs / 60000) + " min"));
  svg.append(svgEl("text", { x: W - 2, y: H - 2, "text-anchor": "end" }, "now"));
}
