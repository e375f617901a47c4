// A player's rating over their rated games as an inline SVG chart: the rating as a line, the
// band of its deviation (value ± deviation) behind it, a few labelled grid lines, and each game
// as a point whose tooltip says the rating after it. Presentation attributes only (the page's
// CSP allows no inline style).

const SVG = "http://www.w3.org/2000/svg";
const HEIGHT = 240;
const PAD = { left: 48, right: 12, top: 12, bottom: 28 };

function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, value);
  for (const child of children) el.append(child instanceof Node ? child : String(child));
  return el;
}

// Round steps for the grid: 10, 20, 50, 100, ... whichever gives three to six lines.
function step(span) {
  for (const size of [10, 20, 25, 50, 100, 200, 250, 500, 1000]) {
    if (span / size <= 5) return size;
  }
  return 1000;
}

// `points`: [{game, ts, value, deviation}], oldest first; `name` titles the chart; `fullWidth` is
// the width it is shown at, so that its text keeps its size on a phone.
export function ratingChart(points, name, fullWidth = 640) {
  const lows = points.map((p) => p.value - p.deviation);
  const highs = points.map((p) => p.value + p.deviation);
  const grid = step(Math.max(...highs) - Math.min(...lows) || 1);
  const low = Math.floor(Math.min(...lows) / grid) * grid;
  const high = Math.ceil(Math.max(...highs) / grid) * grid || low + grid;
  const width = fullWidth - PAD.left - PAD.right;
  const height = HEIGHT - PAD.top - PAD.bottom;
  const x = (i) => PAD.left + (points.length === 1 ? width / 2 : (i * width) / (points.length - 1));
  const y = (v) => PAD.top + height - ((v - low) / (high - low || 1)) * height;
  const at = (i, v) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`;

  const lines = [];
  for (let v = low; v <= high; v += grid) {
    lines.push(
      s("line", { class: "grid", x1: PAD.left, x2: fullWidth - PAD.right, y1: y(v), y2: y(v) }),
      s("text", { class: "tick", x: PAD.left - 6, y: y(v) + 4, "text-anchor": "end" }, v),
    );
  }
  const band = [
    ...points.map((p, i) => at(i, p.value + p.deviation)),
    ...points.map((p, i) => at(i, p.value - p.deviation)).reverse(),
  ].join(" ");
  const last = points[points.length - 1];
  const summary =
    `${points.length} rated game${points.length === 1 ? "" : "s"}; ` +
    `from ${points[0].value} to ${last.value} (± ${last.deviation}).`;
  return s(
    "svg",
    {
      viewBox: `0 0 ${fullWidth} ${HEIGHT}`,
      class: "chart",
      role: "img",
      "aria-labelledby": "chart-title chart-desc",
    },
    s("title", { id: "chart-title" }, `${name}'s rating`),
    s("desc", { id: "chart-desc" }, summary),
    ...lines,
    s("polygon", { class: "band", points: band }),
    s("polyline", { class: "line", points: points.map((p, i) => at(i, p.value)).join(" ") }),
    ...points.map((p, i) =>
      s(
        "circle",
        { class: "point", cx: x(i), cy: y(p.value), r: 4, "data-game": p.game },
        s("title", {}, `${p.value} ± ${p.deviation} after game ${p.game}`),
      ),
    ),
    s("text", { class: "tick", x: PAD.left, y: HEIGHT - 8 }, "oldest"),
    s("text", { class: "tick", x: fullWidth - PAD.right, y: HEIGHT - 8, "text-anchor": "end" }, "latest"),
  );
}
