// DOM and text helpers: build elements, refill a list without losing the focus, and the short
// texts (score, outcome, time of day) that the lobby and the game view both show.

export const $ = (id) => document.getElementById(id);

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else el.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

// Replace el's children; the control that had the focus (by its data-key) keeps it.
export function fill(el, children) {
  const active = document.activeElement;
  const key = el.contains(active) ? active.dataset.key : undefined;
  el.replaceChildren(...children.filter((c) => c));
  if (key) el.querySelector(`[data-key="${CSS.escape(key)}"]`)?.focus();
}

export function byName(a, b) {
  return a.localeCompare(b, undefined, { sensitivity: "base" });
}

export function scoreText(game) {
  const [a, b] = game.players;
  return `${game.score[a] ?? 0}–${game.score[b] ?? 0}`;
}

export function clockTime(iso) {
  if (!iso) return "";
  return new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

export function outcomeText(game) {
  switch (game.reason) {
    case "won":
      return `${game.winner} won`;
    case "resigned":
      return `${game.winner} won (resignation)`;
    case "timeout":
      return `${game.winner} won on time`;
    case "drawn":
      return "drawn";
    case "abandoned":
      return "abandoned";
    default:
      return game.status;
  }
}

// How many watch a live game: its lobby summary counts the connections that are not its seats'.
export function watching(summary) {
  return summary?.spectators ? `${summary.spectators} watching` : "";
}
