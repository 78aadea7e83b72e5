// One logical connection to ws-edge: opens /ws (with the stream position `params()` gives at
// that moment), waits for `welcome`, keeps it alive with pings, and reconnects as reconnect.js
// decides (exponential backoff + jitter, slower after policy closes, not at all after the
// session was replaced). After a connect that never reached
// `welcome` it asks /api/whoami whether the token was rejected (→ onAuthRejected) or the
// server is merely unreachable (→ retry).
//
// Observers get:
//   onState({state, retryAt, reason})  state: "connecting" | "online" | "offline" | "checking"
//   onWelcome(frame), onFrame(frame), onClose(code)

import { wsUrl, wsProtocols, whoami } from './api.js';
import { retryDelay, STABLE_SESSION_MS } from './reconnect.js';

const PING_EVERY_MS = 25_000;
const SILENCE_LIMIT_MS = 65_000; // no frame at all for this long → the socket is dead
const WELCOME_TIMEOUT_MS = 15_000;

const CLOSE_REASONS = {
  1000: 'Connection closed.',
  1001: 'Server is restarting.',
  1006: 'Connection lost.',
  1008: 'Disconnected by the server (too many sessions or too many messages).',
  1009: 'Disconnected: a message was too large.',
  1011: 'Server error.',
  1012: 'Server is restarting.',
  1013: 'Server is busy.',
};
const REPLACED_REASON = 'Signed in on too many devices: this one was disconnected. Reload to use it here.';

export class Connection {
  constructor(token, params, handlers) {
    this.token = token;
    this.params = params;
    this.h = handlers;
    this.ws = null;
    this.welcomed = false;
    this.stopped = true;
    this.attempt = 0;
    this.retryTimer = null;
    this.pingTimer = null;
    this.welcomeTimer = null;
    this.lastFrameAt = 0;
    this.state = 'offline';
    // Not before this time (ms) on the browser's own cues: a policy close asked for a slow retry.
    this.holdUntil = 0;
    this.onOnline = () => { if (this.state === 'offline' && Date.now() >= this.holdUntil) this.connectNow(); };
    this.onVisible = () => {
      if (document.visibilityState === 'visible' && this.state === 'offline' && this.attempt > 3
          && Date.now() >= this.holdUntil) this.connectNow();
    };
  }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    window.addEventListener('online', this.onOnline);
    document.addEventListener('visibilitychange', this.onVisible);
    this.open();
  }

  stop() {
    this.stopped = true;
    window.removeEventListener('online', this.onOnline);
    document.removeEventListener('visibilitychange', this.onVisible);
    clearTimeout(this.retryTimer);
    this.teardown(1000);
  }

  /** Skip the remaining backoff wait. */
  connectNow() {
    if (this.stopped || this.ws || this.state !== 'offline') return;
    clearTimeout(this.retryTimer);
    this.open();
  }

  get online() {
    return !!(this.ws && this.welcomed && this.ws.readyState === WebSocket.OPEN);
  }

  /** Sends a frame if the session is up. Returns whether it was handed to the socket. */
  send(frame) {
    if (!this.online) return false;
    try {
      this.ws.send(JSON.stringify(frame));
      return true;
    } catch {
      return false;
    }
  }

  setState(state, extra = {}) {
    this.state = state;
    this.h.onState?.({ state, ...extra });
  }

  open() {
    if (this.ws) this.teardown(1000);
    this.gen = (this.gen || 0) + 1;
    this.welcomed = false;
    this.setState('connecting');
    let ws;
    try {
      ws = new WebSocket(wsUrl(this.params()), wsProtocols(this.token));
    } catch {
      this.afterClose(1006);
      return;
    }
    this.ws = ws;
    this.lastFrameAt = Date.now();
    ws.onopen = () => {
      this.welcomeTimer = setTimeout(() => this.kill(ws), WELCOME_TIMEOUT_MS);
    };
    ws.onmessage = (ev) => {
      if (ws !== this.ws) return;
      this.lastFrameAt = Date.now();
      let frame;
      try { frame = JSON.parse(ev.data); } catch { return; }
      if (!frame || typeof frame !== 'object' || typeof frame.type !== 'string') return;
      if (!this.welcomed) {
        if (frame.type !== 'welcome') return; // nothing is valid before welcome
        this.welcomed = true;
        this.welcomedAt = Date.now();
        clearTimeout(this.welcomeTimer);
        this.startPings(ws);
        this.setState('online');
        this.h.onWelcome?.(frame);
        return;
      }
      if (frame.type === 'ping') {
        this.send({ type: 'pong' });
        return;
      }
      if (frame.type === 'pong') return;
      this.h.onFrame?.(frame);
    };
    ws.onclose = (ev) => {
      if (ws !== this.ws) return;
      this.afterClose(ev.code, false, ev.reason);
    };
    ws.onerror = () => { /* onclose follows */ };
  }

  startPings(ws) {
    clearInterval(this.pingTimer);
    this.pingTimer = setInterval(() => {
      if (ws !== this.ws) return;
      if (Date.now() - this.lastFrameAt > SILENCE_LIMIT_MS) {
        this.kill(ws);
        return;
      }
      this.send({ type: 'ping' });
    }, PING_EVERY_MS);
  }

  /** Drops the session and connects again after the usual backoff (the client lost its
   *  place in the stream and resumes from the last entry it handled). */
  restart() {
    if (this.ws) this.kill(this.ws);
  }

  /** Gives up on a socket that looks dead without waiting for the browser's close event. */
  kill(ws) {
    if (ws !== this.ws) return;
    this.teardown(4000);
    this.afterClose(1006, true);
  }

  teardown(code) {
    clearInterval(this.pingTimer);
    clearTimeout(this.welcomeTimer);
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
      try { ws.close(code); } catch { /* already closing */ }
    }
  }

  async afterClose(code, alreadyTornDown = false, closeReason = '') {
    const wasWelcomed = this.welcomed;
    if (!alreadyTornDown) this.teardown(1000);
    this.welcomed = false;
    if (this.stopped) return;
    const gen = this.gen;
    this.h.onClose?.(code, wasWelcomed);
    if (!wasWelcomed) {
      // Refused before the upgrade (bad token → HTTP 401) looks like 1006 in a browser.
      this.setState('checking');
      const who = await whoami(this.token);
      if (this.stopped || gen !== this.gen) return;
      if (who.rejected) {
        this.stopped = true;
        this.setState('offline', { reason: 'Sign-in rejected.' });
        this.h.onAuthRejected?.();
        return;
      }
    }
    if (wasWelcomed && Date.now() - this.welcomedAt >= STABLE_SESSION_MS) this.attempt = 0;
    const delay = retryDelay(code, closeReason, this.attempt);
    if (delay === null) {
      this.stopped = true;
      this.setState('offline', { reason: REPLACED_REASON });
      return;
    }
    this.attempt += 1;
    this.holdUntil = [1008, 1009, 1013].includes(code) ? Date.now() + delay : 0;
    const reason = wasWelcomed ? (CLOSE_REASONS[code] || `Connection closed (${code}).`)
      : 'Cannot reach the server.';
    this.setState('offline', { retryAt: Date.now() + delay, reason });
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.open(), delay);
  }
}
