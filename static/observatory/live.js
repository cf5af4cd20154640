// The ecosystem's live event stream in the browser (docs/observatory.md, "Live updates").
//
// Opens WS /ws/ecosystem/{id}/?since=N with the session cookie and keeps `lastSeq`, the
// seq of the last event handed to the page. Every event is applied exactly once, in order:
//   * seq <= lastSeq           -> a duplicate (replayed after a reconnect): dropped;
//   * seq == lastSeq + 1       -> applied, lastSeq advances;
//   * seq >  lastSeq + 1       -> a gap: not applied; the socket is reopened with
//                                 since=lastSeq and the server replays what is missing.
// After any disconnect it reconnects with backoff, again with since=lastSeq.

/**
 * @typedef {object} EventEnvelope
 * @property {number} seq
 * @property {string} type
 * @property {string} timestamp ISO-8601
 * @property {string} ecosystem_id
 * @property {Record<string, any>} data
 */

/** @typedef {"connecting" | "live" | "reconnecting" | "offline"} ConnectionState */

/**
 * @typedef {object} StreamOptions
 * @property {string} wsPath e.g. "/ws/ecosystem/<id>/"
 * @property {number} since the seq the page's snapshot was taken at
 * @property {(event: EventEnvelope) => void} onEvent
 * @property {(state: ConnectionState, detail: string) => void} onStatus
 * @property {() => void} [onReset] the server no longer holds events after `since`
 */

/** Backoff before reconnect attempt n (seconds); the last value repeats. */
const BACKOFF_SECONDS = [0.5, 1, 2, 4, 8, 15, 30];
/** After this many failed attempts in a row the status reads "offline" (still retrying). */
const ATTEMPTS_BEFORE_OFFLINE = 5;
/** Ping when the server has been quiet this long; give up on the socket after twice that. */
const QUIET_PING_MS = 25_000;
const DEAD_AFTER_MS = 60_000;
/** Close codes after which retrying cannot help. */
const FINAL_CLOSE_CODES = new Map([
  [4401, "signed out — reload the page to log in again"],
  [4403, "no access to this ecosystem"],
  [4404, "this ecosystem no longer exists"],
  [4400, "the page asked for an invalid position in the stream"],
]);

export class EcosystemStream {
  /** @param {StreamOptions} options */
  constructor(options) {
    this.options = options;
    /** The seq of the last event applied. */
    this.lastSeq = options.since;
    /** @type {WebSocket | null} */
    this.socket = null;
    this.attempts = 0;
    this.stopped = false;
    this.lastMessageAt = Date.now();
    /** @type {number | undefined} */
    this.retryTimer = undefined;
    /** @type {number | undefined} */
    this.watchdog = undefined;
    /** Heartbeats in a row that reported a newer seq than we hold. */
    this.behindBeats = 0;
    /** Counters shown to tests and the curious: window.observatory.stream.stats */
    this.stats = { applied: 0, duplicates: 0, gaps: 0, reconnects: 0 };
  }

  start() {
    window.addEventListener("online", () => this.reconnectNow());
    window.addEventListener("offline", () => this.options.onStatus("offline", "no network"));
    this.watchdog = window.setInterval(() => this.checkAlive(), 5_000);
    this.connect();
  }

  stop() {
    this.stopped = true;
    window.clearInterval(this.watchdog);
    window.clearTimeout(this.retryTimer);
    this.socket?.close(1000, "page closed");
  }

  /** Drop the connection as a network failure would (used by the browser tests). */
  dropConnection() {
    this.socket?.close(4000, "dropped on purpose");
  }

  /** @returns {string} */
  url() {
    const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    const since = encodeURIComponent(String(this.lastSeq));
    return `${scheme}//${window.location.host}${this.options.wsPath}?since=${since}`;
  }

  connect() {
    if (this.stopped) return;
    window.clearTimeout(this.retryTimer);
    const socket = new WebSocket(this.url());
    this.socket = socket;
    this.behindBeats = 0;
    socket.addEventListener("open", () => {
      if (this.socket !== socket) return;
      this.attempts = 0;
      this.lastMessageAt = Date.now();
      this.options.onStatus("live", "");
    });
    socket.addEventListener("message", (message) => {
      if (this.socket !== socket) return;
      this.lastMessageAt = Date.now();
      this.receive(String(message.data));
    });
    socket.addEventListener("close", (close) => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.closed(close.code);
    });
  }

  /** @param {string} text */
  receive(text) {
    /** @type {any} */
    let message;
    try {
      message = JSON.parse(text);
    } catch {
      return; // not ours to show; the server only sends JSON
    }
    if (!message || typeof message !== "object") return;
    if (typeof message.seq === "number") {
      this.accept(/** @type {EventEnvelope} */ (message));
      return;
    }
    switch (message.type) {
      case "heartbeat":
        this.heartbeat(Number(message.last_seq));
        break;
      case "reset":
        this.options.onReset?.();
        break;
      default:
        break; // pong, error frames: nothing to apply
    }
  }

  /** @param {EventEnvelope} event */
  accept(event) {
    if (event.seq <= this.lastSeq) {
      this.stats.duplicates += 1;
      return;
    }
    if (event.seq > this.lastSeq + 1) {
      // Never apply out of order: reopen from what we hold; the server replays the gap.
      this.stats.gaps += 1;
      this.reopen();
      return;
    }
    this.lastSeq = event.seq;
    this.stats.applied += 1;
    try {
      this.options.onEvent(event);
    } catch (error) {
      console.error("Could not apply event", event.seq, error);
    }
  }

  /** @param {number} serverLastSeq */
  heartbeat(serverLastSeq) {
    // A heartbeat may overtake events still in flight, so one report of a newer seq is
    // normal; two in a row mean we missed something.
    if (Number.isFinite(serverLastSeq) && serverLastSeq > this.lastSeq) {
      this.behindBeats += 1;
      if (this.behindBeats >= 2) this.reopen();
    } else {
      this.behindBeats = 0;
    }
  }

  checkAlive() {
    const socket = this.socket;
    if (!socket || socket.readyState !== WebSocket.OPEN) return;
    const quietFor = Date.now() - this.lastMessageAt;
    if (quietFor > DEAD_AFTER_MS) {
      this.reopen();
    } else if (quietFor > QUIET_PING_MS) {
      socket.send(JSON.stringify({ type: "ping" }));
    }
  }

  reopen() {
    const socket = this.socket;
    this.socket = null;
    socket?.close(4000, "resuming");
    this.stats.reconnects += 1;
    this.connect();
  }

  reconnectNow() {
    if (this.stopped || (this.socket && this.socket.readyState <= WebSocket.OPEN)) return;
    this.attempts = 0;
    this.connect();
  }

  /** @param {number} code */
  closed(code) {
    if (this.stopped) return;
    const final = FINAL_CLOSE_CODES.get(code);
    if (final) {
      this.options.onStatus("offline", final);
      return;
    }
    this.attempts += 1;
    this.stats.reconnects += 1;
    const offline = !navigator.onLine || this.attempts > ATTEMPTS_BEFORE_OFFLINE;
    const delay = BACKOFF_SECONDS[Math.min(this.attempts - 1, BACKOFF_SECONDS.length - 1)];
    const jitter = 0.8 + Math.random() * 0.4;
    this.options.onStatus(
      offline ? "offline" : "reconnecting",
      offline ? "retrying every little while" : `attempt ${this.attempts}`,
    );
    this.retryTimer = window.setTimeout(() => this.connect(), delay * 1000 * jitter);
  }
}

/**
 * Show a connection state in the page's status pill.
 * @param {HTMLElement} pill
 * @param {ConnectionState} state
 * @param {string} detail
 */
export function renderConnection(pill, state, detail) {
  const words = { connecting: "Connecting…", live: "Live", reconnecting: "Reconnecting…", offline: "Offline" };
  pill.className = `conn conn-${state}`;
  pill.dataset.state = state;
  const text = pill.querySelector(".conn-text");
  if (text) text.textContent = words[state];
  pill.title = detail ? `${words[state]} (${detail})` : words[state];
}
