#!/usr/bin/env node
// Functional check of the benchmark peers started by
// scripts/lib/bench_peers.sh (psig_peer_nchan_start / psig_peer_pushpin_start):
// WebSocket subscribers connect, messages are published over HTTP, and
// every subscriber must receive every message, in order, byte for byte, as
// the frame type our C++ load generator expects. Peers whose variables are
// not set are skipped (at least one must be set).
//
//   NODE_PATH=tests/js/node_modules node bench/peers/check_peers.js
//       the check; environment (from DIR/env of each peer):
//       PSIG_NCHAN_PUB_URL, PSIG_NCHAN_SUB_URL,
//       PSIG_PUSHPIN_PUB_URL, PSIG_PUSHPIN_SUB_URL, PSIG_PUSHPIN_CHANNEL
//   ... check_peers.js ramp PEER COUNT RATE
//       opens COUNT subscribers at RATE per second (0 = all at once), then
//       publishes probes until every subscriber got one: how fast a peer
//       accepts connections without errors and how late it subscribes them.
//   ... check_peers.js burst PEER SUBS MESSAGES [PER_REQUEST]
//       SUBS subscribers, MESSAGES published back to back (Pushpin:
//       PER_REQUEST items per POST, default 100): nothing may be dropped.
//
// Exits 0 when everything held, 1 otherwise; prints one line per finding.
'use strict';

const WebSocket = require('ws');

const SUBSCRIBERS = 3;
const MESSAGES = 5;
const TIMEOUT_MS = 5000;

let failures = 0;
function ok(msg) { console.log(`ok   ${msg}`); }
function fail(msg) { failures++; console.log(`FAIL ${msg}`); }
function info(msg) { console.log(`     ${msg}`); }
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// The message body the load generator sends: JSON text with the send time.
// e.g. {"t":1733070000000,"seq":3,"pad":"xxxx"}
function body(seq) {
  return JSON.stringify({ t: Date.now(), seq, pad: 'xxxx' });
}

// A subscriber that records every frame: bytes and whether binary.
// perMessageDeflate off: the C++ client offers no extension either.
function subscribe(url) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    const sub = { ws, frames: [], upgrade: null, closed: null };
    const timer = setTimeout(() => reject(new Error(`connect timeout ${url}`)), TIMEOUT_MS);
    ws.on('upgrade', (res) => { sub.upgrade = { status: res.statusCode, headers: res.headers }; });
    ws.on('message', (data, isBinary) => sub.frames.push({ data: Buffer.from(data), isBinary }));
    ws.on('close', (code) => { sub.closed = code; });
    ws.on('open', () => { clearTimeout(timer); resolve(sub); });
    ws.on('error', (e) => { clearTimeout(timer); reject(e); });
  });
}

async function post(url, payload, headers) {
  const res = await fetch(url, { method: 'POST', body: payload, headers });
  const text = await res.text();
  return { status: res.status, text, headers: res.headers };
}

// Waits until every subscriber holds at least COUNT frames (or timeout).
async function waitFrames(subs, count) {
  const end = Date.now() + TIMEOUT_MS;
  while (Date.now() < end && subs.some((s) => s.frames.length < count)) await sleep(10);
  await sleep(150); // let any unexpected extra frame arrive too
}

// Every subscriber received exactly EXPECTED (array of Buffers), in order,
// as text (or binary when BINARY) frames.
function verify(label, subs, expected, binary = false) {
  let good = true;
  subs.forEach((s, i) => {
    const got = s.frames;
    if (got.length !== expected.length) {
      fail(`${label}: subscriber ${i} got ${got.length} frames, expected ${expected.length}`);
      got.forEach((f) => info(`  got ${f.isBinary ? 'binary' : 'text'} ${JSON.stringify(f.data.toString())}`));
      good = false;
      return;
    }
    expected.forEach((e, n) => {
      if (!got[n].data.equals(e)) {
        fail(`${label}: subscriber ${i} frame ${n} is ${JSON.stringify(got[n].data.toString())}, expected ${JSON.stringify(e.toString())}`);
        good = false;
      } else if (got[n].isBinary !== binary) {
        fail(`${label}: subscriber ${i} frame ${n} is a ${got[n].isBinary ? 'binary' : 'text'} frame`);
        good = false;
      }
    });
  });
  if (good) {
    ok(`${label}: ${subs.length} subscribers each got all ${expected.length} in order, ` +
      `exact bytes, ${binary ? 'binary' : 'text'} frames, nothing else`);
  }
  subs.forEach((s) => { s.frames = []; });
  return good;
}

function describeUpgrade(sub) {
  const h = sub.upgrade ? sub.upgrade.headers : {};
  info(`handshake: ${sub.upgrade ? sub.upgrade.status : '?'}, ` +
    `subprotocol=${h['sec-websocket-protocol'] || 'none'}, ` +
    `extensions=${h['sec-websocket-extensions'] || 'none'}`);
}

// --- Nchan -------------------------------------------------------------------

async function checkNchan(pubUrl, subUrl) {
  console.log(`Nchan: publish POST ${pubUrl}, subscribe ${subUrl}`);
  const subs = await Promise.all(Array.from({ length: SUBSCRIBERS }, () => subscribe(subUrl)));
  describeUpgrade(subs[0]);
  // Published right after the handshakes: Nchan subscribes before its 101.
  const expected = [];
  for (let seq = 1; seq <= MESSAGES; seq++) {
    const b = Buffer.from(body(seq));
    expected.push(b);
    const r = await post(pubUrl, b, { 'Content-Type': 'application/json' });
    if (r.status !== 201 && r.status !== 202) fail(`Nchan publish answered ${r.status}: ${r.text}`);
    if (seq === 1) info(`publish answer: ${r.status} ${r.headers.get('content-type')} ${JSON.stringify(r.text)}`);
  }
  await waitFrames(subs, MESSAGES);
  verify('Nchan, 5 POSTs (Content-Type application/json)', subs, expected);

  // The frame type follows the message's Content-Type.
  for (const ct of [null, 'text/plain', 'application/octet-stream']) {
    const b = Buffer.from(body(99));
    await post(pubUrl, b, ct ? { 'Content-Type': ct } : {});
    await waitFrames(subs, 1);
    verify(`Nchan, 1 POST with Content-Type ${ct || '(none)'}`, subs, [b],
      ct === 'application/octet-stream');
  }
  subs.forEach((s) => s.ws.close());
}

// --- Pushpin -----------------------------------------------------------------

function ppItem(channel, content) {
  return { channel, formats: { 'ws-message': { content } } };
}

async function ppPublish(pubUrl, items) {
  const r = await post(pubUrl, JSON.stringify({ items }), { 'Content-Type': 'application/json' });
  if (r.status !== 200) fail(`Pushpin publish answered ${r.status}: ${r.text}`);
  return r;
}

async function checkPushpin(pubUrl, subUrl, channel) {
  console.log(`Pushpin: publish POST ${pubUrl} (channel "${channel}"), subscribe ${subUrl}`);
  const subs = await Promise.all(Array.from({ length: SUBSCRIBERS }, () => subscribe(subUrl)));
  describeUpgrade(subs[0]);
  // The subscription is made after the 101 (proxy -> handler): settle first.
  await sleep(300);
  let expected = [];
  for (let seq = 1; seq <= MESSAGES; seq++) {
    const text = body(seq);
    expected.push(Buffer.from(text));
    const r = await ppPublish(pubUrl, [ppItem(channel, text)]);
    if (seq === 1) {
      info(`publish answer: ${r.status} ${r.headers.get('content-type')} ${JSON.stringify(r.text)}, ` +
        `connection: ${r.headers.get('connection')}`);
    }
  }
  await waitFrames(subs, MESSAGES);
  verify('Pushpin, 5 POSTs of 1 item', subs, expected);

  expected = [];
  const items = [];
  for (let seq = 1; seq <= MESSAGES; seq++) {
    const text = body(seq);
    expected.push(Buffer.from(text));
    items.push(ppItem(channel, text));
  }
  await ppPublish(pubUrl, items);
  await waitFrames(subs, MESSAGES);
  verify('Pushpin, 1 POST of 5 items', subs, expected);

  // content-bin (base64) gives a binary frame.
  const b = Buffer.from(body(99));
  await ppPublish(pubUrl, [{ channel, formats: { 'ws-message': { 'content-bin': b.toString('base64') } } }]);
  await waitFrames(subs, 1);
  verify('Pushpin, 1 item with content-bin', subs, [b], true);
  subs.forEach((s) => s.ws.close());
}

// --- ramp --------------------------------------------------------------------

async function ramp(peer, count, rate) {
  const P = peer.toUpperCase();
  const subUrl = process.env[`PSIG_${P}_SUB_URL`];
  const pubUrl = process.env[`PSIG_${P}_PUB_URL`];
  if (!subUrl || !pubUrl) throw new Error(`PSIG_${P}_SUB_URL / PSIG_${P}_PUB_URL not set`);
  const channel = process.env.PSIG_PUSHPIN_CHANNEL || 'test';
  const subs = [];
  let opened = 0; let errors = 0; let closedEarly = 0;
  const errorKinds = {};
  const t0 = Date.now();
  const openTimes = [];
  const pending = [];
  for (let i = 0; i < count; i++) {
    if (rate > 0) {
      const due = t0 + (i * 1000) / rate;
      const wait = due - Date.now();
      if (wait > 0) await sleep(wait);
    }
    const started = Date.now();
    const s = { frames: 0, open: false };
    const ws = new WebSocket(subUrl, { perMessageDeflate: false, handshakeTimeout: 30000 });
    s.ws = ws;
    subs.push(s);
    pending.push(new Promise((resolve) => {
      ws.on('open', () => { s.open = true; opened++; openTimes.push(Date.now() - started); resolve(); });
      ws.on('message', () => { s.frames++; });
      ws.on('error', (e) => {
        errors++;
        const k = e.code || e.message.replace(/[0-9]+/g, 'N');
        errorKinds[k] = (errorKinds[k] || 0) + 1;
        resolve();
      });
      ws.on('close', () => { if (s.open) closedEarly++; resolve(); });
    }));
  }
  await Promise.all(pending);
  const tOpen = Date.now() - t0;
  // Pushpin subscribes a connection only after its 101 (proxy -> handler),
  // so publish a probe every 500 ms until every open subscriber has one
  // (at most 15 s): reports how long the last subscription took.
  const live = () => subs.filter((s) => s.open && s.ws.readyState === WebSocket.OPEN);
  const tProbe = Date.now();
  let allAfter = null;
  let probes = 0;
  while (Date.now() - tProbe < 15000) {
    const text = body(++probes);
    if (peer === 'pushpin') {
      await post(pubUrl, JSON.stringify({ items: [ppItem(channel, text)] }), { 'Content-Type': 'application/json' });
    } else {
      await post(pubUrl, text, { 'Content-Type': 'application/json' });
    }
    await sleep(500);
    if (live().every((s) => s.frames >= 1)) { allAfter = Date.now() - tProbe; break; }
  }
  const got = subs.filter((s) => s.frames >= 1).length;
  const stillOpen = live().length;
  openTimes.sort((a, b) => a - b);
  const pct = (p) => (openTimes.length ? openTimes[Math.min(openTimes.length - 1, Math.floor(p * openTimes.length))] : NaN);
  console.log(JSON.stringify({
    peer, count, rate: rate || 'all at once', open_ms: tOpen, opened, errors, error_kinds: errorKinds,
    closed_after_open: closedEarly, still_open: stillOpen, subscribed: got,
    all_subscribed_ms: allAfter, probes,
    handshake_ms: { p50: pct(0.5), p99: pct(0.99), max: openTimes[openTimes.length - 1] },
  }));
  // Close handshakes (terminate after 10 s): a peer that saw its
  // connections vanish without one may not be fit for the next run.
  await Promise.all(live().map((s) => new Promise((resolve) => {
    const t = setTimeout(() => { s.ws.terminate(); resolve(); }, 10000);
    s.ws.once('close', () => { clearTimeout(t); resolve(); });
    s.ws.close(1000);
  })));
  subs.forEach((s) => { try { s.ws.terminate(); } catch (_) { /* gone */ } });
  if (errors > 0 || got !== count || closedEarly > 0) failures++;
}

// --- burst -------------------------------------------------------------------

// SUBS subscribers, then MESSAGES messages published as fast as one Node
// publisher can (Pushpin: PER_REQUEST items per POST; Nchan: one POST per
// message on a keep-alive connection). Every subscriber must get every
// message in order: shows that the rate-limit settings do not drop.
async function burst(peer, nsubs, messages, perRequest) {
  const P = peer.toUpperCase();
  const subUrl = process.env[`PSIG_${P}_SUB_URL`];
  const pubUrl = process.env[`PSIG_${P}_PUB_URL`];
  if (!subUrl || !pubUrl) throw new Error(`PSIG_${P}_SUB_URL / PSIG_${P}_PUB_URL not set`);
  const channel = process.env.PSIG_PUSHPIN_CHANNEL || 'test';
  const subs = [];
  for (let i = 0; i < nsubs; i++) {
    subs.push(await subscribe(subUrl));
    subs[i].frames = null;
    subs[i].next = 1;
    subs[i].bad = 0;
    subs[i].ws.removeAllListeners('message');
    const s = subs[i];
    s.ws.on('message', (data) => {
      const m = JSON.parse(data.toString());
      if (m.seq === s.next) s.next++; else s.bad++;
    });
  }
  await sleep(1000);
  const t0 = Date.now();
  if (peer === 'pushpin') {
    for (let seq = 1; seq <= messages;) {
      const items = [];
      for (let k = 0; k < perRequest && seq <= messages; k++) items.push(ppItem(channel, body(seq++)));
      await ppPublish(pubUrl, items);
    }
  } else {
    for (let seq = 1; seq <= messages; seq++) {
      const r = await post(pubUrl, body(seq), { 'Content-Type': 'application/json' });
      if (r.status !== 201 && r.status !== 202) fail(`Nchan publish answered ${r.status}`);
    }
  }
  const tPub = Date.now() - t0;
  const end = Date.now() + 30000;
  while (Date.now() < end && subs.some((s) => s.next <= messages && s.bad === 0)) await sleep(20);
  const tAll = Date.now() - t0;
  const complete = subs.filter((s) => s.next === messages + 1 && s.bad === 0).length;
  const received = subs.reduce((a, s) => a + s.next - 1, 0);
  console.log(JSON.stringify({
    peer, subscribers: nsubs, messages, per_request: peer === 'pushpin' ? perRequest : 1,
    publish_ms: tPub, publish_msgs_per_s: Math.round((messages * 1000) / tPub),
    all_delivered_ms: tAll, deliveries_per_s: Math.round((received * 1000) / tAll),
    complete_subscribers: complete, out_of_order_or_gap: subs.reduce((a, s) => a + s.bad, 0),
  }));
  subs.forEach((s) => s.ws.close());
  if (complete !== nsubs) fail(`${peer} burst: ${nsubs - complete} subscribers missed messages`);
}

async function main() {
  const args = process.argv.slice(2);
  if (args[0] === 'ramp') {
    const [, peer, count, rate] = args;
    if (!['nchan', 'pushpin'].includes(peer)) throw new Error('usage: ramp nchan|pushpin COUNT RATE');
    await ramp(peer, Number(count), Number(rate || 0));
  } else if (args[0] === 'burst') {
    const [, peer, nsubs, messages, perRequest] = args;
    if (!['nchan', 'pushpin'].includes(peer)) throw new Error('usage: burst nchan|pushpin SUBS MESSAGES [PER_REQUEST]');
    await burst(peer, Number(nsubs), Number(messages), Number(perRequest || 100));
  } else {
    const e = process.env;
    let ran = 0;
    if (e.PSIG_NCHAN_PUB_URL && e.PSIG_NCHAN_SUB_URL) {
      await checkNchan(e.PSIG_NCHAN_PUB_URL, e.PSIG_NCHAN_SUB_URL);
      ran++;
    } else {
      console.log('skip Nchan: PSIG_NCHAN_PUB_URL / PSIG_NCHAN_SUB_URL not set');
    }
    if (e.PSIG_PUSHPIN_PUB_URL && e.PSIG_PUSHPIN_SUB_URL) {
      await checkPushpin(e.PSIG_PUSHPIN_PUB_URL, e.PSIG_PUSHPIN_SUB_URL, e.PSIG_PUSHPIN_CHANNEL || 'test');
      ran++;
    } else {
      console.log('skip Pushpin: PSIG_PUSHPIN_PUB_URL / PSIG_PUSHPIN_SUB_URL not set');
    }
    if (ran === 0) fail('no peer to check: source DIR/env of psig_peer_*_start first');
  }
  console.log(failures === 0 ? 'all checks passed' : `${failures} check(s) failed`);
  process.exit(failures === 0 ? 0 : 1);
}

main().catch((e) => { console.error(`FAIL ${e.stack || e}`); process.exit(1); });
