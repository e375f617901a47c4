// One player on several devices (docs/protocol.md, Players and tokens): "Use on another device"
// asks the hub for a token of its own for the other device (POST /api/tokens) and shows it to
// copy; "Already playing on another device?" takes such a token here; "Forget me" revokes this
// browser's token (DELETE /api/tokens) before it forgets it, and the other devices keep theirs.

import { $ } from "./dom.js";
import { conn } from "./connection.js";
import { authenticate, forgetToken, showIdentityError } from "./identity.js";
import { sendAsPlayer } from "./rest.js";
import { NAME_KEY, TOKEN_KEY, state } from "./state.js";

function status(text) {
  $("device-status").textContent = text;
}

export async function useElsewhere() {
  $("device-token").value = "";
  status("Asking the hub for a token…");
  $("device-dialog").showModal();
  let res, body;
  try {
    ({ res, body } = await sendAsPlayer("POST", "/api/tokens", state.token));
  } catch {
    status("Cannot reach the hub; try again in a moment.");
    return;
  }
  if (!res.ok) {
    status(body.error?.message ?? `The hub refused (HTTP ${res.status}).`);
    return;
  }
  $("device-token").value = body.token;
  $("device-token").select();
  status("");
}

export async function copyToken() {
  const input = $("device-token");
  if (!input.value) return;
  input.select();
  try {
    await navigator.clipboard.writeText(input.value);
    status("Copied.");
  } catch {
    status("Select the token and copy it by hand.");
  }
}

// A token given by another device: the hub's `auth` says whose it is.
export async function useToken(token) {
  showIdentityError("");
  state.token = token;
  localStorage.setItem(TOKEN_KEY, token);
  localStorage.removeItem(NAME_KEY);
  if (conn.ready) await authenticate("That token is not one this hub knows; check it and try again.");
}

export async function forgetMe() {
  if (state.token) {
    // Best effort: if the hub cannot be reached, the token is still forgotten here.
    await sendAsPlayer("DELETE", "/api/tokens", state.token).catch(() => {});
  }
  forgetToken();
}
