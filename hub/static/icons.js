// Each roll's symbol: a small inline SVG drawn with lines in the text colour (24×24 units), so it
// needs no emoji font and follows the page's contrast. A roll without a drawing (a battle table of
// one's own) shows its initial in a circle. The symbol is decoration: the roll's name is always
// written next to it.

const SVG = "http://www.w3.org/2000/svg";

// Each drawing is a list of [element, attributes]; "d" alone stands for a path.
const DRAWINGS = {
  rock: [["d", "M4 17l2-7 5-4 6 1 3 6-2 5-6 2z"], ["d", "M9 10l3 3 3-1"]],
  gun: [["d", "M3 7h17v4H11l-1 2H8l-1 6H3.5l1-8H3z"], ["d", "M9 11v2"]],
  lightning: [["d", "M13 2 4 14h7l-1 8 10-13h-7z"]],
  devil: [
    ["circle", { cx: 12, cy: 14, r: 6 }],
    ["d", "M7.5 10.5 5.5 4l4.5 4.5M16.5 10.5 18.5 4 14 8.5"],
    ["d", "M10 13h.01M14 13h.01M9.5 16.5c1.5 1 3.5 1 5 0"],
  ],
  dragon: [
    ["d", "M3 19c4 0 7-2 8-6l-4-2 6-1 2-4 2 3 4 1-3 3c-1 4-5 6-9 7"],
    ["d", "M15 9h.01"],
  ],
  water: [["d", "M12 3s-6 7-6 11a6 6 0 0 0 12 0c0-4-6-11-6-11z"], ["d", "M9 15a3 3 0 0 0 3 3"]],
  air: [["d", "M3 8h10a3 3 0 1 0-3-3M3 12h15a3 3 0 1 1-3 3M3 16h7"]],
  paper: [["d", "M6 3h8l4 4v14H6zM14 3v4h4M9 12h6M9 16h6"]],
  sponge: [
    ["rect", { x: 4, y: 6, width: 16, height: 12, rx: 2 }],
    ["circle", { cx: 8.5, cy: 10, r: 1.2 }],
    ["circle", { cx: 14, cy: 9.5, r: 1.4 }],
    ["circle", { cx: 16, cy: 14.5, r: 1 }],
    ["circle", { cx: 10, cy: 14.5, r: 1.4 }],
  ],
  wolf: [["d", "M5 3l3 5h8l3-5 1 9-8 9-8-9z"], ["d", "M9.5 12h.01M14.5 12h.01M11 16h2"]],
  tree: [["d", "M12 3 5 13h4l-3 4h12l-3-4h4zM12 17v4"]],
  human: [["circle", { cx: 12, cy: 5, r: 2.5 }], ["d", "M12 8v7M6 11h12M12 15l-3 6M12 15l3 6"]],
  snake: [["d", "M4 20c3 0 4-3 7-3s4 3 7 0-4-5-7-5-5-3-3-6 6-2 6-2"], ["d", "M16 4l3-1m-3 1 2 2"]],
  scissors: [
    ["circle", { cx: 6, cy: 6.5, r: 2.5 }],
    ["circle", { cx: 6, cy: 17.5, r: 2.5 }],
    ["d", "M8 8 20 18M8 16 20 6"],
  ],
  fire: [["d", "M12 3c1 4 6 6 6 11a6 6 0 0 1-12 0c0-3 2-5 3-6 0 2 1 3 2 3 0-3 0-5 1-8z"]],
  lizard: [["d", "M3 13c4-3 8-3 11-1s5 1 7-1M8 11.5 6 8M8 13l-2 3M15 12.5l1-4M15 13l2 3"]],
  spock: [["d", "M8 21v-5l-3-5M8 16V5M11 14V4M14 14V4M17 14V6M17 14l-1 7"]],
};

function node(tag, attrs) {
  const el = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, String(value));
  return el;
}

// The symbol of a roll, hidden from screen readers (the name next to it says the same).
export function rollIcon(roll) {
  const svg = node("svg", {
    class: "icon",
    viewBox: "0 0 24 24",
    "aria-hidden": "true",
    focusable: "false",
  });
  const drawing = DRAWINGS[roll.toLowerCase()];
  if (drawing) {
    for (const [tag, attrs] of drawing) {
      svg.append(tag === "d" ? node("path", { d: attrs }) : node(tag, attrs));
    }
  } else {
    svg.append(node("circle", { cx: 12, cy: 12, r: 9 }));
    const letter = node("text", { x: 12, y: 16.5, "text-anchor": "middle", class: "initial" });
    letter.textContent = roll.slice(0, 1).toUpperCase();
    svg.append(letter);
  }
  return svg;
}
