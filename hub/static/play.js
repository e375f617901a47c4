// The play panel: play the computer, challenge a player or join the queue, cancel, and answer
// the challenges sent to us (our player topic's events).

import { $, fill, h } from "./dom.js";
import { request } from "./connection.js";
import { openGame } from "./game.js";
import { renderGame } from "./gameview.js";
import { getJson } from "./rest.js";
import { state } from "./state.js";

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
  renderGame();
}

function playOptions() {
  return { best_of: Number($("best-of").value), rules: $("rules").value || undefined };
}

export async function play(opponent) {
  state.note = "";
  try {
    const data = await request("play", { opponent, ...playOptions() });
    if (data.game) openGame(data.game);
    else if (data.queued) state.outgoing = { kind: "queue" };
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

async function answerChallenge(id, accept) {
  try {
    const data = await request(accept ? "accept" : "decline", { challenge: id });
    state.challenges.delete(id);
    if (accept && data.game) openGame(data.game);
  } catch (err) {
    state.note = `Could not ${accept ? "accept" : "decline"}: ${err.message}`;
    if (err.code === "not_found") state.challenges.delete(id);
  }
  renderPlayPanel();
}

export function applyPlayerEvent(name, data) {
  switch (name) {
    case "challenge":
      state.challenges.set(data.id, data);
      break;
    case "challenge_declined":
      if (state.outgoing?.id === data.id) state.outgoing = null;
      state.note = `${data.by} declined your challenge.`;
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
      openGame(data.id, data);
      break;
    default:
      return;
  }
  renderPlayPanel();
}

function myLiveGame() {
  if (!state.me) return null;
  return [...state.live.values()].find((g) => g.players.includes(state.me)) ?? null;
}

export function renderPlayPanel() {
  $("play-panel").hidden = !state.me;
  if (!state.me) return;
  // After a reload the lobby still says we are queued, though this page did not queue us.
  const queued = state.players.get(state.me) === "queued";
  const waiting = state.outgoing ?? (queued ? { kind: "queue" } : null);
  $("play-computer").disabled = waiting !== null;
  $("join-queue").disabled = waiting !== null;

  const parts = [];
  if (waiting?.kind === "queue") {
    parts.push(h("span", {}, "Waiting in the queue for an opponent… "));
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

  fill(
    $("challenges"),
    [...state.challenges.values()].map((c) =>
      h(
        "li",
        { class: "challenge", "data-challenge": c.id },
        h("span", {}, h("b", {}, c.from), ` challenges you: ${c.rules}, best of ${c.best_of}`),
        h(
          "span",
          { class: "actions" },
          h(
            "button",
            {
              type: "button",
              "data-key": `accept:${c.id}`,
              "aria-label": `Accept the challenge from ${c.from}`,
              onclick: () => answerChallenge(c.id, true),
            },
            "Accept",
          ),
          h(
            "button",
            {
              type: "button",
              class: "secondary",
              "data-key": `decline:${c.id}`,
              "aria-label": `Decline the challenge from ${c.from}`,
              onclick: () => answerChallenge(c.id, false),
            },
            "Decline",
          ),
        ),
      ),
    ),
  );
}
