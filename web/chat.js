// The chat session of one signed-in user: follows the user's stream (position, acks, reset),
// asks the server for conversations, history and group members, and turns frames into
// conversation state (model.js, group.js, typing.js) and that into UI updates. One instance
// per sign-in.

import { Connection } from './connection.js';
import {
  applyGroupEntry, isAdmin, isGroup, memberRows, membersFromPage, noteGroupEntry, noteMemberRead, readGroupEntry,
} from './group.js';
import {
  byActivity, newConv, noteMessage, noteRead, noteReceipt, noteSummary, readMessage, readSummary,
  runWithHistory, runWithMessage,
} from './model.js';
import { Outbox } from './outbox.js';
import { Cache, deviceId } from './store.js';
import { AckBatcher, entryOrder } from './stream.js';
import {
  dropTyping, nextExpiry, noteTyping, pruneTyping, typers, typingDue,
} from './typing.js';
import {
  dmConv, dmPeer, newClientId, plainText, USER_ID_RE,
} from './util.js';
import {
  conversationView, ERROR_TEXT, GROUP_ERROR_TEXT, headerLine, listItem, presenceText,
} from './view.js';

const PAGE = 50; // messages per history page, conversations per list page
const MAX_WATCH = 500;
const SAVE_DELAY_MS = 300;
const RENDER_DELAY_MS = 30;
const QUERY_PAUSE_MS = 2000;
const MAX_EARLY = 1024; // the edge's default --max-held: live entries it may release before a reset's `synced`
const AUTO_RETRY_CODES = new Set(['unavailable', 'rate_limited']);
const AUTO_RETRY_MAX = 6;
const MEMBERS_REFRESH_MS = 10_000; // read-by counts of the open group
const CLOCK_MS = 30_000; // "last seen 5 min ago" ages
const OP_TEXT = {
  create: 'The group was not created',
  add: 'Could not add',
  remove: 'Could not remove',
  leave: 'Could not leave the group',
  block: 'Could not block',
  unblock: 'Could not unblock',
};

/** A group this client asked for whose first entry has not come yet: until relay-svc made it,
 *  the server answers `history`, `members` and `typing` with `not_member`. */
function notMadeYet(c) {
  return isGroup(c.conv) && c.cseq === 0;
}

export class Chat {
  constructor(session, ui, { onAuthRejected }) {
    this.me = session.user;
    this.ui = ui;
    this.cache = new Cache(this.me);
    this.device = deviceId();
    /** The stream position: epoch (null until the first `synced` without a stored one) and the
     *  last seq handled in a row (null while unknown). */
    const stored = this.cache.loadPos();
    this.pos = stored ? { epoch: stored.epoch, seq: stored.seq } : { epoch: null, seq: null };
    this.convs = new Map(); // conv → conversation (model.js)
    if (this.pos.epoch) for (const c of this.cache.loadConvs(this.pos.epoch)) this.convs.set(c.conv, c);
    this.outbox = new Outbox(this.cache,
      () => this.ui.notice('Browser storage is full: unsent messages are kept in this tab only.'));
    for (const e of this.outbox.entries) this.ensureConv(e.conv, e.ts);
    this.dirty = new Set(); // conversations whose run changed since the last save
    this.presence = new Map(); // peer → {status: "online" | "offline", lastSeen: ms | null}
    this.members = new Map(); // group → member list (group.js), kept for this session only
    this.membersLoading = new Map(); // group → the member pages read so far of the query in flight
    this.ops = new Map(); // client id → {action, title?, opened?} of a group change without its outcome yet
    this.typing = {}; // who is typing where (typing.js)
    this.typingSent = new Map(); // conv → when this client last sent `typing` there
    this.active = null;
    this.synced = false; // the current session got its `synced`
    this.early = []; // the entries of this session before its `synced` (see onEntry)
    this.history = new Map(); // conv → `before` of the history query in flight (null: newest page)
    this.newestUpTo = new Map(); // conv → its cseq when its newest page was asked
    this.fresh = new Set(); // conversations whose newest page was read in this session
    this.convsNext = null; // `next` of the conversation list, null after the last page
    this.convsLoading = false;
    this.olderPausedUntil = 0;
    this.inflight = []; // client ids handed to the current socket without `sent`/`error` yet
    this.autoRetries = new Map(); // client id → {count, timer}
    this.acks = new AckBatcher((frame) => this.conn.send(frame));
    this.acks.reset(stored ? stored.acked : 0);
    this.since = null; // the `since` of the current session
    this.conn = new Connection(session.token, () => this.connectParams(), {
      onState: (s) => this.onState(s),
      onWelcome: () => this.onWelcome(),
      onFrame: (f) => this.onFrame(f),
      onClose: (code) => this.onClose(code),
      onAuthRejected: () => onAuthRejected(),
    });
    this.onAttention = () => this.markRead();
    this.onHide = () => {
      this.acks.flush();
      this.saveNow();
    };
  }

  start() {
    document.addEventListener('visibilitychange', this.onAttention);
    window.addEventListener('focus', this.onAttention);
    window.addEventListener('pagehide', this.onHide);
    this.clockTimer = setInterval(() => this.refreshHeader(), CLOCK_MS);
    this.render();
    this.conn.start();
  }

  stop() {
    document.removeEventListener('visibilitychange', this.onAttention);
    window.removeEventListener('focus', this.onAttention);
    window.removeEventListener('pagehide', this.onHide);
    for (const r of this.autoRetries.values()) clearTimeout(r.timer);
    this.autoRetries.clear();
    this.acks.stop();
    clearTimeout(this.watchTimer);
    clearTimeout(this.renderTimer);
    clearTimeout(this.typingTimer);
    clearInterval(this.membersTimer);
    clearInterval(this.clockTimer);
    this.saveNow();
    this.conn.stop();
  }

  /** Resumes after the last entry acked, not the last handled: entries in between come again,
   *  are dropped as duplicates and acked, so their senders' delivered receipts are not lost. */
  connectParams() {
    this.since = this.pos.epoch && this.pos.seq != null ? this.acks.acked : null;
    return this.since == null ? { device: this.device } : { device: this.device, since: this.since, epoch: this.pos.epoch };
  }

  // ---- UI actions ---------------------------------------------------------------------

  open(conv) {
    const c = this.ensureConv(conv);
    this.active = conv;
    this.ui.setLeft(c.left); // first: opening focuses the composer, if there is one
    this.ui.openConversation(conv, this.titleOf(conv), isGroup(conv));
    this.refreshHeader();
    this.loadNewest(conv);
    clearInterval(this.membersTimer);
    if (isGroup(conv)) {
      this.requestMembers(conv);
      this.membersTimer = setInterval(() => this.requestMembers(conv), MEMBERS_REFRESH_MS);
    }
    this.markRead();
    this.render(true, true);
  }

  back() {
    const conv = this.active;
    clearInterval(this.membersTimer);
    this.active = null;
    this.ui.closeConversation();
    this.render();
    if (conv) this.ui.focusConv(conv);
  }

  /** A chat with `peer` typed in by user id: opens it, new or not. */
  startChat(peer) {
    const conv = dmConv(this.me, peer);
    this.ensureConv(conv, Date.now());
    this.open(conv);
  }

  send(conv, body) {
    const c = this.ensureConv(conv, Date.now());
    const peer = dmPeer(conv, this.me);
    this.transmit(this.outbox.add(conv, c.cseq === 0 && peer ? peer : null, body));
    this.render(true, true);
  }

  retry(cid) {
    const r = this.autoRetries.get(cid);
    if (r) { clearTimeout(r.timer); this.autoRetries.delete(cid); }
    const e = this.outbox.retry(cid);
    if (!e) return;
    this.transmit(e);
    this.render(e.conv === this.active);
  }

  reconnectNow() {
    this.conn.connectNow();
  }

  /** The user typed in the composer of `conv`: `typing`, at most every 2 s per conversation. */
  typed(conv) {
    const c = this.convs.get(conv);
    const now = Date.now();
    if (!c || c.left || notMadeYet(c) || !typingDue(this.typingSent.get(conv), now)) return;
    if (this.conn.send({ type: 'typing', conv })) this.typingSent.set(conv, now);
  }

  // ---- group changes --------------------------------------------------------------------

  /** Asks for a new group; it opens when the edge answers `sent` with its id. */
  createGroup(title, members) {
    return this.groupOp({ type: 'group_create', title, members }, { action: 'create', title });
  }

  addMembers(conv, members) {
    return this.groupOp({ type: 'group_add', conv, members }, { action: 'add' });
  }

  removeMember(conv, user) {
    return this.groupOp({ type: 'group_remove', conv, members: [user] }, { action: 'remove' });
  }

  leaveGroup(conv) {
    return this.groupOp({ type: 'group_leave', conv }, { action: 'leave' });
  }

  /** Blocks (`on`) or unblocks the other user of the dm `conv`; `sent` confirms it. */
  block(conv, on) {
    const peer = dmPeer(conv, this.me);
    if (!peer || peer === this.me) return true;
    return this.groupOp({ type: on ? 'block' : 'unblock', user: peer }, { action: on ? 'block' : 'unblock', peer });
  }

  /** Sends a group change with a fresh client id. False when offline (nothing was sent). */
  groupOp(frame, op) {
    const id = newClientId();
    if (!this.conn.send({ ...frame, id })) return false;
    this.ops.set(id, op);
    return true;
  }

  /** The open group's member list (all pages), unless a query for it is in flight. */
  requestMembers(conv, next = null) {
    const c = this.convs.get(conv);
    if (!this.synced || !c || c.left || notMadeYet(c) || (!next && this.membersLoading.has(conv))) return;
    const frame = { type: 'members', conv };
    if (next) frame.next = next;
    if (this.conn.send(frame)) {
      if (!next) this.membersLoading.set(conv, []);
    } else {
      this.membersLoading.delete(conv);
    }
  }

  /** The user scrolled to the top of the open conversation. */
  loadOlder() {
    const c = this.convs.get(this.active);
    if (!c || !c.run || !c.run.more || c.left || !this.synced || this.history.has(c.conv)
      || Date.now() < this.olderPausedUntil) return;
    if (this.conn.send({ type: 'history', conv: c.conv, before: c.run.lo, limit: PAGE })) {
      this.history.set(c.conv, c.run.lo);
      this.render(true);
    }
  }

  /** The user scrolled to the end of the conversation list. */
  loadMoreConvs() {
    if (this.convsNext) this.requestConvs(this.convsNext);
  }

  // ---- requests -----------------------------------------------------------------------

  transmit(e) {
    const frame = { type: 'send', id: e.cid, body: e.body };
    if (e.to) frame.to = e.to; else frame.conv = e.conv;
    if (this.conn.send(frame)) this.inflight.push(e.cid);
    // Otherwise it stays "sending" in the outbox and goes out after the next `welcome`.
  }

  requestConvs(next) {
    if (!this.synced || this.convsLoading) return;
    const frame = { type: 'conversations', limit: PAGE };
    if (next) frame.next = next;
    if (this.conn.send(frame)) this.convsLoading = true;
  }

  /** The newest history page, once per session (not of a group this user is out of: the
   *  server answers only members; what was shown stays). */
  loadNewest(conv) {
    const c = this.ensureConv(conv);
    if (!this.synced || this.fresh.has(conv) || this.history.has(conv) || c.left || notMadeYet(c)) return;
    if (this.conn.send({ type: 'history', conv, limit: PAGE })) {
      this.history.set(conv, null);
      this.newestUpTo.set(conv, c.cseq);
    }
  }

  /** Tells the server the open conversation is read, when the user can see it. */
  markRead() {
    const c = this.convs.get(this.active);
    if (!c || c.left || c.cseq <= c.read || document.visibilityState !== 'visible' || !document.hasFocus()) return;
    if (this.conn.send({ type: 'read', conv: c.conv, cseq: c.cseq })) this.setConv(noteRead(c, c.cseq));
  }

  /** Coalesces watch updates (a page of conversations can add many peers at once). */
  scheduleWatch() {
    if (this.watchTimer) return;
    this.watchTimer = setTimeout(() => { this.watchTimer = null; this.sendWatch(); }, 50);
  }

  /** Watches the peers of the conversations the server knows (the only ones it reports). */
  sendWatch() {
    const peers = this.sortedConvs().filter((c) => c.cseq > 0).map((c) => dmPeer(c.conv, this.me))
      .filter((p) => p && p !== this.me);
    this.conn.send({ type: 'watch', users: peers.slice(0, MAX_WATCH) });
  }

  // ---- the session --------------------------------------------------------------------

  onState(s) {
    this.ui.setConn(s);
    if (s.state !== 'online') {
      this.presence.clear(); // unknown until the next watch answer
      this.typing = {}; // nobody's typing reaches this client now
      this.refreshHeader();
    }
    this.render(true);
  }

  onWelcome() {
    this.synced = false;
    this.early = [];
    this.inflight = [];
    this.history.clear();
    this.fresh.clear();
    this.convsLoading = false;
    this.membersLoading.clear();
    this.typingSent.clear();
    this.acks.reset(this.since ?? 0);
    this.sendWatch();
    for (const r of this.autoRetries.values()) clearTimeout(r.timer);
    this.autoRetries.clear();
    for (const e of this.outbox.entries) if (e.status === 'sending') this.transmit(e); // same ids: no duplicates
    this.markRead();
    this.render(true);
  }

  onClose(code) {
    if (code === 1009 && this.inflight.length) {
      // The frame that was too big is most likely the last send on that socket. Marking it
      // failed keeps it from being resent (and closing the session) after every reconnect.
      this.fail(this.inflight[this.inflight.length - 1], 'too_large');
    }
    this.inflight = [];
    this.synced = false;
    this.acks.stop(); // the next session starts from `since`, so nothing is lost
  }

  onFrame(f) {
    if (f.type !== 'synced' && Number.isSafeInteger(f.seq)) return this.onEntry(f);
    switch (f.type) {
      case 'synced': return this.onSynced(f);
      case 'sent': return this.onSent(f);
      case 'history': return this.onHistory(f);
      case 'conversations': return this.onConversations(f);
      case 'error': return this.onError(f);
      case 'presence': return this.onPresence(f);
      case 'members': return this.onMembers(f);
      case 'typing': return this.onTyping(f);
      default: return undefined; // unknown frame types are ignored (forward compatibility)
    }
  }

  /** A stream entry: handled once, in seq order, and acked (duplicates too). */
  onEntry(f) {
    const order = entryOrder(this.pos.seq, f.seq);
    // Before `synced`, entries may be live ones of a stream that is about to be reset (numbered
    // from its new head, so they look like duplicates or gaps here): onSynced decides.
    if (!this.synced && this.early.length < MAX_EARLY) this.early.push(f);
    if (order === 'duplicate') this.acks.handled(f.seq);
    if (order === 'gap' && this.synced) this.resume(f.seq);
    if (order !== 'next') return;
    switch (f.type) {
      case 'message': this.onMessage(f); break;
      case 'receipt': this.onReceipt(f); break;
      case 'read': this.onRead(f); break;
      case 'rejected': this.onRejected(f); break;
      case 'group': this.onGroup(f); break;
      default: break; // kinds this client does not show still take their place in the stream
    }
    this.pos.seq = f.seq;
    this.acks.handled(f.seq);
    this.scheduleSave();
  }

  /** An entry is missing (the edge promises this never happens): a new session from the position. */
  resume(seq) {
    console.warn(`parley: stream entry ${seq} after ${this.pos.seq}; resuming`);
    this.conn.restart();
  }

  onSynced(f) {
    if (typeof f.epoch !== 'string' || !USER_ID_RE.test(f.epoch) || !Number.isSafeInteger(f.seq)) return;
    const { early } = this;
    this.early = [];
    this.synced = true;
    if (f.reset === true || (this.pos.epoch && this.pos.epoch !== f.epoch)) {
      this.dropCache();
      this.pos = { epoch: f.epoch, seq: f.seq };
      this.acks.reset(f.seq); // a reset moved the device's cursor to the head
      for (const e of early) this.onEntry(e);
    } else {
      if (!this.pos.epoch) this.cache.dropEpochs(f.epoch);
      if (this.pos.seq == null) this.acks.reset(f.seq);
      this.pos = { epoch: f.epoch, seq: this.pos.seq ?? f.seq };
      const missed = early.find((e) => e.seq > this.pos.seq);
      if (missed) this.resume(missed.seq);
    }
    this.convsNext = null;
    this.requestConvs(null);
    if (this.active) this.loadNewest(this.active);
    if (this.active && isGroup(this.active)) this.requestMembers(this.active);
    this.saveNow();
    this.render(true);
  }

  /** `synced` with `reset`: the cached view belongs to a stream position the server no longer
   *  has. Keeps only chats started here and the open one, empty, until the server refills them. */
  dropCache() {
    this.cache.dropEpochs(null);
    const keep = new Map();
    for (const c of this.convs.values()) {
      if (c.cseq === 0 || c.conv === this.active || this.outbox.of(c.conv).length) {
        keep.set(c.conv, newConv(c.conv, c.created));
      }
    }
    this.convs = keep;
    this.dirty = new Set(keep.keys());
    this.fresh.clear();
  }

  // ---- stream entries -----------------------------------------------------------------

  onMessage(f) {
    const m = readMessage(f);
    if (!m) return;
    const before = this.ensureConv(m.conv);
    const c = noteMessage(before, m, this.me);
    this.setConv({ ...c, run: runWithMessage(before.run, m) });
    this.dropLogged([m]);
    this.typing = dropTyping(this.typing, m.conv, m.from); // the message they were typing
    if (before.cseq === 0) this.scheduleWatch(); // a peer to watch now that they share a conversation
    if (c !== before && m.from !== this.me) {
      this.ui.announce(`New message from ${m.from}: ${m.gone ? '' : plainText(m.body)}`);
    }
    if (m.conv === this.active) this.markRead();
  }

  /** A receipt: in a dm the peer's watermark, in a group one member's read cursor (and, for
   *  the open group, a reason to read everyone's cursors again). */
  onReceipt(f) {
    if (typeof f.conv !== 'string' || !Number.isSafeInteger(f.cseq) || typeof f.by !== 'string' || f.by === this.me
      || (f.status !== 'delivered' && f.status !== 'read')) return;
    if (!isGroup(f.conv)) {
      this.setConv(noteReceipt(this.ensureConv(f.conv), f.status, f.cseq));
      return;
    }
    if (f.status === 'read' && this.members.has(f.conv)) {
      this.members.set(f.conv, noteMemberRead(this.members.get(f.conv), f.by, f.cseq));
      this.render(f.conv === this.active);
    }
    if (f.conv === this.active) this.requestMembers(f.conv);
  }

  /** A membership change of a group this user is (or was) in. */
  onGroup(f) {
    const g = readGroupEntry(f);
    if (!g) return;
    const op = typeof f.id === 'string' ? this.ops.get(f.id) : null;
    if (op) this.ops.delete(f.id); // our change is done
    const before = this.ensureConv(g.conv, g.ts);
    const c = noteGroupEntry(before, g, this.me);
    this.members.set(g.conv, applyGroupEntry(this.members.get(g.conv) ?? null, g));
    this.setConv(c);
    if (op && op.action === 'create' && !op.opened) this.open(g.conv); // it came before `sent`
    if (g.conv !== this.active) return;
    if (c.title !== before.title) this.ui.setConvTitle(this.titleOf(g.conv));
    this.ui.setLeft(c.left);
    if (c.left) clearInterval(this.membersTimer);
    else this.requestMembers(g.conv);
    this.markRead();
  }

  onRead(f) {
    if (typeof f.conv !== 'string' || !Number.isSafeInteger(f.cseq)) return;
    this.setConv(noteRead(this.ensureConv(f.conv), f.cseq));
  }

  onRejected(f) {
    const code = typeof f.code === 'string' ? f.code : 'rejected';
    const probe = { id: typeof f.id === 'string' ? f.id : null, msg: typeof f.msg === 'string' ? f.msg : null };
    if (probe.id && this.ops.has(probe.id)) {
      this.opFailed(probe.id, code);
      return;
    }
    const e = this.outbox.findCopy(probe);
    if (e) this.fail(e.cid, code, probe.msg);
    else this.ui.notice(`A message you sent was not delivered: ${ERROR_TEXT[code] || code}`);
  }

  // ---- answers ------------------------------------------------------------------------

  onSent(f) {
    if (typeof f.id !== 'string' || typeof f.msg !== 'string') return;
    if (this.ops.has(f.id)) {
      this.opSent(f);
      return;
    }
    this.inflight = this.inflight.filter((c) => c !== f.id);
    this.autoRetries.delete(f.id);
    const e = this.outbox.find(f.id);
    if (!e || e.status !== 'sending') return; // its log copy came first, or it was already sent
    this.outbox.update(f.id, { status: 'sent', msg: f.msg, ts: Number(f.ts) || e.ts });
    this.render(e.conv === this.active);
  }

  onHistory(f) {
    if (typeof f.conv !== 'string' || !Array.isArray(f.messages)) return;
    const before = this.history.get(f.conv) ?? null; // an answer nobody waits for: as the newest page
    this.history.delete(f.conv);
    if (before == null) this.fresh.add(f.conv);
    const msgs = f.messages.map(readMessage).filter((m) => m && m.conv === f.conv).sort((a, b) => a.cseq - b.cseq);
    const c = this.ensureConv(f.conv);
    const upTo = before == null ? this.newestUpTo.get(f.conv) ?? 0 : 0;
    this.setConv({ ...c, run: runWithHistory(c.run, msgs, f.more === true, before, upTo) });
    this.dropLogged(msgs);
  }

  onConversations(f) {
    this.convsLoading = false;
    if (!Array.isArray(f.items)) return;
    for (const item of f.items) {
      const s = readSummary(item);
      if (!s) continue;
      this.setConv(noteSummary(this.ensureConv(s.conv), s));
      if (s.last) this.dropLogged([s.last]);
    }
    this.convsNext = typeof f.next === 'string' && f.next ? f.next : null;
    this.scheduleWatch();
    this.markRead();
  }

  onError(f) {
    const text = typeof f.message === 'string' && f.message ? f.message : (ERROR_TEXT[f.code] || 'Error.');
    if (typeof f.id !== 'string' || !f.id) {
      // Queries carry no id: whichever failed may be asked again, older pages after a pause.
      this.history.clear();
      this.membersLoading.clear();
      this.olderPausedUntil = Date.now() + QUERY_PAUSE_MS;
      this.convsLoading = false;
      this.ui.notice(`Server: ${text}`);
      this.render(true);
      return;
    }
    const cid = f.id;
    if (this.ops.has(cid)) {
      this.opFailed(cid, typeof f.code === 'string' ? f.code : 'bad_request', f.message);
      return;
    }
    this.inflight = this.inflight.filter((c) => c !== cid);
    if (AUTO_RETRY_CODES.has(f.code)) {
      const r = this.autoRetries.get(cid) || { count: 0, timer: null };
      if (r.count < AUTO_RETRY_MAX) {
        r.count += 1;
        clearTimeout(r.timer);
        const delay = Math.min(30_000, 1000 * 2 ** r.count) * (0.7 + Math.random() * 0.6);
        r.timer = setTimeout(() => {
          const e = this.outbox.find(cid);
          if (e && e.status === 'sending') this.transmit(e);
        }, delay);
        this.autoRetries.set(cid, r);
        return; // stays "sending"
      }
    }
    const r = this.autoRetries.get(cid);
    if (r) clearTimeout(r.timer);
    this.autoRetries.delete(cid);
    this.fail(cid, typeof f.code === 'string' ? f.code : 'bad_request');
  }

  onPresence(f) {
    if (typeof f.user !== 'string') return;
    const status = f.status === 'online' ? 'online' : 'offline';
    const lastSeen = status === 'offline' && Number.isSafeInteger(f.last_seen) ? f.last_seen : null;
    this.presence.set(f.user, { status, lastSeen });
    if (this.active && dmPeer(this.active, this.me) === f.user) this.refreshHeader();
    this.render();
  }

  /** A page of a group's members: the next one is asked at once; the last one replaces the
   *  member list. */
  onMembers(f) {
    if (typeof f.conv !== 'string' || !Array.isArray(f.members)) return;
    const pages = this.membersLoading.get(f.conv) || [];
    pages.push(...f.members);
    if (typeof f.title === 'string' && f.title) {
      const c = this.ensureConv(f.conv);
      if (c.title !== f.title) {
        this.setConv({ ...c, title: f.title });
        if (f.conv === this.active) this.ui.setConvTitle(f.title);
      }
    }
    if (typeof f.next === 'string' && f.next) {
      this.membersLoading.set(f.conv, pages);
      this.requestMembers(f.conv, f.next);
      return;
    }
    this.membersLoading.delete(f.conv);
    this.members.set(f.conv, membersFromPage(pages));
    this.render(f.conv === this.active);
  }

  onTyping(f) {
    if (typeof f.conv !== 'string' || typeof f.user !== 'string' || f.user === this.me) return;
    this.typing = noteTyping(this.typing, f.conv, f.user, Date.now());
    this.scheduleTypingEnd();
    if (f.conv === this.active) this.refreshHeader();
  }

  /** Takes indicators down when their 5 s are over. */
  scheduleTypingEnd() {
    clearTimeout(this.typingTimer);
    const next = nextExpiry(this.typing, Date.now());
    if (next == null) return;
    this.typingTimer = setTimeout(() => {
      this.typing = pruneTyping(this.typing, Date.now());
      this.refreshHeader();
      this.scheduleTypingEnd();
    }, next - Date.now() + 10);
  }

  // ---- group change outcomes --------------------------------------------------------------

  opSent(f) {
    const op = this.ops.get(f.id);
    if (op.action === 'block' || op.action === 'unblock') {
      this.ops.delete(f.id); // nothing else comes for it
      this.ui.notice(`${op.action === 'block' ? 'Blocked' : 'Unblocked'} ${op.peer}.`);
      return;
    }
    if (op.action !== 'create' || typeof f.conv !== 'string' || !isGroup(f.conv)) return;
    const c = this.ensureConv(f.conv, Number(f.ts) || Date.now());
    if (!c.title) this.setConv({ ...c, title: op.title });
    op.opened = true;
    this.open(f.conv);
  }

  opFailed(cid, code, message = '') {
    const op = this.ops.get(cid);
    this.ops.delete(cid);
    const why = GROUP_ERROR_TEXT[code] || message || ERROR_TEXT[code] || code;
    this.ui.notice(`${OP_TEXT[op.action]}: ${why}`);
  }

  // ---- state --------------------------------------------------------------------------

  /** The conversation `conv`, made empty if unknown (`created`: when this user started it). */
  ensureConv(conv, created = 0) {
    let c = this.convs.get(conv);
    if (!c) {
      c = newConv(conv, created);
      this.convs.set(conv, c);
    }
    return c;
  }

  setConv(c) {
    const old = this.convs.get(c.conv);
    this.convs.set(c.conv, c);
    if (!old || old.run !== c.run) this.dirty.add(c.conv);
    this.scheduleSave();
    this.render(c.conv === this.active);
  }

  sortedConvs() {
    return [...this.convs.values()].sort(byActivity);
  }

  titleOf(conv) {
    const c = this.convs.get(conv);
    return dmPeer(conv, this.me) || (c && c.title) || (isGroup(conv) ? 'Group' : conv);
  }

  /** The dm peer's {status, lastSeen}; status unknown in groups and until the watch answer. */
  presenceInfo(conv) {
    const peer = dmPeer(conv, this.me);
    return (peer && this.presence.get(peer)) || { status: 'unknown', lastSeen: null };
  }

  presenceOf(conv) {
    return this.presenceInfo(conv).status;
  }

  /** The line under the open conversation's name: typing, presence or the group's size. */
  refreshHeader() {
    const c = this.active && this.convs.get(this.active);
    if (!c) return;
    const now = Date.now();
    const line = headerLine({
      conv: c.conv,
      typing: typers(this.typing, c.conv, now),
      presence: this.presenceInfo(c.conv),
      members: this.members.get(c.conv) ?? null,
      left: c.left,
    }, now);
    this.ui.setConvHeader(line, this.presenceOf(c.conv));
  }

  /** Takes outbox entries out once their message is in the log (`msgs` from the stream or history). */
  dropLogged(msgs) {
    this.outbox.dropLogged(msgs.filter((m) => m.from === this.me));
  }

  /** A send failed with `code`; `msg` when the log refused it after `sent`. */
  fail(cid, code, msg = null) {
    const e = this.outbox.find(cid);
    if (!e) return;
    this.outbox.update(cid, { status: 'failed', code, msg: msg || e.msg });
    this.render(e.conv === this.active);
  }

  scheduleSave() {
    if (!this.saveTimer) this.saveTimer = setTimeout(() => this.saveNow(), SAVE_DELAY_MS);
  }

  saveNow() {
    clearTimeout(this.saveTimer);
    this.saveTimer = null;
    if (!this.pos.epoch || this.pos.seq == null) return; // nothing to key the cache by before `synced`
    this.cache.save({ ...this.pos, acked: Math.min(this.acks.acked, this.pos.seq) }, this.sortedConvs(), this.dirty);
    this.dirty.clear();
  }

  // ---- rendering ----------------------------------------------------------------------

  /** Renders soon (coalesced): the list always, the open conversation if `messagesToo`. */
  render(messagesToo = false, forceScroll = false) {
    this.wantMessages = this.wantMessages || messagesToo;
    this.wantScroll = this.wantScroll || forceScroll;
    if (this.renderTimer) return;
    this.renderTimer = setTimeout(() => {
      this.renderTimer = null;
      const items = this.sortedConvs().map((c) => ({
        ...listItem(c, this.outbox.of(c.conv), this.me, this.titleOf(c.conv), dmPeer(c.conv, this.me),
          this.presenceOf(c.conv)),
        presenceText: presenceText(this.presenceInfo(c.conv)),
      }));
      this.ui.renderConvs(items, this.active);
      if (this.wantMessages && this.active) {
        const c = this.convs.get(this.active);
        const members = this.members.get(c.conv) ?? null;
        const loading = this.history.has(c.conv) || (!c.run && !this.synced);
        const view = conversationView(c, this.outbox.of(c.conv), this.me, loading, members);
        this.ui.renderMessages({ ...view, online: this.conn.online }, this.wantScroll);
        if (isGroup(c.conv)) {
          this.ui.group.render({
            conv: c.conv, rows: members && memberRows(members, this.me), admin: isAdmin(members, this.me), left: c.left,
          });
        }
        this.refreshHeader();
      }
      this.wantMessages = false;
      this.wantScroll = false;
    }, RENDER_DELAY_MS);
  }
}
