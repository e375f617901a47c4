// The lobby: players online, live games, the queue's pools, the leaderboard (by wins or by rating)
// and recent games, kept up to date by the lobby topic's events; the boards are read over REST
// when a game finishes.

import { $, byName, clockTime, fill, h, outcomeText, scoreText, watching } from "./dom.js";
import { challenge, renderPlayPanel } from "./play.js";
import { ratingText } from "./player.js";
import { getJson } from "./rest.js";
import { state } from "./state.js";

export function applyLobbyEvent(name, data) {
  switch (name) {
    case "player_joined":
    case "player_status":
      state.players.set(data.name, data.status);
      break;
    case "player_left":
      state.players.delete(data.name);
      break;
    case "game_started":
    case "game_updated":
      if (data.status === "playing") state.live.set(data.id, data);
      break;
    case "game_finished":
      state.live.delete(data.id);
      refreshBoards();
      break;
    case "queue":
      setPool(data);
      break;
    default:
      return;
  }
  renderLobby();
}

// A pool of the queue: players waiting for the same rules and best_of.
export function setPool(pool) {
  const key = `${pool.rules} ${pool.best_of}`;
  if (pool.waiting > 0) state.queue.set(key, pool);
  else state.queue.delete(key);
}

let boardsLoading = null;
let boardBy = "wins"; // the leaderboard's order: "wins" or "rating"

export function orderBoard(by) {
  boardBy = by;
  $("by-wins").setAttribute("aria-pressed", String(by === "wins"));
  $("by-rating").setAttribute("aria-pressed", String(by === "rating"));
  refreshBoards();
}

export function playerLink(name) {
  return h("a", { href: `#/player/${encodeURIComponent(name)}` }, name);
}

export function refreshBoards() {
  // Coalesce bursts of game_finished into one pair of requests.
  if (boardsLoading) {
    boardsLoading.again = true;
    return;
  }
  boardsLoading = { again: false };
  Promise.allSettled([loadLeaderboard(), loadRecent()]).then(() => {
    const again = boardsLoading.again;
    boardsLoading = null;
    if (again) refreshBoards();
  });
}

async function loadLeaderboard() {
  const by = boardBy;
  const { leaders } = await getJson(`/api/leaderboard?limit=10&by=${by}`);
  if (by !== boardBy) return; // the order changed meanwhile: its own load follows
  const middle = by === "rating" ? "Rating" : "Wins";
  fill(
    $("leaders-head"),
    ["#", "Player", middle, "Games"].map((text) => h("th", { scope: "col" }, text)),
  );
  const rows = leaders.map((p, i) =>
    h(
      "tr",
      {},
      h("td", {}, i + 1),
      h("td", {}, playerLink(p.name)),
      h("td", {}, by === "rating" ? ratingText(p.rating) : p.wins),
      h("td", {}, p.games),
    ),
  );
  fill($("leaderboard").tBodies[0], rows);
  $("leaderboard").hidden = rows.length === 0;
  $("leaders-empty").hidden = rows.length > 0;
  $("leaders-empty").textContent =
    by === "rating" ? "Nobody has a settled rating yet." : "No finished games yet.";
}

async function loadRecent() {
  const { games } = await getJson("/api/games?status=finished&limit=10");
  fill(
    $("recent-games"),
    games.map((g) => h("li", {}, gameLink(g, `${outcomeText(g)} · ${clockTime(g.finished)}`))),
  );
  $("recent-empty").hidden = games.length > 0;
}

function gameLink(game, detail) {
  const [a, b] = game.players;
  return h(
    "a",
    {
      href: `#/game/${encodeURIComponent(game.id)}`,
      class: "game-link",
      "data-key": `game:${game.id}`,
    },
    h(
      "span",
      { class: "vs" },
      h("b", {}, a),
      h("span", { class: "score" }, scoreText(game)),
      h("b", {}, b),
    ),
    h("span", { class: "detail" }, detail),
  );
}

export function renderLobby() {
  const names = [...state.players.keys()].sort(byName);
  fill(
    $("players"),
    names.map((name) => {
      const status = state.players.get(name);
      // The words only a screen reader needs are hidden text, not an aria-label, so the
      // accessible name ("Challenge bob (idle)") holds what is on screen ("bob idle").
      const hidden = (text) => h("span", { class: "visually-hidden" }, text);
      const badge = h(
        "span",
        {},
        hidden(`(${status})`),
        h("span", { class: `status status-${status}`, "aria-hidden": "true" }, status),
      );
      const canChallenge = state.me && name !== state.me;
      const label = h(
        "span",
        { class: "name" },
        canChallenge ? hidden("Challenge ") : null,
        name,
        name === state.me ? " (you)" : "",
      );
      return h(
        "li",
        { "data-player": name },
        canChallenge
          ? h(
              "button",
              {
                type: "button",
                class: "player",
                "data-key": `player:${name}`,
                onclick: () => challenge(name),
              },
              label,
              badge,
            )
          : h("div", { class: "player" }, label, badge),
      );
    }),
  );
  $("players-count").textContent = names.length ? `(${names.length})` : "";
  $("players-empty").hidden = names.length > 0;

  const games = [...state.live.values()].sort((x, y) => (x.started < y.started ? 1 : -1));
  fill(
    $("live-games"),
    games.map((g) =>
      h(
        "li",
        { "data-game": g.id },
        gameLink(g, [`round ${g.round}`, g.rules, `best of ${g.best_of}`, watching(g)].filter(Boolean).join(" · ")),
      ),
    ),
  );
  $("games-count").textContent = games.length ? `(${games.length})` : "";
  $("game-watching").textContent = watching(state.live.get(state.gameId));
  $("games-empty").hidden = games.length > 0;
  renderPlayPanel();
}
