// Identity: a name registered over REST, its token kept in localStorage and sent in `auth`;
// after a reload, what arrived on our player topic meanwhile is recovered.

import { $ } from "./dom.js";
import { conn, request, subscribe, track } from "./connection.js";
import { renderGame } from "./gameview.js";
import { renderLobby } from "./lobby.js";
import { postJson } from "./rest.js";
import { NAME_KEY, SEEN_KEY, TOKEN_KEY, state } from "./state.js";

export async function register(name) {
  showIdentityError("");
  let res, body;
  try {
    ({ res, body } = await postJson("/api/players", { name }));
  } catch {
    showIdentityError("Cannot reach the hub; try again in a moment.");
    return;
  }
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

// `auth` with our token; `unknown` is what to say when the hub does not know it.
export async function authenticate(
  unknown = "This hub does not know the name saved in this browser any more; pick a name.",
) {
  let data;
  try {
    data = await request("auth", { token: state.token });
  } catch (err) {
    if (err.code === "unauthorized") {
      forgetToken();
      showIdentityError(unknown);
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

export function rememberSeen(t) {
  sessionStorage.setItem(
    SEEN_KEY,
    JSON.stringify({ player: state.me, epoch: t.epoch, last: t.last }),
  );
}

export function forgetToken() {
  state.token = null;
  state.me = null;
  localStorage.removeItem(TOKEN_KEY);
  localStorage.removeItem(NAME_KEY);
  sessionStorage.removeItem(SEEN_KEY);
  renderIdentity();
}

export function showIdentityError(text) {
  $("identity-error").textContent = text;
  $("identity-error").hidden = !text;
}

export function renderIdentity() {
  const known = Boolean(state.me || state.token);
  $("name-form").hidden = known;
  $("token-entry").hidden = known;
  $("whoami").hidden = !known;
  const name = state.me ?? localStorage.getItem(NAME_KEY) ?? "";
  $("whoami-name").textContent = name;
  $("my-page").href = `#/player/${encodeURIComponent(name)}`;
  $("use-elsewhere").disabled = !state.me;
}
