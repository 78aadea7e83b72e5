// The chat session of one signed-in user: turns protocol frames into store changes and store
// changes into UI updates. One instance per sign-in.

import { Connection } from './connection.js';
import { Store } from './store.js';
import { newClientId } from './util.js';

const MAX_WATCH = 500;
const MAX_ACK_BATCH = 200; // server default limit is 256 ids per ack
const ACK_DELAY_MS = 25;
const AUTO_RETRY_CODES = new Set(['unavailable', 'rate_limited']);
const AUTO_RETRY_MAX = 6;

const ERROR_TEXT = {
  invalid_recipient: 'No such user.',
  too_large: 'Message is too long.',
  bad_request: 'The server rejected this message.',
  rate_limited: 'Sending too fast.',
  unavailable: 'Server busy.',
};

export class Chat {
  constructor(session, ui, { onAuthRejected }) {
    this.me = session.user;
    this.ui = ui;
    this.store = new Store(this.me);
    this.presence = new Map(); // peer → "online" | "offline"
    this.active = null;
    this.ackQueue = [];
    this.ackTimer = null;
    this.inflight = []; // client ids handed to the current socket without `sent`/`error` yet
    this.autoRetries = new Map(); // client id → {count, timer}
    this.conn = new Connection(session.token, {
      onState: (s) => this.onState(s),
      onWelcome: () => this.onWelcome(),
      onFrame: (f) => this.onFrame(f),
      onClose: (code, welcomed) => this.onClose(code, welcomed),
      onAuthRejected: () => onAuthRejected(),
    });
    this.onStorage = (ev) => {
      if (ev.storageArea !== localStorage) return;
      const changed = this.store.onStorage(ev.key, ev.newValue);
      if (!changed) return;
      if (changed === 'contacts' || !this.presence.has(changed)) this.scheduleWatch();
      this.refresh(changed === this.active);
    };
    this.onVisibility = () => {
      if (document.visibilityState === 'visible' && this.active) {
        this.store.markRead(this.active);
        this.refreshContacts();
      }
    };
  }

  start() {
    window.addEventListener('storage', this.onStorage);
    document.addEventListener('visibilitychange', this.onVisibility);
    this.refreshContacts();
    this.conn.start();
  }

  stop() {
    window.removeEventListener('storage', this.onStorage);
    document.removeEventListener('visibilitychange', this.onVisibility);
    for (const r of this.autoRetries.values()) clearTimeout(r.timer);
    this.autoRetries.clear();
    clearTimeout(this.ackTimer);
    clearTimeout(this.watchTimer);
    this.conn.stop();
  }

  // ---- UI actions ---------------------------------------------------------------------

  open(peer) {
    if (this.store.ensureContact(peer)) this.scheduleWatch();
    this.active = peer;
    this.ui.openConversation(peer);
    this.store.markRead(peer);
    this.ui.setConvPresence(this.presence.get(peer) || 'unknown');
    this.ui.renderMessages(this.store, this.conn.online, true);
    this.refreshContacts();
  }

  back() {
    const peer = this.active;
    this.active = null;
    this.ui.closeConversation();
    this.refreshContacts();
    if (peer) this.ui.focusContact(peer);
  }

  addContact(peer) {
    const added = this.store.addContact(peer);
    if (added) this.scheduleWatch();
    this.open(peer);
  }

  send(to, body) {
    const entry = this.store.addOutgoing(to, body, newClientId());
    this.transmit(entry);
    this.refresh(true, true);
  }

  retry(cid) {
    const r = this.autoRetries.get(cid);
    if (r) { clearTimeout(r.timer); this.autoRetries.delete(cid); }
    if (!this.store.markSending(cid)) return;
    const found = this.store.findByCid(cid);
    if (found) this.transmit(found.e);
    this.refresh(true);
  }

  reconnectNow() {
    this.conn.connectNow();
  }

  // ---- protocol -----------------------------------------------------------------------

  transmit(e) {
    if (this.conn.send({ type: 'send', id: e.cid, to: e.to, body: e.body })) {
      this.inflight.push(e.cid);
    }
    // Otherwise it stays "sending" in the persisted outbox and goes out after `welcome`.
  }

  /** Coalesces watch updates (a replay can add many contacts at once). */
  scheduleWatch() {
    if (this.watchTimer) return;
    this.watchTimer = setTimeout(() => { this.watchTimer = null; this.sendWatch(); }, 50);
  }

  sendWatch() {
    if (!this.conn.online) return;
    const users = this.store.sortedContacts().slice(0, MAX_WATCH);
    this.conn.send({ type: 'watch', users });
  }

  onState(s) {
    this.ui.setConn(s);
    if (s.state !== 'online' && this.presence.size) {
      this.presence.clear(); // unknown until the next watch answer
      this.refreshContacts();
      if (this.active) this.ui.setConvPresence('unknown');
    }
    if (this.active) this.ui.renderMessages(this.store, this.conn.online);
  }

  onWelcome() {
    this.inflight = [];
    this.sendWatch();
    for (const r of this.autoRetries.values()) clearTimeout(r.timer);
    this.autoRetries.clear();
    for (const e of this.store.outbox()) this.transmit(e); // original client ids: no duplicates
    this.refresh(true);
  }

  onClose(code) {
    if (code === 1009 && this.inflight.length) {
      // The frame that was too big is most likely the last send on that socket. Marking it
      // failed keeps it from being resent (and closing the session) after every reconnect.
      const cid = this.inflight[this.inflight.length - 1];
      this.store.markFailed(cid, ERROR_TEXT.too_large);
      this.refresh(true);
    }
    this.inflight = [];
    clearTimeout(this.ackTimer);
    this.ackTimer = null;
    this.ackQueue = []; // unacked messages are replayed after reconnect and acked then
  }

  onFrame(f) {
    switch (f.type) {
      case 'message': return this.onMessage(f);
      case 'sent': return this.onSent(f);
      case 'receipt': return this.onReceipt(f);
      case 'error': return this.onError(f);
      case 'presence': return this.onPresence(f);
      default: return undefined; // unknown frame types are ignored (forward compatibility)
    }
  }

  onMessage(f) {
    if (typeof f.msg !== 'string' || typeof f.from !== 'string' || typeof f.to !== 'string'
      || typeof f.body !== 'string') return;
    const m = { msg: f.msg, from: f.from, to: f.to, body: f.body, ts: Number(f.ts) || Date.now() };
    const { peer, isNew, newContact } = this.store.addIncoming(m);
    this.queueAck(f.msg); // ack duplicates too, after the message is stored
    if (!isNew) return;
    if (newContact) this.scheduleWatch();
    const visible = document.visibilityState === 'visible';
    if (peer === this.active && visible) this.store.markRead(peer);
    if (m.from !== this.me) this.ui.announce(`New message from ${m.from}: ${m.body}`);
    this.refresh(peer === this.active);
  }

  queueAck(msg) {
    this.ackQueue.push(msg);
    if (this.ackQueue.length >= MAX_ACK_BATCH) this.flushAcks();
    else if (!this.ackTimer) this.ackTimer = setTimeout(() => this.flushAcks(), ACK_DELAY_MS);
  }

  flushAcks() {
    clearTimeout(this.ackTimer);
    this.ackTimer = null;
    while (this.ackQueue.length) {
      const msgs = this.ackQueue.splice(0, MAX_ACK_BATCH);
      if (!this.conn.send({ type: 'ack', msgs })) {
        this.ackQueue = [];
        return;
      }
    }
  }

  onSent(f) {
    if (typeof f.id !== 'string' || typeof f.msg !== 'string') return;
    this.inflight = this.inflight.filter((c) => c !== f.id);
    this.autoRetries.delete(f.id);
    const peer = this.store.markSent(f.id, f.msg, Number(f.ts) || undefined);
    if (peer) this.refresh(peer === this.active);
  }

  onReceipt(f) {
    if (typeof f.msg !== 'string') return;
    const peer = this.store.markDelivered(f.msg, typeof f.id === 'string' ? f.id : null);
    if (peer) this.refresh(peer === this.active);
  }

  onError(f) {
    const text = typeof f.message === 'string' && f.message ? f.message : (ERROR_TEXT[f.code] || 'Error.');
    if (typeof f.id !== 'string' || !f.id) {
      this.ui.notice(`Server: ${text}`);
      return;
    }
    const cid = f.id;
    this.inflight = this.inflight.filter((c) => c !== cid);
    if (AUTO_RETRY_CODES.has(f.code)) {
      const r = this.autoRetries.get(cid) || { count: 0, timer: null };
      if (r.count < AUTO_RETRY_MAX) {
        r.count += 1;
        clearTimeout(r.timer);
        const delay = Math.min(30_000, 1000 * 2 ** r.count) * (0.7 + Math.random() * 0.6);
        r.timer = setTimeout(() => {
          const found = this.store.findByCid(cid);
          if (found && found.e.status === 'sending') this.transmit(found.e);
        }, delay);
        this.autoRetries.set(cid, r);
        return; // stays "sending"
      }
    }
    const r = this.autoRetries.get(cid);
    if (r) clearTimeout(r.timer);
    this.autoRetries.delete(cid);
    const peer = this.store.markFailed(cid, ERROR_TEXT[f.code] || text);
    if (peer) this.refresh(peer === this.active);
  }

  onPresence(f) {
    if (typeof f.user !== 'string') return;
    const status = f.status === 'online' ? 'online' : 'offline';
    this.presence.set(f.user, status);
    if (f.user === this.active) this.ui.setConvPresence(status);
    this.refreshContacts();
  }

  // ---- rendering ----------------------------------------------------------------------

  refreshContacts() {
    this.ui.renderContacts(this.store, this.presence, this.active);
    if (this.store.quotaProblem) this.ui.notice('Browser storage is full: older messages were dropped.');
  }

  refresh(messagesToo, forceScroll = false) {
    this.refreshContacts();
    if (messagesToo && this.active) this.ui.renderMessages(this.store, this.conn.online, forceScroll);
  }
}
