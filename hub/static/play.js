// The play panel: play the computer, challenge a player or join the queue, cancel; and our
// player topic's events (challenges for us, answers to ours, a game that starts).

import { renderChallenges } from "./challenges.js";
import { $, fill, h } from "./dom.js";
import { request } from "./connection.js";
import { openGame } from "./game.js";
import { renderGame } from "./gameview.js";
import { rollIcon } from "./icons.js";
import { getJson } from "./rest.js";
import { ruleSet, wheelOrder } from "./rolls.js";
import { COMPUTER, state } from "./state.js";

export async function loadRules() {
  try {
    state.rules = await getJson("/api/rules");
  } catch {
    return;
  }
  const select = $("rules");
  fill(
    select,
    Object.keys(state.rules.rules).map((name) =>
      h(
        "option",
        { value: name, selected: name === state.rules.default },
        `${name} (${state.rules.rules[name].rolls.length} rolls)`,
      ),
    ),
  );
  renderRulesPreview();
  renderGame();
}

// The rolls of the rules chosen for the next game, in wheel order, each with its symbol.
export function renderRulesPreview() {
  const rules = ruleSet($("rules").value);
  fill(
    $("rules-preview"),
    rules
      ? wheelOrder(rules).map((roll) => h("li", { class: "chip" }, rollIcon(roll), roll))
      : [],
  );
}

function playOptions(opponent) {
  const options = { best_of: Number($("best-of").value), rules: $("rules").value || undefined };
  // The computer plays at random unless told: only another level is sent.
  if (opponent === COMPUTER && $("level").value !== "random") options.level = $("level").value;
  return options;
}

export async function play(opponent, options = playOptions(opponent)) {
  state.note = "";
  try {
    const data = await request("play", { opponent, ...options });
    if (data.game) openGame(data.game);
    else if (data.queued) state.outgoing = { kind: "queue", ...options };
    else if (data.challenge)
      state.outgoing = { kind: "challenge", id: data.challenge, to: opponent };
  } catch (err) {
    state.note = `Could not start: ${err.message}`;
  }
  renderPlayPanel();
}

export function challenge(name) {
  play(name);
}

async function cancelWaiting() {
  try {
    await request("cancel");
    state.outgoing = null;
    state.note = "";
  } catch (err) {
    state.note = err.message;
  }
  renderPlayPanel();
}

export function applyPlayerEvent(name, data) {
  switch (name) {
    case "challenge":
      state.challenges.set(data.id, data);
      break;
    case "challenge_declined":
      if (state.outgoing?.id === data.id && state.outgoing.rematch) {
        state.rematchNote = `${data.by} declined the rematch.`;
      } else {
        state.note = `${data.by} declined your challenge.`;
      }
      if (state.outgoing?.id === data.id) state.outgoing = null;
      break;
    case "challenge_withdrawn":
      state.challenges.delete(data.id);
      if (state.outgoing?.id === data.id) {
        state.outgoing = null;
        state.note = "Your challenge was withdrawn.";
      }
      break;
    case "game_started":
      state.outgoing = null;
      state.note = "";
      state.rematchNote = "";
      // A rematch both seats asked for starts at once: the other's offer is answered by it.
      for (const [id, c] of state.challenges) {
        if (c.rematch && data.players.includes(c.from)) state.challenges.delete(id);
      }
      openGame(data.id, data);
      break;
    default:
      return;
  }
  renderPlayPanel();
  renderGame();
}

function myLiveGame() {
  if (!state.me) return null;
  return [...state.live.values()].find((g) => g.players.includes(state.me)) ?? null;
}

export function renderPlayPanel() {
  renderChallenges();
  $("play-panel").hidden = !state.me;
  if (!state.me) return;
  // After a reload the lobby still says we are queued, though this page did not queue us.
  const queued = state.players.get(state.me) === "queued";
  const waiting = state.outgoing ?? (queued ? { kind: "queue" } : null);
  $("play-computer").disabled = waiting !== null;
  $("join-queue").disabled = waiting !== null;

  const parts = [];
  const pools = [...state.queue.values()];
  const mine = (q) => waiting?.rules === q.rules && waiting?.best_of === q.best_of;
  const others = pools.filter((q) => !mine(q)).map(poolText);
  if (waiting?.kind === "queue") {
    const what = waiting.rules ? `${waiting.rules} best of ${waiting.best_of}` : "an opponent";
    const elsewhere = others.length ? ` (${others.join("; ")})` : "";
    parts.push(h("span", {}, `Waiting in the queue for ${what}…${elsewhere} `));
    parts.push(h("button", { type: "button", onclick: cancelWaiting }, "Leave the queue"));
  } else if (waiting?.kind === "challenge") {
    parts.push(h("span", {}, `Challenge sent to ${waiting.to}; waiting for an answer… `));
    parts.push(h("button", { type: "button", onclick: cancelWaiting }, "Withdraw"));
  } else if (state.note) {
    parts.push(h("span", {}, state.note));
  }
  const live = myLiveGame();
  if (live && live.id !== state.gameId) {
    const [a, b] = live.players;
    parts.push(
      h("span", {}, " You are playing "),
      h("a", { href: `#/game/${encodeURIComponent(live.id)}` }, `${a} vs ${b}`),
      ".",
    );
  }
  fill($("play-status"), parts);
  // Who waits in the queue, so a player can join a pool where someone is waiting.
  $("queue-pools").hidden = waiting?.kind === "queue" || pools.length === 0;
  $("queue-pools").textContent = `In the queue: ${pools.map(poolText).join("; ")}.`;
}

function poolText(q) {
  return `${q.waiting} waiting for ${q.rules} best of ${q.best_of}`;
}
