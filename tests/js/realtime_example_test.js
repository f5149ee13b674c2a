// Runs docs/examples/realtime-client.js under Node (with the `ws` package as its WebSocket)
// against a live daemon: a push, a dropped connection, 10 events posted while it is down,
// reconnect + recovery delivering exactly those 10 in order, then a clean close.
// Started by tests/e2e/realtime_js_example_test.cpp; by hand:
//   PSIG_API=http://127.0.0.1:PORT PSIG_PROJECT=prj_… PSIG_KEY=psk_… node tests/js/realtime_example_test.js
// The project must have exactly one websocket consumer, subscribed to chat.>. Exit 0 = pass.
"use strict";

const path = require("path");
const WebSocket = require("ws");
const RealtimeClient = require(path.join(__dirname, "../../docs/examples/realtime-client.js"));

const TIMEOUT_MS = 30000;
const started = Date.now();
const log = (...args) => console.log(`[${((Date.now() - started) / 1000).toFixed(2)}s]`, ...args);

function fail(message) {
  console.error(`FAIL: ${message}`);
  process.exit(1);
}

// Everything must be over within 30 s, whatever hangs; the message says what was awaited.
// Not unref()'d: it also keeps Node alive while only a promise is pending.
let stage = "starting";
let lastRetry = null; // why the client last had to retry, if it did
let progress = () => ""; // what has arrived so far
const waitingFor = () =>
  stage + (lastRetry ? ` (the client's last retry was for: ${lastRetry})` : "") + progress();
setTimeout(() => fail(`timed out after ${TIMEOUT_MS / 1000} s while waiting for ${waitingFor()}`), TIMEOUT_MS);
// Only the end of main() may pass: an exit for any other reason is a failure.
let passed = false;
process.on("exit", (code) => {
  if (code === 0 && !passed) {
    console.error(`FAIL: exited early while waiting for ${waitingFor()}`);
    process.exitCode = 1;
  }
});

const api = process.env.PSIG_API;
const projectId = process.env.PSIG_PROJECT;
const key = process.env.PSIG_KEY;
if (!api || !projectId || !key) fail("set PSIG_API, PSIG_PROJECT and PSIG_KEY");
const apiUrl = new URL(api);
if (!/^(127\.\d+\.\d+\.\d+|localhost|\[::1\])$/.test(apiUrl.hostname)) {
  fail(`PSIG_API must be a loopback address, got ${api}`);
}
const wsUrl = `${apiUrl.protocol === "https:" ? "wss:" : "ws:"}//${apiUrl.host}/v1/ws`;

async function post(route, body, status) {
  const r = await fetch(`${api}/v1/projects/${projectId}${route}`, {
    method: "POST",
    headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const text = await r.text();
  if (r.status !== status) throw new Error(`POST ${route}: expected ${status}, got ${r.status} ${text}`);
  return JSON.parse(text);
}

const postEvent = async (n) =>
  (await post("/events", { type: "chat.message.created", data: { n } }, 202)).id;

// Resolves when `predicate()` holds; checked after every push (no polling, no sleeping).
const waiters = [];
function until(what, predicate) {
  stage = what;
  return new Promise((resolve) => {
    waiters.push({ predicate, resolve });
    check();
  });
}
function check() {
  for (let i = waiters.length - 1; i >= 0; i--) {
    if (waiters[i].predicate()) waiters.splice(i, 1)[0].resolve();
  }
}

async function main() {
  // The reconnect's token waits until the events of the outage are posted: so they are missed
  // for certain, and recovery (or a live push after it) must bring each exactly once.
  let tokens = 0;
  let dropped = false;
  let reconnecting;
  const reconnectStarted = new Promise((resolve) => (reconnecting = resolve));
  let releaseReconnect;
  const outagePosted = new Promise((resolve) => (releaseReconnect = resolve));
  const getToken = async () => {
    tokens += 1;
    if (dropped) {
      reconnecting();
      await outagePosted;
    }
    return (await post("/ws-tokens", { user: "js-user", patterns: ["chat.>"], ttl: 600 }, 201)).token;
  };

  const received = []; // {id, recovered, offset}
  progress = () => `; pushes so far: ${JSON.stringify(received)}`;
  const statuses = [];
  const gaps = [];
  const errors = [];
  const client = new RealtimeClient({
    url: wsUrl,
    getToken,
    WebSocket,
    minDelay: 100, // the test needs no half-second pause; the backoff path runs all the same
    onPush: ({ event, offset, recovered }) => {
      received.push({ id: event.id, recovered, offset });
      check();
    },
    onGap: (pattern) => gaps.push(pattern),
    onError: (err, pattern) => errors.push(`${pattern}: ${err.message}`),
    onStatus: (status, detail) => {
      statuses.push(status);
      if (status === "retrying") lastRetry = detail && detail.message;
      if (status === "stopped") errors.push(`stopped: ${detail && detail.message}`);
    },
  });

  stage = "connect";
  const hello = await client.connect();
  log(`connected as ${hello.user}, session ${hello.session}`);
  const sub = await client.subscribe("chat.message.*");
  if (!sub || typeof sub.epoch !== "string" || typeof sub.offset !== "number") {
    throw new Error(`subscribe reply without epoch/offset: ${JSON.stringify(sub)}`);
  }
  log(`subscribed at epoch ${sub.epoch}, offset ${sub.offset}`);

  const first = await postEvent(0);
  await until("the first push", () => received.some((r) => r.id === first));
  if (received.length !== 1) throw new Error(`expected one push, got ${JSON.stringify(received)}`);
  log(`push ${first} at offset ${received[0].offset}`);

  dropped = true;
  client.simulateDrop();
  stage = "the client to start reconnecting";
  await reconnectStarted; // the client noticed and is on its way back
  log("connection dropped; reconnect waits for the outage events");
  const before = received.length;
  if (before !== 1) throw new Error(`a push arrived on a dropped socket: ${JSON.stringify(received)}`);
  const missed = [];
  for (let n = 1; n <= 10; n++) missed.push(await postEvent(n));
  log(`posted ${missed.length} events while down`);
  releaseReconnect();

  await until("the 10 events of the outage", () => received.length - before >= missed.length);
  // One more live event: once it is in, anything sent twice before it would be in too.
  const marker = await postEvent(11);
  await until("the event after the outage", () => received.some((r) => r.id === marker));

  const after = received.slice(before).map((r) => r.id);
  const expected = [...missed, marker];
  if (JSON.stringify(after) !== JSON.stringify(expected)) {
    throw new Error(
      `after the drop expected ${JSON.stringify(expected)}\n  got ${JSON.stringify(received.slice(before))}`,
    );
  }
  const viaRecovery = received.slice(before).filter((r) => r.recovered).length;
  log(`the 10 after the reconnect: ${viaRecovery} recovered, ${10 - viaRecovery} live; in order, once each`);
  if (gaps.length) throw new Error(`onGap was called for ${gaps.join(", ")}: recovery should have worked`);
  if (errors.length) throw new Error(`client errors: ${errors.join("; ")}`);
  const connects = statuses.filter((s) => s === "connected").length;
  if (connects !== 2) throw new Error(`expected 2 connects, got ${connects}: ${statuses.join(" ")}`);

  stage = "close";
  await client.close();
  const tokensAtClose = tokens;
  if (client.socket !== null || client.running || client.connected) {
    throw new Error("the client is not idle after close()");
  }
  // Nothing may reconnect after a clean close: give a reconnect timer (100-200 ms) every chance.
  await new Promise((resolve) => setTimeout(resolve, 400));
  if (tokens !== tokensAtClose) throw new Error("close() was followed by a reconnect");
  log("closed cleanly; PASS");
}

main().then(
  () => {
    passed = true;
    process.exit(0);
  },
  (err) => fail(err && err.stack ? err.stack : String(err)),
);
