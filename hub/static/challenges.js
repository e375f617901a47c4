// The challenges sent to us, in a tray that stays in view wherever we are (the lobby or a game):
// each with Accept and Decline. A challenge that comes in mid-game waits there until we answer it
// or its author withdraws it; accepting needs our game to be over (one live game per player).

import { $, fill, h } from "./dom.js";
import { request } from "./connection.js";
import { openGame } from "./game.js";
import { state } from "./state.js";

let note = ""; // what the tray has to say about the last answer

function myGameIsLive() {
  const game = state.game;
  return Boolean(state.me && game?.status === "playing" && game.players.includes(state.me));
}

async function answerChallenge(id, accept) {
  note = "";
  try {
    const data = await request(accept ? "accept" : "decline", { challenge: id });
    state.challenges.delete(id);
    if (accept && data.game) openGame(data.game);
  } catch (err) {
    note = `Could not ${accept ? "accept" : "decline"}: ${err.message}`;
    if (err.code === "not_found") state.challenges.delete(id);
  }
  renderChallenges();
}

export function renderChallenges() {
  const offers = [...state.challenges.values()];
  if (!state.me) offers.length = 0;
  $("challenge-tray").hidden = offers.length === 0 && !note;
  $("challenge-note").textContent = note;
  const busy = myGameIsLive();
  fill(
    $("challenges"),
    offers.map((c) =>
      h(
        "li",
        { class: "challenge", "data-challenge": c.id },
        h(
          "span",
          { class: "challenge-text" },
          h("b", {}, c.from),
          c.rematch ? " asks for a rematch" : " challenges you",
          `: ${c.rules}, best of ${c.best_of}`,
          busy ? h("span", { class: "challenge-later" }, " — answer when your game is over") : null,
        ),
        h(
          "span",
          { class: "actions" },
          h(
            "button",
            {
              type: "button",
              "data-key": `accept:${c.id}`,
              "aria-label": `Accept the ${c.rematch ? "rematch" : "challenge"} from ${c.from}`,
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
              "aria-label": `Decline the ${c.rematch ? "rematch" : "challenge"} from ${c.from}`,
              onclick: () => answerChallenge(c.id, false),
            },
            "Decline",
          ),
        ),
      ),
    ),
  );
}
