// The game view's drawing: title, seats and score, the round's clock, the move wheel (wheel.js),
// the last round's reveal and the result (reveal.js), and the rounds table with each round's
// commitment verdict; everything is redrawn from `state`.

import { renderChallenges } from "./challenges.js";
import { $, fill, h, outcomeText, scoreText, watching } from "./dom.js";
import { renderEnd, renderReveal } from "./reveal.js";
import { COMPUTER, state } from "./state.js";
import { renderMovePanel } from "./wheel.js";

export function renderGame() {
  renderChallenges();
  if ($("game-view").hidden) return;
  const game = state.game;
  if (!game || game.id !== state.gameId) {
    delete $("game-view").dataset.status;
    $("game-title").textContent = state.gameError ? "Game not found" : "Loading the game…";
    $("game-state").textContent = state.gameError;
    for (const id of ["game-meta", "scoreboard"]) $(id).replaceChildren();
    for (const id of ["move-panel", "commit-line", "rounds-section", "reveal", "game-end"]) {
      $(id).hidden = true;
    }
    return;
  }
  const [a, b] = game.players;
  $("game-view").dataset.status = game.status;
  $("rounds-section").hidden = false;
  $("game-title").textContent = `${a} vs ${b}`;
  const level = game.level && game.level !== "random" ? ` · the computer plays ${game.level}` : "";
  $("game-meta").textContent =
    `${game.rules} · best of ${game.best_of} (first to ${(game.best_of + 1) / 2})${level}`;
  $("game-watching").textContent = watching(state.live.get(game.id));
  fill(
    $("scoreboard"),
    game.players.map((p) => seatCard(game, p)),
  );

  const playing = game.status === "playing";
  const vsComputer = game.players.includes(COMPUTER);
  const commitment = playing ? game.commitment : null;
  $("commit-line").hidden = !(vsComputer && commitment);
  if (commitment) {
    fill($("commit-line"), [
      `The computer has committed to its round ${game.round} roll: `,
      h("code", { title: commitment }, `sha256 ${commitment.slice(0, 16)}…`),
    ]);
  }
  renderGameState();
  renderEnd(game);
  renderReveal(game);
  renderMovePanel(game);
  renderRounds();
}

function seatCard(game, player) {
  const classes = ["seat"];
  if (game.winner === player) classes.push("winner");
  if (player === state.me) classes.push("me");
  const playing = game.status === "playing";
  const hasMoved = state.moved.has(player) && playing;
  return h(
    "div",
    { class: classes.join(" "), "data-seat": player },
    h("span", { class: "seat-name" }, player, player === state.me ? " (you)" : ""),
    h(
      "span",
      { class: "seat-score", "aria-label": `${player} has ${game.score[player] ?? 0}` },
      game.score[player] ?? 0,
    ),
    hasMoved ? h("span", { class: "moved" }, "has moved") : null,
    playing && !hasMoved ? h("span", { class: "thinking" }, "choosing…") : null,
    game.winner === player ? h("span", { class: "badge" }, "Winner") : null,
  );
}

export function renderGameState() {
  const game = state.game;
  if (!game || $("game-view").hidden) return;
  let text;
  if (game.status !== "playing") {
    text = `Finished: ${outcomeText(game)}, ${scoreText(game)}.`;
  } else if (!game.deadline) {
    text = `Round ${game.round} — no deadline.`;
  } else {
    const left = Math.max(
      0,
      Math.ceil((Date.parse(game.deadline) - Date.now() - state.clockOffset) / 1000),
    );
    text = left > 0 ? `Round ${game.round} — ${left} s left.` : `Round ${game.round} — time is up.`;
    $("game-state").classList.toggle("urgent", left <= 5);
  }
  if (game.status !== "playing") $("game-state").classList.remove("urgent");
  $("game-state").textContent = text;
  renderTimer(game);
}

// How long the open round is (ms): known when this page saw it open, or for round 1, which
// opens when the game starts; a page that arrives in the middle of a later round cannot know.
function roundLength(game) {
  if (state.roundClock?.round === game.round) return state.roundClock.length;
  if (game.round === 1 && game.started) return Date.parse(game.deadline) - Date.parse(game.started);
  return null;
}

// The bar under the clock: the share of the round's time still left.
function renderTimer(game) {
  const length = game.status === "playing" && game.deadline ? roundLength(game) : null;
  $("timer").hidden = !(length > 0);
  if (!(length > 0)) return;
  const left = Date.parse(game.deadline) - Date.now() - state.clockOffset;
  const share = Math.min(1, Math.max(0, left / length));
  $("timer").style.setProperty("--left", share.toFixed(3));
  $("timer").classList.toggle("urgent", left <= 5000);
}

export function renderRounds() {
  const game = state.game;
  if (!game || $("game-view").hidden) return;
  const [a, b] = game.players;
  const vsComputer = game.players.includes(COMPUTER);
  fill($("rounds-head"), [
    h(
      "th",
      { scope: "col" },
      h("span", { "aria-hidden": "true" }, "#"),
      h("span", { class: "visually-hidden" }, "Round"),
    ),
    h("th", { scope: "col" }, a),
    h("th", { scope: "col" }, b),
    h("th", { scope: "col" }, "Winner"),
    vsComputer
      ? h(
          "th",
          {
            scope: "col",
            title:
              "The computer's roll checked in this browser against the SHA-256 commitment it published before the round",
          },
          "Check",
        )
      : null,
  ]);
  const rows = [...game.rounds]
    .sort((x, y) => y.round - x.round)
    .map((r) =>
      h(
        "tr",
        { "data-round": r.round, class: r.winner ? (r.winner === a ? "won-a" : "won-b") : "tie" },
        h("td", {}, r.round),
        h("td", {}, r.moves[a] ?? "— missed"),
        h("td", {}, r.moves[b] ?? "— missed"),
        h("td", {}, r.winner ?? "tie"),
        vsComputer ? verdictCell(r) : null,
      ),
    );
  fill($("rounds").tBodies[0], rows);
  $("rounds-empty").hidden = rows.length > 0;
}

function verdictCell(r) {
  const verdict = state.verdicts.get(r.round);
  const title = r.commitment
    ? `sha256("${r.moves[COMPUTER]}:${r.nonce}") should be ${r.commitment}`
    : "";
  if (verdict === true)
    return h("td", { class: "verified", title }, "✓", h("span", { class: "verdict" }, " verified"));
  if (verdict === false)
    return h("td", { class: "mismatch", title }, "✗", h("span", { class: "verdict" }, " mismatch"));
  if (verdict === null) return h("td", { class: "unverified", title }, "cannot check here");
  return h("td", { title }, "checking…");
}
