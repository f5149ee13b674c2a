// A small client for ProjectSignal's WebSocket gateway (docs/websocket.md, "A browser client").
// No dependencies and no build step: in a browser, <script src="realtime-client.js"> defines
// the global RealtimeClient; in Node, require() it and pass the `ws` package as `WebSocket`.
// tests/e2e/realtime_js_example_test.cpp runs this very file against a live daemon.
(function (root, factory) {
  if (typeof module === "object" && module.exports) module.exports = factory();
  else root.RealtimeClient = factory();
})(globalThis, function () {
  "use strict";

  // 4500 and up mean "retrying cannot help" (bad token, bad request, ...), and so does 1009
  // (a frame over 64 KiB would only be sent again). Every other close is worth another try.
  const isFinal = (code) => code >= 4500 || code === 1009;

  function closeError(code) {
    const err = new Error("connection closed (" + code + ")");
    err.closeCode = code;
    err.final = isFinal(code);
    return err;
  }

  class RealtimeClient {
    // options: url ("wss://…/v1/ws"), getToken (async () => a fresh client token from your own
    // backend), onPush({pattern, event, offset, recovered}), onGap(pattern), onStatus(status,
    // detail), onError(err, pattern), WebSocket (a class; defaults to the browser's), minDelay
    // and maxDelay (the reconnect backoff in ms).
    constructor(options) {
      this.url = options.url;
      this.getToken = options.getToken;
      this.WebSocket = options.WebSocket || globalThis.WebSocket;
      this.onPush = options.onPush || (() => {});
      this.onGap = options.onGap || (() => {});
      this.onStatus = options.onStatus || (() => {});
      this.onError = options.onError || ((err) => console.warn("realtime:", err.message));
      this.minDelay = options.minDelay ?? 500;
      this.maxDelay = options.maxDelay ?? 20000;
      this.socket = null;
      this.session = null;
      this.connected = false; // the connect reply came on the current socket
      this.running = false; // a connect loop is under way; never start a second one
      this.closed = false; // close() was called: stop for good
      this.subs = new Map(); // pattern -> {epoch, offset}, the position to recover from
      this.pending = new Map(); // request id -> {resolve, reject}
      this.nextId = 1;
      this.attempt = 0;
      this.timer = null;
      this.wake = null;
    }

    // Resolves with the connect reply once connected (and every known pattern subscribed
    // again); keeps retrying with backoff until then. Rejects on a final close or close().
    connect() {
      this.closed = false;
      return this._run();
    }

    // Subscribes now when connected, else at the next connect; resolves with the reply.
    async subscribe(pattern) {
      if (!this.subs.has(pattern)) this.subs.set(pattern, { epoch: null, offset: null });
      return this.connected ? this._subscribe(pattern) : undefined;
    }

    async unsubscribe(pattern) {
      this.subs.delete(pattern);
      if (this.connected) await this._request({ unsubscribe: { pattern } });
    }

    // Closes for good (no reconnect); resolves once the socket is closed.
    close() {
      this.closed = true;
      clearTimeout(this.timer);
      if (this.wake) this.wake(); // end a backoff wait now rather than after it
      const socket = this.socket;
      if (!socket) return Promise.resolve();
      return new Promise((resolve) => {
        socket.addEventListener("close", () => resolve()); // beside onclose, which stays
        socket.close(1000, "bye");
      });
    }

    // Drops the connection as a network failure would (no close handshake where the class
    // allows it, as `ws` does), so that demos and tests can watch reconnect and recovery.
    simulateDrop() {
      const socket = this.socket;
      if (!socket) return;
      this._lost(socket, 1006); // from now on this socket's late messages are ignored
      if (typeof socket.terminate === "function") socket.terminate();
      else socket.close(4000, "simulated drop");
    }

    async _run() {
      if (this.running) throw new Error("already connecting");
      this.running = true;
      try {
        for (;;) {
          try {
            return await this._attempt();
          } catch (err) {
            if (this.closed || err.final) throw err;
            this.onStatus("retrying", err);
          }
          // Exponential backoff with jitter: thousands of tabs dropped by one node restart must
          // not all come back in the same second. Half the delay is fixed, half random.
          const delay = Math.min(this.maxDelay, this.minDelay * 2 ** this.attempt++);
          await new Promise((resolve) => {
            this.wake = resolve;
            this.timer = setTimeout(resolve, delay / 2 + (Math.random() * delay) / 2);
          });
          this.wake = null;
          if (this.closed) throw new Error("closed");
        }
      } finally {
        this.running = false;
      }
    }

    async _attempt() {
      this.onStatus("connecting");
      // A fresh token every time: the last one may be what expired (close 4005).
      const token = await this.getToken();
      if (this.closed) throw new Error("closed");
      const socket = new this.WebSocket(this.url);
      this.socket = socket;
      socket.onerror = () => {}; // a close event follows; `ws` throws if nobody listens
      socket.onmessage = (e) => this._message(socket, e.data);
      await new Promise((resolve, reject) => {
        socket.onopen = resolve;
        socket.onclose = (e) => {
          this._lost(socket, e.code);
          reject(closeError(e.code));
        };
      });
      socket.onclose = (e) => this._lost(socket, e.code);
      const reply = await this._request({ connect: { token } });
      this.session = reply.connect.session;
      this.connected = true;
      // Every pattern again, from where it stopped; one refused (the new token may allow
      // less) is reported and dropped, it does not fail the connection.
      await Promise.all(
        [...this.subs.keys()].map((pattern) =>
          this._subscribe(pattern).catch((err) => {
            if (err.closeCode !== undefined) throw err;
            this.onError(err, pattern);
          }),
        ),
      );
      this.attempt = 0; // only a connection that worked resets the backoff
      this.onStatus("connected", reply.connect);
      return reply.connect;
    }

    _subscribe(pattern) {
      const state = this.subs.get(pattern);
      const args = { pattern };
      if (state.epoch !== null) args.recover = { epoch: state.epoch, offset: state.offset };
      // Handled the moment the reply arrives, not after an await: a push right behind it in the
      // same read (`ws` dispatches those synchronously) must come after the recovered events.
      const handle = ({ subscribe: reply }) => {
        if (this.subs.get(pattern) !== state) return reply; // unsubscribed meanwhile
        // Missed events come in order, before any live push of this pattern (the server holds
        // those until this reply), so the app sees one ordered stream either way.
        for (const event of reply.events || []) {
          this.onPush({ pattern, event, offset: null, recovered: true });
        }
        state.epoch = reply.epoch;
        state.offset = reply.offset;
        // The history could not be replayed whole: the app must reload what it shows.
        if (reply.recovered === false) this.onGap(pattern);
        return reply;
      };
      return this._request({ subscribe: args }, handle).catch((err) => {
        if (err.code !== undefined) this.subs.delete(pattern); // refused by the server: forget it
        throw err;
      });
    }

    // Resolves with handle(reply) (run as the reply arrives) or rejects with the error reply.
    _request(body, handle = (msg) => msg) {
      return new Promise((resolve, reject) => {
        if (!this.socket) return reject(closeError(1006));
        const id = this.nextId++;
        this.pending.set(id, { resolve, reject, handle });
        this.socket.send(JSON.stringify({ id, ...body }));
      });
    }

    _message(socket, data) {
      if (socket !== this.socket) return; // a dropped socket's leftovers
      const msg = JSON.parse(data);
      if (msg.id !== undefined) {
        const p = this.pending.get(msg.id);
        if (!p) return;
        this.pending.delete(msg.id);
        if (msg.error) {
          const err = new Error(msg.error.message || msg.error.code);
          err.code = msg.error.code;
          return p.reject(err);
        }
        try {
          p.resolve(p.handle(msg));
        } catch (err) {
          p.reject(err); // thrown by the app's onPush/onGap: fail this request, not the socket
        }
      } else if (msg.push) {
        const state = this.subs.get(msg.push.pattern);
        if (!state) return; // unsubscribed while it was on its way
        // Recover from here if the connection drops; ephemeral pushes have no offset.
        if (typeof msg.push.offset === "number") state.offset = msg.push.offset;
        this.onPush({ ...msg.push, recovered: false });
      } else if (Object.keys(msg).length === 0) {
        socket.send("{}"); // the server's ping: no answer by the next one closes with 4012
      }
    }

    // The current socket is gone: fail what waits on it and, unless told not to, reconnect.
    _lost(socket, code) {
      if (socket !== this.socket) return;
      const wasConnected = this.connected;
      this.socket = null;
      this.connected = false;
      const err = closeError(code);
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
      this.onStatus("disconnected", code);
      // A loop that is still connecting sees the rejection and retries by itself.
      if (wasConnected && !this.running && !this.closed && !err.final) {
        this._run().catch((e) => this.onStatus("stopped", e));
      }
    }
  }

  return RealtimeClient;
});
