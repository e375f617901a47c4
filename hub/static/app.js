// The rps-hub lobby page: one module, no framework, no build step.
// It speaks the WebSocket protocol of SPEC §3 on /ws and reads the REST routes of SPEC §4.
// State lives in `state` and `conn`; every change goes through an apply*/on* function and then a
// render* function that redraws the part of the page it owns from that state.

const TOKEN_KEY = "rps-hub.token";
const NAME_KEY = "rps-hub.name";
const SEEN_KEY = "rps-hub.seen"; // sessionStorage: how far this tab read its player topic
const COMPUTER = "computer";
const BEST_OF = [1, 3, 5, 7, 9, 11, 13, 15];

const $ = (id) => document.getElementById(id);

const state = {
  token: localStorage.getItem(TOKEN_KEY),
  me: null, // the registered name, once the hub accepted our token
  rules: null, // GET /api/rules
  players: new Map(), // lobby: name -> status
  live: new Map(), // lobby: game id -> summary
  challenges: new Map(), // challenges for me: id -> {id, from, best_of, rules}
  outgoing: null, // what I wait for: {kind: "queue"} or {kind: "challenge", id, to}
  note: "", // the last thing the play panel has to say
  gameId: null, // the game on screen, from the hash route
  watching: null, // the game whose topic we follow (the one on screen, once connected)
  game: null, // that game (SPEC "A game"), kept up to date by its topic's events
  commitments: new Map(), // round -> commitment published at round_open (viewed game)
  verdicts: new Map(), // round -> true (verified) | false (mismatch) | null (cannot check)
  moved: new Set(), // players who moved in the open round (viewed game)
  myMove: null, // {round, roll} that I sent in the viewed game
  gameError: "",
  lastRound: "", // what the live region said about the last round
  clockOffset: 0, // server clock minus ours, from event timestamps (ms)
};

const conn = {
  ws: null,
  ready: false, // welcome received
  lost: false, // a connection closed (or failed) and none has been welcomed since
  nextId: 1,
  pending: new Map(), // request id -> {resolve, reject}
  topics: new Map(), // topic -> {epoch, last, pending}; only topics whose events we apply
  attempt: 0,
  retryAt: 0,
  timer: null,
};

// ---------------------------------------------------------------------------------------------
// DOM helpers

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else el.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

// Replace el's children; the control that had the focus (by its data-key) keeps it.
function fill(el, children) {
  const active = document.activeElement;
  const key = el.contains(active) ? active.dataset.key : undefined;
  el.replaceChildren(...children.filter((c) => c));
  if (key) el.querySelector(`[data-key="${CSS.escape(key)}"]`)?.focus();
}

function byName(a, b) {
  return a.localeCompare(b, undefined, { sensitivity: "base" });
}

function scoreText(game) {
  const [a, b] = game.players;
  return `${game.score[a] ?? 0}–${game.score[b] ?? 0}`;
}

function clockTime(iso) {
  if (!iso) return "";
  return new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

// ---------------------------------------------------------------------------------------------
// The WebSocket connection: requests with replies, events with seq, reconnect with backoff

function wsUrl() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/ws`;
}

function connect() {
  clearTimeout(conn.timer);
  conn.timer = null;
  const ws = new WebSocket(wsUrl());
  conn.ws = ws;
  ws.addEventListener("message", (e) => {
    if (conn.ws !== ws) return;
    let msg;
    try {
      msg = JSON.parse(e.data);
    } catch {
      return;
    }
    onFrame(msg);
  });
  ws.addEventListener("close", () => onClose(ws));
}

function onClose(ws) {
  if (conn.ws !== ws) return;
  conn.ws = null;
  conn.ready = false;
  conn.lost = true;
  for (const waiter of conn.pending.values())
    waiter.reject(hubError("unavailable", "disconnected"));
  conn.pending.clear();
  for (const t of conn.topics.values()) t.pending = false;
  const delay = Math.min(10_000, 500 * 2 ** conn.attempt) * (0.75 + Math.random() * 0.5);
  conn.attempt += 1;
  conn.retryAt = Date.now() + delay;
  conn.timer = setTimeout(connect, delay);
  renderBanner();
  renderGame();
}

function reconnectNow() {
  if (conn.ws) return;
  conn.attempt = 0;
  connect();
}

function hubError(code, message) {
  const err = new Error(message);
  err.code = code;
  return err;
}

function request(op, fields = {}) {
  if (!conn.ready) return Promise.reject(hubError("unavailable", "not connected to the hub"));
  const id = conn.nextId++;
  conn.ws.send(JSON.stringify({ type: op, id, ...fields }));
  return new Promise((resolve, reject) => conn.pending.set(id, { resolve, reject }));
}

function onFrame(msg) {
  if (msg.type === "welcome") {
    conn.ready = true;
    conn.lost = false;
    conn.attempt = 0;
    renderBanner();
    renderGame();
    onConnected();
  } else if (msg.type === "reply") {
    const waiter = conn.pending.get(msg.id);
    if (!waiter) return;
    conn.pending.delete(msg.id);
    if (msg.ok) waiter.resolve(msg.data);
    else waiter.reject(hubError(msg.error.code, msg.error.message));
  } else if (msg.type === "event") {
    onEvent(msg);
  }
}

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

function onEvent(msg) {
  const t = conn.topics.get(msg.topic);
  if (!t) return; // a topic we do not show (e.g. our own game while we look at the lobby)
  if (t.last !== null) {
    if (msg.seq <= t.last) return; // seen already (a recovery repeats what we had)
    if (msg.seq > t.last + 1) {
      // A gap: ask for what we missed; this event comes again after the reply.
      if (!t.pending) subscribe(msg.topic).catch(() => {});
      return;
    }
  }
  t.last = msg.seq;
  if (typeof msg.ts === "number") state.clockOffset = msg.ts - Date.now();
  if (msg.topic === `player:${state.me}`) rememberSeen(t);
  if (msg.topic === "lobby") applyLobbyEvent(msg.event, msg.data);
  else if (msg.topic.startsWith("player:")) applyPlayerEvent(msg.event, msg.data);
  else if (msg.topic === `game:${state.gameId}`) applyGameEvent(msg.event, msg.data);
}

function track(topic) {
  if (!conn.topics.has(topic)) conn.topics.set(topic, { epoch: null, last: null, pending: false });
  return conn.topics.get(topic);
}

// Subscribe, or subscribe again with since+epoch to get the events we missed.
async function subscribe(topic) {
  const t = track(topic);
  const fields = { topic };
  if (t.last !== null && t.epoch !== null) Object.assign(fields, { since: t.last, epoch: t.epoch });
  t.pending = true;
  try {
    const data = await request("subscribe", fields);
    if (conn.topics.get(topic) !== t) return data; // we stopped caring meanwhile
    t.epoch = data.epoch;
    if (!data.recovered) {
      t.last = data.seq;
      applySnapshot(topic, data.snapshot);
    }
    return data;
  } finally {
    t.pending = false;
  }
}

function applySnapshot(topic, snapshot) {
  if (topic === "lobby") {
    state.players = new Map(snapshot.players.map((p) => [p.name, p.status]));
    state.live = new Map(snapshot.games.map((g) => [g.id, g]));
    renderLobby();
  } else if (topic === `game:${state.gameId}`) {
    setGame(snapshot);
  }
}

// ---------------------------------------------------------------------------------------------
// Identity: a name registered over REST, its token kept in localStorage, sent in `auth`

async function register(name) {
  showIdentityError("");
  let res;
  try {
    res = await fetch("/api/players", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ name }),
    });
  } catch {
    showIdentityError("Cannot reach the hub; try again in a moment.");
    return;
  }
  const body = await res.json().catch(() => ({}));
  if (res.status === 409) {
    showIdentityError(`The name “${name}” is already taken. Please pick another name.`);
    return;
  }
  if (!res.ok) {
    showIdentityError(body.error?.message ?? `The hub refused the name (HTTP ${res.status}).`);
    return;
  }
  state.token = body.token;
  localStorage.setItem(TOKEN_KEY, body.token);
  localStorage.setItem(NAME_KEY, body.name);
  if (conn.ready) await authenticate();
}

async function authenticate() {
  let data;
  try {
    data = await request("auth", { token: state.token });
  } catch (err) {
    if (err.code === "unauthorized") {
      forgetToken();
      showIdentityError(
        "This hub does not know the name saved in this browser any more; pick a name.",
      );
    }
    return;
  }
  state.me = data.player;
  localStorage.setItem(NAME_KEY, data.player);
  const mine = `player:${data.player}`;
  const seen = JSON.parse(sessionStorage.getItem(SEEN_KEY) ?? "null");
  if (!conn.topics.has(mine) && seen?.player === data.player) {
    // A reload: recover what arrived for us while the page was away.
    Object.assign(track(mine), { epoch: seen.epoch, last: seen.last });
  }
  for (const sub of data.subscribed ?? []) {
    if (sub.topic !== mine) continue;
    const t = track(mine);
    if (t.last !== null && t.epoch === sub.epoch && sub.seq > t.last) {
      subscribe(mine).catch(() => {}); // recover challenges sent while we were away
    } else if (t.last === null || t.epoch !== sub.epoch) {
      Object.assign(t, { epoch: sub.epoch, last: sub.seq });
    }
  }
  rememberSeen(track(mine));
  renderIdentity();
  renderLobby();
  renderGame();
}

function rememberSeen(t) {
  sessionStorage.setItem(
    SEEN_KEY,
    JSON.stringify({ player: state.me, epoch: t.epoch, last: t.last }),
  );
}

function forgetToken() {
  state.token = null;
  state.me = null;
  localStorage.removeItem(TOKEN_KEY);
  localStorage.removeItem(NAME_KEY);
  sessionStorage.removeItem(SEEN_KEY);
  renderIdentity();
}

function showIdentityError(text) {
  $("identity-error").textContent = text;
  $("identity-error").hidden = !text;
}

// ---------------------------------------------------------------------------------------------
// The lobby: players, live games, leaderboard, recent games

function applyLobbyEvent(name, data) {
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
    default:
      return;
  }
  renderLobby();
}

let boardsLoading = null;

function refreshBoards() {
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

async function getJson(url) {
  const res = await fetch(url, { headers: { Accept: "application/json" } });
  if (!res.ok) throw hubError("http", `${url}: HTTP ${res.status}`);
  return res.json();
}

async function loadLeaderboard() {
  const { leaders } = await getJson("/api/leaderboard?limit=10");
  const rows = leaders.map((p, i) =>
    h("tr", {}, h("td", {}, i + 1), h("td", {}, p.name), h("td", {}, p.wins), h("td", {}, p.games)),
  );
  fill($("leaderboard").tBodies[0], rows);
  $("leaderboard").hidden = rows.length === 0;
  $("leaders-empty").hidden = rows.length > 0;
}

async function loadRecent() {
  const { games } = await getJson("/api/games?status=finished&limit=10");
  fill(
    $("recent-games"),
    games.map((g) => h("li", {}, gameLink(g, `${outcomeText(g)} · ${clockTime(g.finished)}`))),
  );
  $("recent-empty").hidden = games.length > 0;
}

async function loadRules() {
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

function gameLink(game, detail) {
  const [a, b] = game.players;
  const label = `${a} ${game.score[a] ?? 0}, ${b} ${game.score[b] ?? 0}`;
  return h(
    "a",
    {
      href: `#/game/${encodeURIComponent(game.id)}`,
      class: "game-link",
      "data-key": `game:${game.id}`,
      "aria-label": `Open game ${a} versus ${b}, score ${label}`,
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

function outcomeText(game) {
  switch (game.reason) {
    case "won":
      return `${game.winner} won`;
    case "resigned":
      return `${game.winner} won (resignation)`;
    case "timeout":
      return `${game.winner} won on time`;
    case "drawn":
      return "drawn";
    case "abandoned":
      return "abandoned";
    default:
      return game.status;
  }
}

function renderLobby() {
  const names = [...state.players.keys()].sort(byName);
  fill(
    $("players"),
    names.map((name) => {
      const status = state.players.get(name);
      const badge = h("span", { class: `status status-${status}` }, status);
      const canChallenge = state.me && name !== state.me;
      const label = h("span", { class: "name" }, name, name === state.me ? " (you)" : "");
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
                "aria-label": `Challenge ${name} (${status})`,
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
        gameLink(g, `round ${g.round} · ${g.rules} · best of ${g.best_of}`),
      ),
    ),
  );
  $("games-count").textContent = games.length ? `(${games.length})` : "";
  $("games-empty").hidden = games.length > 0;
  renderPlayPanel();
}

// ---------------------------------------------------------------------------------------------
// Playing: the computer, a challenge, the queue; challenges for me

function playOptions() {
  return { best_of: Number($("best-of").value), rules: $("rules").value || undefined };
}

async function play(opponent) {
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

function challenge(name) {
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

function applyPlayerEvent(name, data) {
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

function renderPlayPanel() {
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

// ---------------------------------------------------------------------------------------------
// The game view: #/game/<id>

function openGame(id, game = null) {
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

function route() {
  const match = location.hash.match(/^#\/game\/(.+)$/);
  const id = match ? decodeURIComponent(match[1]) : null;
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
  $("lobby-view").hidden = id !== null;
  $("game-view").hidden = id === null;
  document.title = id ? "rps-hub — game" : "rps-hub — live lobby";
  renderGame();
  renderPlayPanel();
}

function resetGame() {
  state.game = null;
  state.commitments = new Map();
  state.verdicts = new Map();
  state.moved = new Set();
  state.myMove = null;
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

async function watchGame(id) {
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

function setGame(game) {
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

function applyGameEvent(name, data) {
  const game = state.game;
  if (!game) return;
  switch (name) {
    case "round_open":
      game.round = data.round;
      game.deadline = data.deadline;
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
      game.deadline = null;
      game.commitment = null;
      $("round-result").textContent = `${state.lastRound} Game over.`.trim();
      break;
    default:
      return;
  }
  renderGame();
}

function announceRound(r) {
  const [a, b] = state.game.players;
  const roll = (p) => r.moves[p] ?? "no move";
  const who = r.winner
    ? `${r.winner === state.me ? "you win" : `${r.winner} wins`} the round`
    : "a tie";
  state.lastRound = `Round ${r.round}: ${a} ${roll(a)}, ${b} ${roll(b)} — ${who}. Score ${scoreText(state.game)}.`;
  $("round-result").textContent = state.lastRound;
}

// The computer committed to sha256("<roll>:<nonce>") before we moved; check it ourselves.
async function verifyRound(r) {
  if (r.nonce === undefined || r.nonce === null || state.verdicts.has(r.round)) return;
  const roll = r.moves[COMPUTER];
  if (!r.commitment || !roll || !crypto.subtle) {
    state.verdicts.set(r.round, null);
  } else {
    const bytes = new TextEncoder().encode(`${roll}:${r.nonce}`);
    const digest = await crypto.subtle.digest("SHA-256", bytes);
    const hex = [...new Uint8Array(digest)].map((x) => x.toString(16).padStart(2, "0")).join("");
    state.verdicts.set(r.round, hex === r.commitment.toLowerCase());
  }
  renderRounds();
}

async function sendMove(roll) {
  const game = state.game;
  const round = game.round;
  if (state.myMove?.round === round || !conn.ready) return;
  state.myMove = { round, roll };
  renderGame();
  try {
    await request("move", { game: game.id, roll, round });
  } catch (err) {
    if (state.myMove?.round === round) state.myMove = null;
    $("round-result").textContent = `Your move was not taken: ${err.message}`;
    renderGame();
  }
}

let resignArmed = null; // the timer while "Resign" waits for its confirming second click

async function resign() {
  if (!resignArmed) {
    $("resign").textContent = "Click again to resign";
    resignArmed = setTimeout(disarmResign, 4000);
    return;
  }
  disarmResign();
  try {
    await request("resign", { game: state.game.id });
  } catch (err) {
    $("round-result").textContent = `Could not resign: ${err.message}`;
  }
}

function disarmResign() {
  clearTimeout(resignArmed);
  resignArmed = null;
  $("resign").textContent = "Resign";
}

function amSeated(game) {
  return Boolean(state.me && game?.players.includes(state.me));
}

function renderGame() {
  if ($("game-view").hidden) return;
  const game = state.game;
  if (!game || game.id !== state.gameId) {
    delete $("game-view").dataset.status;
    $("game-title").textContent = state.gameError ? "Game not found" : "Loading the game…";
    $("game-state").textContent = state.gameError;
    for (const id of ["game-meta", "scoreboard"]) $(id).replaceChildren();
    for (const id of ["move-panel", "commit-line", "rounds-section"]) $(id).hidden = true;
    return;
  }
  const [a, b] = game.players;
  $("game-view").dataset.status = game.status;
  $("rounds-section").hidden = false;
  $("game-title").textContent = `${a} vs ${b}`;
  $("game-meta").textContent =
    `${game.rules} · best of ${game.best_of} (first to ${(game.best_of + 1) / 2})`;
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
  renderMovePanel(game);
  renderRounds();
}

function seatCard(game, player) {
  const classes = ["seat"];
  if (game.winner === player) classes.push("winner");
  if (player === state.me) classes.push("me");
  return h(
    "div",
    { class: classes.join(" "), "data-seat": player },
    h("span", { class: "seat-name" }, player, player === state.me ? " (you)" : ""),
    h(
      "span",
      { class: "seat-score", "aria-label": `${player} has ${game.score[player] ?? 0}` },
      game.score[player] ?? 0,
    ),
    state.moved.has(player) && game.status === "playing"
      ? h("span", { class: "moved" }, "has moved")
      : null,
  );
}

function renderGameState() {
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
}

function renderMovePanel(game) {
  const seated = amSeated(game) && game.status === "playing";
  $("move-panel").hidden = !seated;
  if (!seated) return;
  const moved = state.myMove?.round === game.round;
  const rolls = state.rules?.rules[game.rules]?.rolls ?? [];
  const beats = state.rules?.rules[game.rules]?.beats ?? {};
  const opponent = game.players.find((p) => p !== state.me);
  $("move-title").textContent = moved
    ? `You played ${state.myMove.roll} — waiting for ${opponent}…`
    : `Your move for round ${game.round}`;
  fill(
    $("rolls"),
    rolls.map((roll) =>
      h(
        "button",
        {
          type: "button",
          class: `roll${moved && state.myMove.roll === roll ? " chosen" : ""}`,
          // aria-disabled rather than disabled: the focus stays on the button for the next round.
          "aria-disabled": moved || !conn.ready ? "true" : null,
          "data-roll": roll,
          "data-key": `roll:${roll}`,
          "aria-label": `Play ${roll}`,
          title: beats[roll] ? `${roll} beats ${beats[roll].join(", ")}` : roll,
          onclick: () => sendMove(roll),
        },
        roll,
      ),
    ),
  );
  $("resign").disabled = !conn.ready;
}

function renderRounds() {
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

// ---------------------------------------------------------------------------------------------
// Banner, identity, the clock

function renderBanner() {
  const down = !conn.ready && conn.lost; // the first connect of a page load shows no banner
  $("banner").hidden = !down;
  if (!down) return;
  const wait = Math.max(0, Math.ceil((conn.retryAt - Date.now()) / 1000));
  $("banner-text").textContent = conn.ws
    ? "Connecting to the hub…"
    : `Disconnected from the hub — reconnecting in ${wait} s.`;
}

function renderIdentity() {
  const known = Boolean(state.me || state.token);
  $("name-form").hidden = known;
  $("whoami").hidden = !known;
  $("whoami-name").textContent = state.me ?? localStorage.getItem(NAME_KEY) ?? "";
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
    forgetToken();
    location.reload();
  });
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
  connect();
}

init();
