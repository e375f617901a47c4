// The WebSocket connection (docs/protocol.md, WebSocket): requests with replies, events in seq order per topic,
// reconnect with backoff, and recovery of missed events by subscribing again with since+epoch.

export const conn = {
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

// What the page does when the connection comes up or goes down, and with each topic's events and
// snapshots; app.js sets these, so this module knows nothing of the views.
const on = { up() {}, down() {}, event() {}, snapshot() {} };

export function setHandlers(handlers) {
  Object.assign(on, handlers);
}

function wsUrl() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/ws`;
}

export function connect() {
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
  on.down();
}

export function reconnectNow() {
  if (conn.ws) return;
  conn.attempt = 0;
  connect();
}

export function hubError(code, message) {
  const err = new Error(message);
  err.code = code;
  return err;
}

export function request(op, fields = {}) {
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
    on.up();
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
  on.event(msg, t);
}

export function track(topic) {
  if (!conn.topics.has(topic)) conn.topics.set(topic, { epoch: null, last: null, pending: false });
  return conn.topics.get(topic);
}

// Subscribe, or subscribe again with since+epoch to get the events we missed.
export async function subscribe(topic) {
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
      on.snapshot(topic, data.snapshot);
    }
    return data;
  } finally {
    t.pending = false;
  }
}
