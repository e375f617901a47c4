// REST helpers for the hub's HTTP routes (docs/protocol.md, REST).

import { hubError } from "./connection.js";

// GET a route's JSON; any status but 2xx throws an error with code "http".
export async function getJson(url) {
  const res = await fetch(url, { headers: { Accept: "application/json" } });
  if (!res.ok) throw hubError("http", `${url}: HTTP ${res.status}`);
  return res.json();
}

// POST a JSON body; returns the response and its JSON body ({} when it has none). Throws only
// when the hub cannot be reached.
export async function postJson(url, data) {
  const res = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(data),
  });
  const body = await res.json().catch(() => ({}));
  return { res, body };
}

// A request as the player of `token` (Authorization: Bearer), without a body; returns the
// response and its JSON body ({} when it has none). Throws only when the hub cannot be reached.
export async function sendAsPlayer(method, url, token) {
  const res = await fetch(url, { method, headers: { Authorization: `Bearer ${token}` } });
  const body = await res.json().catch(() => ({}));
  return { res, body };
}
