// The move panel: the rule set's rolls round a wheel, each with its symbol, name and key. Pointing
// at, focusing or picking a roll shows what it beats and what it loses to; a roll is played only
// when confirmed (picked again, Enter, or the Play button). Keys: a roll's key picks it, the arrow
// keys go round the wheel, Escape drops the pick.

import { $, h } from "./dom.js";
import { conn } from "./connection.js";
import { sendMove } from "./game.js";
import { rollIcon } from "./icons.js";
import { explain, relations, rollKeys, ruleSet, wheelOrder } from "./rolls.js";
import { state } from "./state.js";

const wheel = {
  built: "", // "<game id> <rules>" the buttons were made for
  order: [], // the rolls round the wheel
  keys: new Map(), // roll -> key
  picked: null, // the roll picked and not yet played
  pointed: null, // the roll under the pointer
  focused: null, // the roll button with the focus
};

function moved(game) {
  return state.myMove?.round === game.round;
}

function canPlay(game) {
  return conn.ready && !moved(game);
}

export function renderMovePanel(game) {
  const seated = Boolean(state.me && game.players.includes(state.me)) && game.status === "playing";
  $("move-panel").hidden = !seated;
  if (!seated) return;
  const rules = ruleSet(game.rules);
  const built = `${game.id} ${game.rules} ${rules ? "rules" : "none"}`;
  if (wheel.built !== built) build(game, rules, built);
  const opponent = game.players.find((p) => p !== state.me);
  $("move-title").textContent = moved(game)
    ? `You played ${state.myMove.roll} — waiting for ${opponent}…`
    : `Your move for round ${game.round}`;
  if (moved(game)) wheel.picked = null;
  refresh(game);
  $("resign").disabled = !conn.ready;
}

function build(game, rules, built) {
  wheel.built = built;
  wheel.order = rules ? wheelOrder(rules) : [];
  wheel.keys = rollKeys(wheel.order);
  wheel.picked = wheel.pointed = wheel.focused = null;
  const n = wheel.order.length;
  $("rolls").classList.toggle("wheel-small", n <= 5);
  $("rolls").style.setProperty("--n", String(n));
  const buttons = wheel.order.map((roll, i) => {
    const key = wheel.keys.get(roll);
    const button = h(
      "button",
      {
        type: "button",
        class: "roll",
        "data-roll": roll,
        "data-key": `roll:${roll}`,
        "aria-keyshortcuts": key ? key.toUpperCase() : null,
        onclick: () => choose(roll),
        onmouseenter: () => point(roll),
        onmouseleave: () => point(null),
        onfocus: () => focusRoll(roll),
        onblur: () => focusRoll(null),
        onkeydown: (e) => arrow(e, i),
      },
      rollIcon(roll),
      h("span", { class: "roll-name" }, roll),
      key ? h("kbd", { "aria-hidden": "true" }, key.toUpperCase()) : null,
    );
    button.style.setProperty("--i", String(i));
    return button;
  });
  $("rolls").replaceChildren(...buttons);
}

function buttonOf(roll) {
  return $("rolls").querySelector(`[data-roll="${CSS.escape(roll)}"]`);
}

// Update the buttons in place (a redraw would lose the pointer and the focus).
function refresh(game) {
  const play = canPlay(game);
  const shown = wheel.pointed ?? wheel.focused ?? wheel.picked;
  const rules = ruleSet(game.rules);
  const rel = rules && shown ? relations(rules, shown) : { beats: [], losesTo: [] };
  const tabStop = wheel.picked ?? wheel.focused ?? wheel.order[0];
  for (const button of $("rolls").querySelectorAll(".roll")) {
    const roll = button.dataset.roll;
    const chosen = moved(game) && state.myMove.roll === roll;
    button.setAttribute("aria-pressed", String(roll === wheel.picked || chosen));
    button.tabIndex = roll === tabStop ? 0 : -1;
    // aria-disabled rather than disabled: the focus stays on the button for the next round.
    if (play) button.removeAttribute("aria-disabled");
    else button.setAttribute("aria-disabled", "true");
    button.classList.toggle("chosen", chosen);
    button.classList.toggle("shown", roll === shown);
    button.classList.toggle("wins-over", rel.beats.includes(roll));
    button.classList.toggle("loses-to", rel.losesTo.includes(roll));
  }
  const confirm = $("confirm");
  confirm.hidden = !(play && wheel.picked);
  if (wheel.picked && confirm.dataset.roll !== wheel.picked) {
    confirm.dataset.roll = wheel.picked;
    confirm.replaceChildren(rollIcon(wheel.picked), h("span", {}, `Play ${wheel.picked}`));
  }
  renderInfo(rules, shown, rel);
}

function renderInfo(rules, roll, rel) {
  const info = $("roll-info");
  if (!rules || !roll) {
    const hint = "Point at, focus or pick a roll to see what it beats and loses to.";
    info.replaceChildren(h("p", { class: "hint" }, hint));
    return;
  }
  const list = (rolls) => (rolls.length ? rolls.join(", ") : "nothing");
  // With a table of verbs, say how: "Rock crushes Scissors".
  const how = rules.verbs ? rel.beats.map((r) => explain(rules, roll, r)) : [];
  const sample = how.length ? ` (${how.join("; ")})` : "";
  info.replaceChildren(
    h("p", { class: "info-title" }, rollIcon(roll), h("strong", {}, roll)),
    h("p", { class: "info-beats" }, `${roll} beats ${list(rel.beats)}${sample}.`),
    h("p", { class: "info-loses" }, `${roll} loses to ${list(rel.losesTo)}.`),
  );
}

function current() {
  const game = state.game;
  return game && !$("move-panel").hidden ? game : null;
}

// A click or tap picks a roll; on the roll already picked it plays it.
function choose(roll) {
  const game = current();
  if (!game || !canPlay(game)) return;
  if (wheel.picked === roll) {
    confirmPick();
    return;
  }
  wheel.picked = roll;
  refresh(game);
}

export function confirmPick() {
  const game = current();
  const roll = wheel.picked;
  if (!game || !roll || !canPlay(game)) return;
  const hadFocus = $("confirm").contains(document.activeElement);
  wheel.picked = null;
  sendMove(roll);
  if (hadFocus) buttonOf(roll)?.focus(); // the Play button hides; keep the focus on the wheel
}

function point(roll) {
  wheel.pointed = roll;
  const game = current();
  if (game) refresh(game);
}

function focusRoll(roll) {
  wheel.focused = roll;
  const game = current();
  if (game) refresh(game);
}

function arrow(e, i) {
  const step = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 }[e.key];
  if (!step) return;
  e.preventDefault();
  const n = wheel.order.length;
  buttonOf(wheel.order[(i + step + n) % n])?.focus();
}

// Keys anywhere on the page while it is our move; not while typing or in a dialog.
export function onKey(e) {
  const game = current();
  if (!game || e.ctrlKey || e.metaKey || e.altKey) return;
  if (e.target.closest?.("input, select, textarea, dialog")) return;
  if (e.key === "Escape" && wheel.picked) {
    wheel.picked = null;
    refresh(game);
    return;
  }
  const key = e.key.toLowerCase();
  const roll = wheel.order.find((r) => wheel.keys.get(r) === key);
  if (!roll || !canPlay(game)) return;
  e.preventDefault();
  wheel.picked = roll;
  buttonOf(roll)?.focus();
  refresh(game);
}
