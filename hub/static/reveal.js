// The reveal of the last round (both rolls side by side, and why one won) and, once the game is
// over, its result (with the ratings it changed) and what to do next: a rematch, a new opponent
// or back to the lobby.

import { $, h, scoreText } from "./dom.js";
import { conn, request } from "./connection.js";
import { openGame } from "./game.js";
import { renderGame } from "./gameview.js";
import { rollIcon } from "./icons.js";
import { play } from "./play.js";
import { signed } from "./player.js";
import { explain, ruleSet } from "./rolls.js";
import { state } from "./state.js";

let shown = { game: null, round: null, me: null }; // what the reveal last drew

function lastRound(game) {
  return game.rounds.reduce((a, r) => (a && a.round > r.round ? a : r), null);
}

function who(player) {
  return player === state.me ? "You" : player;
}

// Why the round went as it did, in words.
export function roundWhy(game, r) {
  const [a, b] = game.players;
  const ra = r.moves[a] ?? null;
  const rb = r.moves[b] ?? null;
  if (!r.winner) {
    if (ra === null && rb === null) return "Neither seat moved in time.";
    return `Both played ${ra}: a tie.`;
  }
  const loser = r.winner === a ? b : a;
  const won = r.moves[r.winner];
  const lost = r.moves[loser] ?? null;
  if (lost === null) return `${loser} did not move in time.`;
  return `${explain(ruleSet(game.rules), won, lost)}.`;
}

export function renderReveal(game) {
  const r = lastRound(game);
  $("reveal").hidden = r === null;
  if (r === null) {
    shown = { game: game.id, round: null, me: state.me };
    return;
  }
  if (shown.game === game.id && shown.round === r.round && shown.me === state.me) return;
  // A round that resolves while the game is on screen is revealed with a flip; not on arrival.
  const fresh = shown.game === game.id && shown.round !== r.round;
  shown = { game: game.id, round: r.round, me: state.me };
  const cards = game.players.map((p) => {
    const roll = r.moves[p] ?? null;
    const classes = ["reveal-card"];
    if (r.winner === p) classes.push("won");
    else if (r.winner) classes.push("lost");
    if (fresh) classes.push("fresh");
    return h(
      "div",
      { class: classes.join(" "), "data-player": p },
      h("span", { class: "reveal-who" }, who(p)),
      roll ? rollIcon(roll) : h("span", { class: "icon no-move", "aria-hidden": "true" }, "–"),
      h("span", { class: "reveal-roll" }, roll ?? "no move"),
    );
  });
  $("reveal-title").textContent = `Round ${r.round}`;
  $("reveal-cards").replaceChildren(cards[0], h("span", { class: "reveal-vs" }, "vs"), cards[1]);
  $("reveal-why").textContent = roundWhy(game, r);
}

function endText(game) {
  const seated = Boolean(state.me && game.players.includes(state.me));
  if (game.winner && seated) {
    return game.winner === state.me ? "You won the game!" : `${game.winner} won the game.`;
  }
  if (game.winner) return `${game.winner} won the game.`;
  return game.reason === "abandoned" ? "The game was abandoned." : "The game is drawn.";
}

export function renderEnd(game) {
  const over = game.status !== "playing";
  $("game-end").hidden = !over;
  if (!over) return;
  const seated = Boolean(state.me && game.players.includes(state.me));
  $("game-end").classList.toggle("victory", game.winner !== null && game.winner === state.me);
  $("game-end-text").textContent = endText(game);
  const [a, b] = game.players;
  $("game-end-detail").textContent =
    `${a} ${scoreText(game)} ${b} · ${game.rules}, best of ${game.best_of}`;
  // A seat may ask for a rematch, or find a new opponent in the queue with the same rules.
  const asked = state.outgoing?.rematch === game.id;
  $("rematch").hidden = !seated;
  $("rematch").disabled = !conn.ready || asked;
  $("new-opponent").hidden = !seated;
  $("new-opponent").disabled = !conn.ready;
  $("rematch-status").textContent = asked
    ? `Rematch asked; waiting for ${state.outgoing.to}…`
    : seated
      ? state.rematchNote
      : "";
  const change = game.rating_change;
  $("rating-change").hidden = !change;
  if (change) {
    const said = game.players.map((p) => `${p === state.me ? "you" : p} ${signed(change[p] ?? 0)}`);
    $("rating-change").textContent = `Rating: ${said.join(", ")}`;
  }
}

// The same rules and best_of again: against the computer a new game at once; against a person a
// challenge, or the game at once if they asked too.
export async function rematch() {
  const game = state.game;
  if (!game) return;
  const opponent = game.players.find((p) => p !== state.me);
  state.rematchNote = "";
  try {
    const data = await request("rematch", { game: game.id });
    if (data.game) openGame(data.game);
    else if (data.challenge) {
      state.outgoing = { kind: "challenge", id: data.challenge, to: opponent, rematch: game.id };
    }
  } catch (err) {
    state.rematchNote = `Could not ask for a rematch: ${err.message}`;
  }
  renderGame();
}

// The game just ended: if the focus was in the move panel (now hidden), give it to the result.
export function focusEnd(hadFocus) {
  if (!hadFocus || $("game-end").hidden) return;
  $("game-end").focus();
}

export async function newOpponent() {
  const game = state.game;
  if (!game) return;
  location.hash = "#/";
  await play("*", { best_of: game.best_of, rules: game.rules });
}
