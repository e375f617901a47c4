// A player's page (#/player/<name>): their record, their rating and its history as a chart
// (chart.js) and a table of rated games, read over REST each time the page is opened.

import { ratingChart } from "./chart.js";
import { $, fill, h } from "./dom.js";
import { getJson } from "./rest.js";

const START = 1500; // a new player's rating (docs/protocol.md, Ratings)
let shown = null; // the player on screen

function count(n, noun) {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}

function when(ts) {
  const date = new Date(ts);
  return Number.isNaN(date.getTime())
    ? ""
    : date.toLocaleString([], { dateStyle: "short", timeStyle: "short" });
}

export function ratingText(rating) {
  if (!rating) return "";
  const unsure = rating.provisional ? ", provisional" : "";
  return `${rating.value} ± ${rating.deviation}${unsure}`;
}

export function signed(n) {
  return n > 0 ? `+${n}` : n < 0 ? `−${-n}` : "±0";
}

export function showPlayer(name) {
  $("player-view").hidden = name === null;
  if (name === shown) return;
  shown = name;
  if (name !== null) loadPlayer(name);
}

async function loadPlayer(name) {
  $("player-title").textContent = name;
  $("player-record").textContent = "Loading…";
  for (const id of ["player-rating", "rating-chart"]) $(id).replaceChildren();
  fill($("rating-history").tBodies[0], []);
  $("rating-figure").hidden = true;
  let record, history;
  try {
    [record, history] = await Promise.all([
      getJson(`/api/players/${encodeURIComponent(name)}`),
      getJson(`/api/players/${encodeURIComponent(name)}/ratings`),
    ]);
  } catch (err) {
    if (shown === name) {
      $("player-record").textContent =
        err.message.endsWith("404") ? `There is no player “${name}” on this hub.` : err.message;
    }
    return;
  }
  if (shown !== name) return; // another page was opened meanwhile
  renderPlayer(record, Array.isArray(history) ? history : (history.ratings ?? []));
}

function renderPlayer(record, history) {
  $("player-title").textContent = record.name;
  $("player-record").textContent =
    `${count(record.games, "game")} · ${record.wins} won · ${record.losses} lost · ` +
    `${record.draws} drawn`;
  $("player-rating").textContent = record.rating ? `Rating ${ratingText(record.rating)}` : "";
  $("rating-figure").hidden = history.length === 0;
  $("history-empty").hidden = history.length > 0;
  if (history.length > 0) {
    const width = Math.max(300, Math.min(704, $("rating-chart").clientWidth || 640));
    $("rating-chart").replaceChildren(ratingChart(history, record.name, width));
    $("rating-caption").textContent =
      `${record.name}'s rating after each rated game, oldest first; the band is ± its deviation.`;
  }
  const rows = history.map((p, i) => {
    const before = i > 0 ? history[i - 1].value : START;
    return h(
      "tr",
      { "data-game": p.game },
      h("td", {}, h("a", { href: `#/game/${encodeURIComponent(p.game)}` }, p.game)),
      h("td", {}, when(p.ts)),
      h("td", {}, `${p.value} ± ${p.deviation}`),
      h("td", {}, signed(p.value - before)),
    );
  });
  fill($("rating-history").tBodies[0], rows.reverse());
}
