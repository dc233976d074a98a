// The one owner of the /ws/jobs/ WebSocket (see ../../README.md, "What the admin sees").
//
// - reconnects with exponential backoff and jitter, forever, unless the server said 4401/4403;
// - every (re)connect starts from the server's `jobs.snapshot` (the server sends one on
//   connect): delivery over the channel layer is at-most-once, the database is the truth;
// - keeps, per job, the snapshot with the highest `version` (updates may arrive out of order);
// - never polls: a `ping` every 25 s only keeps proxies from closing an idle socket and
//   detects a dead connection.
//
// Events (all CustomEvent, read `event.detail`):
//   "state"    {state, attempt, delay}   state: connecting | live | reconnecting |
//                                         unauthenticated | forbidden
//   "snapshot" {jobs}                    after each snapshot was applied (jobs newest first)
//   "job"      {job, previous}           one job changed (newer version applied); not fired
//                                         for the jobs of a seed or a snapshot, which the
//                                         "snapshot" event (or the caller) renders at once
//   "ended"    {job, previous, recent}   a job this page saw active reached a terminal status
//                                         (recent: true when the page did not see it end
//                                         live: first seen already finished within
//                                         `announceRecent`, or active only in the page's seed,
//                                         which may be a stale copy of the page; the caller
//                                         decides whether that still deserves a toast)
//   "frame"    {type, …}                 any other server message, as sent: the frames of a
//                                         kind's feed (e.g. `agreement.counts`), for the
//                                         module that knows them

export const TERMINAL = new Set(["succeeded", "failed", "cancelled", "interrupted"]);
export const CLOSE_UNAUTHENTICATED = 4401;
export const CLOSE_FORBIDDEN = 4403;
const CLOCK_SLACK = 5000; // ms the browser's clock may trail the server's (_justFinished)

export function isTerminal(job) {
  return TERMINAL.has(job.status);
}

export class JobsSocket extends EventTarget {
  constructor({
    path = "/ws/jobs/",
    loginUrl = "/accounts/login/",
    baseDelay = 500,
    maxDelay = 15000,
    pingEvery = 25000,
    pongTimeout = 10000,
    connectTimeout = 10000,
    // Also report as "ended" a job first seen in a snapshot that finished this recently (ms):
    // on admin pages a job is started by a form post, and may end before the next page's
    // socket is open.
    announceRecent = 0,
  } = {}) {
    super();
    this.path = path;
    this.loginUrl = loginUrl;
    this.baseDelay = baseDelay;
    this.maxDelay = maxDelay;
    this.pingEvery = pingEvery;
    this.pongTimeout = pongTimeout;
    this.connectTimeout = connectTimeout;
    this.announceRecent = announceRecent;
    this.jobs = new Map();
    // Ids whose state so far comes only from the page's seed (the HTML), not the server.
    this._seedOnly = new Set();
    this.state = "idle";
    this.attempt = 0;
    this.ws = null;
    this._timers = {};
    this._stopped = false;
    this._wake = () => {
      if (this.state === "reconnecting") this._connectNow();
    };
  }

  /** Jobs known to this page, newest first. */
  list() {
    return [...this.jobs.values()].sort((a, b) =>
      (b.created_at || "").localeCompare(a.created_at || ""));
  }

  /** Seed with jobs rendered in the page, before the socket is open. */
  seed(jobs) {
    for (const job of jobs || []) {
      this._apply(job, { live: false, quiet: true });
      this._seedOnly.add(job.id);
    }
  }

  start() {
    this._stopped = false;
    window.addEventListener("online", this._wake);
    document.addEventListener("visibilitychange", this._wake);
    this._connect();
    return this;
  }

  stop() {
    this._stopped = true;
    window.removeEventListener("online", this._wake);
    document.removeEventListener("visibilitychange", this._wake);
    this._clearTimers();
    if (this.ws) this._detach(this.ws).close(1000);
    this.ws = null;
  }

  /** Apply a JOB from an HTTP answer (start, cancel, resume); same version rule. */
  upsert(job) {
    return this._apply(job, { live: true });
  }

  send(message) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify(message));
      return true;
    }
    return false;
  }

  // --- connection ------------------------------------------------------------------------
  _url() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    return `${scheme}//${location.host}${this.path}`;
  }

  _setState(state, extra = {}) {
    this.state = state;
    this.dispatchEvent(new CustomEvent("state", {
      detail: { state, attempt: this.attempt, ...extra },
    }));
  }

  _connect() {
    if (this._stopped) return;
    this._clearTimers();
    this._setState(this.attempt === 0 ? "connecting" : "reconnecting");
    let ws;
    try {
      ws = new WebSocket(this._url());
    } catch (error) {
      this._scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.onopen = () => this._heartbeat();
    ws.onmessage = (event) => this._onMessage(event);
    ws.onclose = (event) => this._onClose(event);
    ws.onerror = () => {}; // a close event always follows
    // A socket stuck in CONNECTING (a black-holed network) is given up after a while.
    this._timers.connect = setTimeout(() => {
      if (ws.readyState === WebSocket.CONNECTING) this._drop(ws);
    }, this.connectTimeout);
  }

  _connectNow() {
    this.attempt = Math.max(this.attempt, 1);
    this._connect();
  }

  _onClose(event) {
    if (event.target !== this.ws) return;
    this.ws = null;
    this._clearTimers();
    if (this._stopped) return;
    if (event.code === CLOSE_UNAUTHENTICATED) {
      this._setState("unauthenticated");
      const next = encodeURIComponent(location.pathname + location.search);
      location.assign(`${this.loginUrl}?next=${next}`);
      return;
    }
    if (event.code === CLOSE_FORBIDDEN) {
      this._setState("forbidden");
      return;
    }
    this._scheduleReconnect();
  }

  /** Forget a socket that is not answering and reconnect without waiting for its close. */
  _drop(ws) {
    this._detach(ws);
    try { ws.close(); } catch (error) { /* already closing */ }
    if (ws === this.ws) {
      this.ws = null;
      this._scheduleReconnect();
    }
  }

  _detach(ws) {
    ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
    return ws;
  }

  _scheduleReconnect() {
    this._clearTimers();
    // Exponential backoff with "equal jitter": half fixed, half random, so a restarted server
    // is not hit by every browser at the same instant.
    const ceiling = Math.min(this.maxDelay, this.baseDelay * 2 ** this.attempt);
    const delay = Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
    this.attempt += 1;
    this._setState("reconnecting", { delay });
    this._timers.retry = setTimeout(() => this._connect(), delay);
  }

  _heartbeat() {
    clearTimeout(this._timers.ping);
    clearTimeout(this._timers.pong);
    this._timers.ping = setTimeout(() => {
      const ws = this.ws;
      if (!ws || !this.send({ action: "ping" })) return;
      this._timers.pong = setTimeout(() => this._drop(ws), this.pongTimeout);
    }, this.pingEvery);
  }

  _clearTimers() {
    for (const timer of Object.values(this._timers)) clearTimeout(timer);
    this._timers = {};
  }

  _justFinished(job) {
    if (!this.announceRecent || !job.finished_at) return false;
    const age = Date.now() - Date.parse(job.finished_at);
    // A negative age beyond a few seconds is a clock that disagrees with the server's: then
    // nothing counts as recent (a missed toast is better than one for a job of hours ago).
    return age > -CLOCK_SLACK && age < this.announceRecent;
  }

  // --- messages --------------------------------------------------------------------------
  _onMessage(event) {
    if (event.target !== this.ws) return;
    this._heartbeat(); // any frame proves the connection is alive
    let message;
    try {
      message = JSON.parse(event.data);
    } catch (error) {
      return;
    }
    if (message.type === "jobs.snapshot") {
      this._applySnapshot(message.jobs || []);
      if (this.state !== "live") {
        this.attempt = 0;
        this._setState("live");
      }
    } else if (message.type === "job.update" && message.job) {
      this._apply(message.job, { live: true });
    } else if (message.type === "error") {
      console.warn("jobs socket:", message.error);
    } else if (typeof message.type === "string") {
      this.dispatchEvent(new CustomEvent("frame", { detail: message }));
    }
  }

  _applySnapshot(jobs) {
    const seen = new Set();
    for (const job of jobs) {
      seen.add(job.id);
      this._apply(job, { live: false, quiet: true });
    }
    // The snapshot holds the user's recent jobs: anything else is too old to show.
    for (const id of [...this.jobs.keys()]) {
      if (!seen.has(id)) this.jobs.delete(id);
    }
    this.dispatchEvent(new CustomEvent("snapshot", { detail: { jobs: this.list() } }));
  }

  /** Keep the highest version; fire "job" (unless quiet) and "ended" when something newer
   *  arrived. */
  _apply(job, { live, quiet = false }) {
    const previous = this.jobs.get(job.id);
    // Anything from the server confirms (or replaces) what the seed said.
    const seedOnly = this._seedOnly.delete(job.id);
    if (previous && !(job.version > previous.version)) return false;
    this.jobs.set(job.id, job);
    if (!quiet) this.dispatchEvent(new CustomEvent("job", { detail: { job, previous } }));
    if (!isTerminal(job)) return true;
    if (previous && !isTerminal(previous)) {
      // Seen active, now ended. When "active" came only from the page's HTML, the page may be
      // a copy from the browser's cache (back button, restored tab) and the ending old.
      this.dispatchEvent(new CustomEvent("ended", {
        detail: { job, previous, recent: seedOnly },
      }));
    } else if (!previous && this._justFinished(job)) {
      // Never seen active, live or not: a live update of a job this page never listed is not
      // its ending either (the final counts after a shutdown, an expired file's mark,
      // "resumed" on an old job beyond the snapshot). Only a job that finished moments ago
      // may still be announced (a job started by a form post that ended during the
      // navigation).
      this.dispatchEvent(new CustomEvent("ended", { detail: { job, previous, recent: true } }));
    }
    return true;
  }
}
