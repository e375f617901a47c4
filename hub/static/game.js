// The game on screen (#/game/<id>): routing, following its topic, applying its events, and the
// player's own actions in it (a move, resigning).

import { commitmentHolds } from "./commitment.js";
import { $, scoreText } from "./dom.js";
import { conn, request, subscribe, track } from "./connection.js";
import { renderGame, renderRounds } from "./gameview.js";
import { renderPlayPanel } from "./play.js";
import { showPlayer } from "./player.js";
import { focusEnd, roundWhy } from "./reveal.js";
import { COMPUTER, state } from "./state.js";

export function openGame(id, game = null) {
  if (game && id !== state.gameId) {
    // Show it at once; the subscription's snapshot follows.
    resetGame();
    state.gameId = id;
    setGame(game);
  }
  const hash = `#/game/${encodeURIComponent(id)}`;
  if (location.hash !== hash) location.hash = hash;
  route();
}

export function route() {
  const match = location.hash.match(/^#\/game\/(.+)$/);
  const id = match ? decodeURIComponent(match[1]) : null;
  const who = location.hash.match(/^#\/player\/(.+)$/);
  const player = who ? decodeURIComponent(who[1]) : null;
  if (id !== state.watching) {
    if (state.watching) leaveGame(state.watching);
    state.watching = null;
    if (id !== state.gameId) resetGame();
    state.gameId = id;
    if (id && conn.ready) {
      state.watching = id;
      watchGame(id);
    }
  }
  $("lobby-view").hidden = id !== null || player !== null;
  $("game-view").hidden = id === null;
  showPlayer(player);
  document.title = id ? "rps-hub — game" : player ? `rps-hub — ${player}` : "rps-hub — live lobby";
  renderGame();
  renderPlayPanel();
}

function resetGame() {
  state.game = null;
  state.commitments = new Map();
  state.verdicts = new Map();
  state.moved = new Set();
  state.myMove = null;
  state.roundClock = null;
  state.gameError = "";
  state.lastRound = "";
  $("round-result").textContent = "";
}

function leaveGame(id) {
  const topic = `game:${id}`;
  conn.topics.delete(topic);
  const mine = Boolean(state.me && state.live.get(id)?.players.includes(state.me));
  // The hub keeps a seat's connection on its own game's topic; only unsubscribe from others.
  if (!mine) request("unsubscribe", { topic }).catch(() => {});
}

export async function watchGame(id) {
  const topic = `game:${id}`;
  const t = track(topic);
  if (state.game?.id !== id) Object.assign(t, { epoch: null, last: null });
  try {
    await subscribe(topic);
  } catch (err) {
    if (state.gameId !== id) return;
    if (err.code === "not_found" || err.code === "bad_request") {
      state.gameError = `There is no game “${id}” on this hub.`;
      conn.topics.delete(topic);
    } else if (err.code !== "unavailable") {
      state.gameError = `Cannot show this game: ${err.message}`;
    }
    renderGame();
  }
}

export function setGame(game) {
  state.game = structuredClone(game);
  state.gameError = "";
  state.moved = new Set();
  if (game.commitment) state.commitments.set(game.round, game.commitment);
  for (const r of game.rounds ?? []) {
    if (r.commitment) state.commitments.set(r.round, r.commitment);
  }
  if (state.myMove && state.myMove.round !== game.round) state.myMove = null;
  renderGame();
  for (const r of state.game.rounds) verifyRound(r);
}

export function applyGameEvent(name, data) {
  const game = state.game;
  if (!game) return;
  const hadFocus = $("move-panel").contains(document.activeElement);
  switch (name) {
    case "round_open":
      game.round = data.round;
      game.deadline = data.deadline;
      if (data.deadline) {
        // The event's timestamp set clockOffset: the round's whole length, as the hub counts.
        const length = Date.parse(data.deadline) - Date.now() - state.clockOffset;
        state.roundClock = { round: data.round, length: Math.max(1, length) };
      }
      game.commitment = data.commitment ?? null;
      if (data.commitment) state.commitments.set(data.round, data.commitment);
      state.moved = new Set();
      break;
    case "moved":
      if (data.round === game.round) state.moved.add(data.player);
      break;
    case "round": {
      const played = { round: data.round, moves: data.moves, winner: data.winner };
      const commitment = state.commitments.get(data.round);
      if (data.nonce !== undefined) Object.assign(played, { commitment, nonce: data.nonce });
      game.rounds = game.rounds.filter((r) => r.round !== data.round).concat([played]);
      game.score = data.score;
      game.deadline = null;
      game.commitment = null;
      announceRound(played);
      verifyRound(played);
      break;
    }
    case "game_over":
      Object.assign(game, {
        status: "finished",
        winner: data.winner,
        reason: data.reason,
        score: data.score,
      });
      if (data.rating_change) game.rating_change = data.rating_change;
      game.deadline = null;
      game.commitment = null;
      say(`${state.lastRound} Game over.`.trim(), true);
      break;
    default:
      return;
  }
  renderGame();
  if (name === "game_over") focusEnd(hadFocus);
}

// The live region: a round's summary is for screen readers (the reveal shows it on screen); a
// refused move or resignation is shown to everyone.
function say(text, summary = false) {
  $("round-result").textContent = text;
  $("round-result").classList.toggle("visually-hidden", summary);
}

function announceRound(r) {
  const [a, b] = state.game.players;
  const roll = (p) => r.moves[p] ?? "no move";
  const who = r.winner
    ? `${r.winner === state.me ? "you win" : `${r.winner} wins`} the round`
    : "a tie";
  const why = roundWhy(state.game, r);
  const score = `Score ${scoreText(state.game)}.`;
  state.lastRound = `Round ${r.round}: ${a} ${roll(a)}, ${b} ${roll(b)} — ${who}. ${why} ${score}`;
  say(state.lastRound, true);
}

// The computer committed to sha256("<roll>:<nonce>") before we moved; check it ourselves.
async function verifyRound(r) {
  if (r.nonce === undefined || r.nonce === null || state.verdicts.has(r.round)) return;
  const roll = r.moves[COMPUTER];
  if (!r.commitment || !roll || !crypto.subtle) {
    state.verdicts.set(r.round, null);
  } else {
    state.verdicts.set(r.round, await commitmentHolds(roll, r.nonce, r.commitment));
  }
  renderRounds();
}

export async function sendMove(roll) {
  const game = state.game;
  const round = game.round;
  if (state.myMove?.round === round || !conn.ready) return;
  state.myMove = { round, roll };
  renderGame();
  try {
    await request("move", { game: game.id, roll, round });
  } catch (err) {
    if (state.myMove?.round === round) state.myMove = null;
    say(`Your move was not taken: ${err.message}`);
    renderGame();
  }
}

let resignArmed = null; // the timer while "Resign" waits for its confirming second click

export async function resign() {
  if (!resignArmed) {
    $("resign").textContent = "Click again to resign";
    resignArmed = setTimeout(disarmResign, 4000);
    return;
  }
  disarmResign();
  try {
    await request("resign", { game: state.game.id });
  } catch (err) {
    say(`Could not resign: ${err.message}`);
  }
}

function disarmResign() {
  clearTimeout(resignArmed);
  resignArmed = null;
  $("resign").textContent = "Resign";
}
