// The rps-hub lobby page's entry module: no framework, no build step. It speaks the WebSocket
// protocol of docs/protocol.md, WebSocket on /ws and reads the REST routes of docs/protocol.md, REST. State lives in `state`
// (state.js) and `conn` (connection.js); every change goes through an apply*/on* function and
// then a render* function that redraws the part of the page it owns from that state.
// Some modules import each other (play <-> game <-> gameview): that is safe because no module
// calls an imported function while it is evaluated; only init() below does, once all of them are.

import { BEST_OF, COMPUTER, state } from "./state.js";
import { $, fill, h } from "./dom.js";
import { conn, connect, reconnectNow, setHandlers, subscribe } from "./connection.js";
import { authenticate, register, rememberSeen, renderIdentity } from "./identity.js";
import { applyLobbyEvent, orderBoard, refreshBoards, renderLobby, setPool } from "./lobby.js";
import { copyToken, forgetMe, useElsewhere, useToken } from "./devices.js";
import { applyPlayerEvent, loadRules, play, renderRulesPreview } from "./play.js";
import { applyGameEvent, resign, route, setGame, watchGame } from "./game.js";
import { renderGame, renderGameState } from "./gameview.js";
import { newOpponent, rematch } from "./reveal.js";
import { confirmPick, onKey } from "./wheel.js";

// Once welcomed: read the boards and rules, authenticate, follow the lobby and the game on screen.
async function onConnected() {
  refreshBoards();
  if (!state.rules) loadRules();
  if (state.token) await authenticate();
  subscribe("lobby").catch(() => {});
  if (state.gameId) {
    state.watching = state.gameId;
    watchGame(state.gameId);
  }
}

// An event in seq order on a topic we follow: the server's clock, then the view that owns it.
function onEvent(msg, t) {
  if (typeof msg.ts === "number") state.clockOffset = msg.ts - Date.now();
  if (msg.topic === `player:${state.me}`) rememberSeen(t);
  if (msg.topic === "lobby") applyLobbyEvent(msg.event, msg.data);
  else if (msg.topic.startsWith("player:")) applyPlayerEvent(msg.event, msg.data);
  else if (msg.topic === `game:${state.gameId}`) applyGameEvent(msg.event, msg.data);
}

function applySnapshot(topic, snapshot) {
  if (topic === "lobby") {
    state.players = new Map(snapshot.players.map((p) => [p.name, p.status]));
    state.live = new Map(snapshot.games.map((g) => [g.id, g]));
    state.queue = new Map();
    for (const pool of snapshot.queue ?? []) setPool(pool);
    renderLobby();
  } else if (topic === `game:${state.gameId}`) {
    setGame(snapshot);
  }
}

function renderBanner() {
  const down = !conn.ready && conn.lost; // the first connect of a page load shows no banner
  $("banner").hidden = !down;
  if (!down) return;
  const wait = Math.max(0, Math.ceil((conn.retryAt - Date.now()) / 1000));
  $("banner-text").textContent = conn.ws
    ? "Connecting to the hub…"
    : `Disconnected from the hub — reconnecting in ${wait} s.`;
}

function tick() {
  if (!conn.ready) renderBanner();
  if (state.game?.status === "playing" && state.game.deadline) renderGameState();
}

function init() {
  fill(
    $("best-of"),
    BEST_OF.map((n) => h("option", { value: n, selected: n === 5 }, n)),
  );
  $("name-form").addEventListener("submit", (e) => {
    e.preventDefault();
    register($("name-input").value.trim());
  });
  $("forget").addEventListener("click", () => {
    $("forget-name").textContent = state.me ?? "";
    $("forget-dialog").showModal();
  });
  $("forget-cancel").addEventListener("click", () => $("forget-dialog").close());
  $("forget-confirm").addEventListener("click", async () => {
    $("forget-dialog").close();
    await forgetMe();
    location.reload();
  });
  $("token-form").addEventListener("submit", (e) => {
    e.preventDefault();
    useToken($("token-input").value.trim());
  });
  $("use-elsewhere").addEventListener("click", useElsewhere);
  $("device-copy").addEventListener("click", copyToken);
  $("device-close").addEventListener("click", () => $("device-dialog").close());
  $("by-wins").addEventListener("click", () => orderBoard("wins"));
  $("by-rating").addEventListener("click", () => orderBoard("rating"));
  $("rematch").addEventListener("click", rematch);
  $("rules").addEventListener("change", renderRulesPreview);
  $("confirm").addEventListener("click", confirmPick);
  $("new-opponent").addEventListener("click", newOpponent);
  document.addEventListener("keydown", onKey);
  $("play-computer").addEventListener("click", () => play(COMPUTER));
  $("join-queue").addEventListener("click", () => play("*"));
  $("resign").addEventListener("click", resign);
  $("reconnect-now").addEventListener("click", reconnectNow);
  window.addEventListener("hashchange", route);
  renderIdentity();
  renderLobby();
  route();
  renderBanner();
  setInterval(tick, 250);
  setHandlers({
    up() {
      renderBanner();
      renderGame();
      onConnected();
    },
    down() {
      renderBanner();
      renderGame();
    },
    event: onEvent,
    snapshot: applySnapshot,
  });
  connect();
}

init();
