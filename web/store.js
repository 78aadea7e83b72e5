// Local state kept in localStorage, per signed-in user:
//
//   parley/v1/session             {user, token, via: "dev"|"token"}   (until Sign out)
//   parley/v1/<me>/contacts       {"<peer>": {added, readTs}}
//   parley/v1/<me>/conv/<peer>    [message entries, oldest first]
//
// '/' cannot appear in a user id, so keys never collide. A message entry is
//   {cid, msg, from, to, body, ts, status, err}
// cid: client id (own messages sent from this browser), msg: server msg id (null until `sent`),
// status: "sending" (also the persisted outbox) | "failed" | "sent" | "delivered" | "received".
//
// Every write is read-merge-write, so two tabs of the same user never erase each other's
// messages; the `storage` event merges the other tab's writes into memory.

const ROOT = 'parley/v1';
const SESSION_KEY = `${ROOT}/session`;
const MAX_PER_CONV = 1000; // older messages are pruned (never unsent ones)

const RANK = { sending: 0, failed: 0, received: 1, sent: 2, delivered: 3 };

function readJson(key, fallback) {
  try {
    const s = localStorage.getItem(key);
    return s == null ? fallback : JSON.parse(s);
  } catch {
    return fallback;
  }
}

export function loadSession() {
  const s = readJson(SESSION_KEY, null);
  if (s && typeof s.user === 'string' && typeof s.token === 'string') return s;
  return null;
}

export function saveSession(session) {
  localStorage.setItem(SESSION_KEY, JSON.stringify(session));
}

export function clearSession() {
  localStorage.removeItem(SESSION_KEY);
}

/** The user name last signed in on this browser, to prefill the sign-in form. */
export function lastUser() {
  return localStorage.getItem(`${ROOT}/last-user`) || '';
}

export function rememberUser(user) {
  try { localStorage.setItem(`${ROOT}/last-user`, user); } catch { /* ignore */ }
}

/** Merges entry `o` into `p` (p is preferred for everything not yet confirmed). */
function mergeEntry(p, o) {
  const out = { ...p };
  if (!out.msg && o.msg) { out.msg = o.msg; out.ts = o.ts; }
  if (!out.cid && o.cid) out.cid = o.cid;
  if ((RANK[o.status] ?? 0) > (RANK[out.status] ?? 0) && (RANK[o.status] ?? 0) >= 2) {
    out.status = o.status;
    delete out.err;
  }
  return out;
}

function compareEntries(a, b) {
  if (a.ts !== b.ts) return a.ts - b.ts;
  const ka = a.msg || `~${a.cid}`;
  const kb = b.msg || `~${b.cid}`;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

/** Union of two entry lists; `pref` wins ties. Sorted by (ts, msg id). */
export function mergeLists(pref, other) {
  const out = [];
  const byMsg = new Map(); // msg id → index in out
  const byCid = new Map(); // client id → index in out
  const put = (e, isPref) => {
    let i = -1;
    if (e.msg && byMsg.has(e.msg)) i = byMsg.get(e.msg);
    else if (e.cid && byCid.has(e.cid)) i = byCid.get(e.cid);
    if (i < 0) {
      i = out.length;
      out.push({ ...e });
    } else {
      out[i] = isPref ? mergeEntry(e, out[i]) : mergeEntry(out[i], e);
    }
    if (out[i].msg) byMsg.set(out[i].msg, i);
    if (out[i].cid) byCid.set(out[i].cid, i);
  };
  for (const e of pref) put(e, true);
  for (const e of other) put(e, false);
  out.sort(compareEntries);
  return out;
}

function prune(list, max) {
  if (list.length <= max) return list;
  const excess = list.length - max;
  let dropped = 0;
  return list.filter((e) => {
    if (dropped < excess && e.status !== 'sending' && e.status !== 'failed') {
      dropped += 1;
      return false;
    }
    return true;
  });
}

export class Store {
  constructor(me) {
    this.me = me;
    this.prefix = `${ROOT}/${me}`;
    this.contacts = new Map(); // peer → {added, readTs}
    this.convs = new Map(); // peer → entries
    this.byMsg = new Map(); // msg id → peer
    this.byCid = new Map(); // client id → peer
    this.pendingReceipts = new Set(); // msg ids receipted before we saw `sent`
    this.quotaProblem = false;
    this.load();
  }

  convKey(peer) { return `${this.prefix}/conv/${peer}`; }
  get contactsKey() { return `${this.prefix}/contacts`; }

  load() {
    const c = readJson(this.contactsKey, {});
    for (const [peer, v] of Object.entries(c || {})) {
      this.contacts.set(peer, { added: Number(v.added) || 0, readTs: Number(v.readTs) || 0 });
    }
    const convPrefix = `${this.prefix}/conv/`;
    for (let i = 0; i < localStorage.length; i += 1) {
      const key = localStorage.key(i);
      if (key && key.startsWith(convPrefix)) {
        const peer = key.slice(convPrefix.length);
        const list = readJson(key, []);
        if (Array.isArray(list)) {
          this.convs.set(peer, mergeLists(list.filter(validEntry), []));
          if (!this.contacts.has(peer)) this.contacts.set(peer, { added: 0, readTs: 0 });
        }
      }
    }
    this.reindex();
    this.lastOutTs = this.outbox().reduce((m, e) => Math.max(m, e.ts), 0);
  }

  reindex() {
    this.byMsg.clear();
    this.byCid.clear();
    for (const [peer, list] of this.convs) {
      for (const e of list) {
        if (e.msg) this.byMsg.set(e.msg, peer);
        if (e.cid) this.byCid.set(e.cid, peer);
      }
    }
  }

  write(key, value) {
    try {
      localStorage.setItem(key, JSON.stringify(value));
      this.quotaProblem = false;
      return true;
    } catch {
      this.quotaProblem = true;
      return false;
    }
  }

  saveContacts() {
    const stored = readJson(this.contactsKey, {}) || {};
    for (const [peer, v] of Object.entries(stored)) {
      const mine = this.contacts.get(peer);
      if (!mine) this.contacts.set(peer, { added: Number(v.added) || 0, readTs: Number(v.readTs) || 0 });
      else mine.readTs = Math.max(mine.readTs, Number(v.readTs) || 0);
    }
    this.write(this.contactsKey, Object.fromEntries(this.contacts));
  }

  saveConv(peer) {
    const mine = this.convs.get(peer) || [];
    const stored = readJson(this.convKey(peer), []);
    let merged = mergeLists(mine, Array.isArray(stored) ? stored.filter(validEntry) : []);
    merged = prune(merged, MAX_PER_CONV);
    if (!this.write(this.convKey(peer), merged)) {
      merged = prune(merged, 100); // out of quota: keep the recent part rather than nothing
      this.write(this.convKey(peer), merged);
    }
    this.convs.set(peer, merged);
    for (const e of merged) {
      if (e.msg) this.byMsg.set(e.msg, peer);
      if (e.cid) this.byCid.set(e.cid, peer);
    }
  }

  /** Another tab wrote `key`; merge it in. Returns the peer whose conversation changed, the
   *  string "contacts", or null. */
  onStorage(key, newValue) {
    if (!key || !key.startsWith(`${this.prefix}/`)) return null;
    if (key === this.contactsKey) {
      let v = {};
      try { v = JSON.parse(newValue || '{}') || {}; } catch { /* ignore */ }
      for (const [peer, c] of Object.entries(v)) {
        const mine = this.contacts.get(peer);
        if (!mine) this.contacts.set(peer, { added: Number(c.added) || 0, readTs: Number(c.readTs) || 0 });
        else mine.readTs = Math.max(mine.readTs, Number(c.readTs) || 0);
      }
      return 'contacts';
    }
    const convPrefix = `${this.prefix}/conv/`;
    if (key.startsWith(convPrefix)) {
      const peer = key.slice(convPrefix.length);
      let v = [];
      try { v = JSON.parse(newValue || '[]'); } catch { /* ignore */ }
      if (!Array.isArray(v)) return null;
      this.convs.set(peer, mergeLists(this.convs.get(peer) || [], v.filter(validEntry)));
      if (!this.contacts.has(peer)) this.contacts.set(peer, { added: 0, readTs: 0 });
      this.reindex();
      return peer;
    }
    return null;
  }

  peerOf(from, to) {
    return from === this.me ? to : from;
  }

  /** Adds a contact. Returns false if it was already there. */
  addContact(peer) {
    if (this.contacts.has(peer)) return false;
    this.contacts.set(peer, { added: Date.now(), readTs: 0 });
    this.saveContacts();
    return true;
  }

  /** Adds the contact if missing. Returns true when it was new. */
  ensureContact(peer) {
    if (this.contacts.has(peer)) return false;
    this.contacts.set(peer, { added: Date.now(), readTs: 0 });
    this.saveContacts();
    return true;
  }

  messages(peer) {
    return this.convs.get(peer) || [];
  }

  lastMessage(peer) {
    const l = this.convs.get(peer);
    return l && l.length ? l[l.length - 1] : null;
  }

  unread(peer) {
    const c = this.contacts.get(peer);
    const readTs = c ? c.readTs : 0;
    let n = 0;
    for (const e of this.messages(peer)) if (e.from !== this.me && e.ts > readTs) n += 1;
    return n;
  }

  markRead(peer) {
    const c = this.contacts.get(peer);
    const last = this.messages(peer).reduce((m, e) => (e.from !== this.me ? Math.max(m, e.ts) : m), 0);
    if (c && last > c.readTs) {
      c.readTs = last;
      this.saveContacts();
    }
  }

  /** Contacts, most recent activity first. */
  sortedContacts() {
    const act = (p) => {
      const last = this.lastMessage(p);
      return Math.max(last ? last.ts : 0, this.contacts.get(p).added || 0);
    };
    return [...this.contacts.keys()].sort((a, b) => act(b) - act(a) || (a < b ? -1 : 1));
  }

  findByCid(cid) {
    const peer = this.byCid.get(cid);
    if (!peer) return null;
    const e = this.messages(peer).find((x) => x.cid === cid);
    return e ? { peer, e } : null;
  }

  findByMsg(msg) {
    const peer = this.byMsg.get(msg);
    if (!peer) return null;
    const e = this.messages(peer).find((x) => x.msg === msg);
    return e ? { peer, e } : null;
  }

  /** A `message` frame. Returns {peer, isNew, newContact}. */
  addIncoming(m) {
    const peer = this.peerOf(m.from, m.to);
    if (this.byMsg.has(m.msg)) return { peer: this.byMsg.get(m.msg), isNew: false, newContact: false };
    const entry = {
      cid: null, msg: m.msg, from: m.from, to: m.to, body: m.body, ts: m.ts,
      status: m.from === this.me ? 'sent' : 'received',
    };
    if (this.pendingReceipts.delete(m.msg) && m.from === this.me) entry.status = 'delivered';
    const newContact = this.ensureContact(peer);
    this.convs.set(peer, mergeLists(this.messages(peer), [entry]));
    this.byMsg.set(m.msg, peer);
    this.saveConv(peer);
    return { peer, isNew: true, newContact };
  }

  /** A message typed here. Returns the entry (status "sending"). */
  addOutgoing(to, body, cid) {
    // Strictly increasing local times keep the outbox in typing order even within one ms;
    // the server's `ts` replaces this on `sent`.
    this.lastOutTs = Math.max(Date.now(), (this.lastOutTs || 0) + 1);
    const entry = { cid, msg: null, from: this.me, to, body, ts: this.lastOutTs, status: 'sending' };
    this.ensureContact(to);
    this.convs.set(to, mergeLists(this.messages(to), [entry]));
    this.byCid.set(cid, to);
    this.saveConv(to);
    return entry;
  }

  /** `sent`: returns the peer, or null when the client id is unknown. */
  markSent(cid, msg, ts) {
    const found = this.findByCid(cid);
    if (!found) return null;
    const { peer, e } = found;
    let list = this.messages(peer);
    const dup = list.find((x) => x !== e && x.msg === msg);
    if (dup) list = list.filter((x) => x !== dup); // our own copy arrived first as a `message`
    const status = (dup && dup.status === 'delivered') || this.pendingReceipts.delete(msg)
      ? 'delivered' : (e.status === 'delivered' ? 'delivered' : 'sent');
    const updated = { ...e, msg, ts: typeof ts === 'number' ? ts : e.ts, status };
    delete updated.err;
    list = list.map((x) => (x === e ? updated : x));
    this.convs.set(peer, mergeLists(list, []));
    this.byMsg.set(msg, peer);
    this.saveConv(peer);
    return peer;
  }

  /** `receipt`: returns the peer, or null (then remembered until the msg id shows up). */
  markDelivered(msg, cid) {
    const found = this.findByMsg(msg) || (cid ? this.findByCid(cid) : null);
    if (!found || found.e.from !== this.me) {
      if (!found) this.pendingReceipts.add(msg);
      return null;
    }
    return this.update(found.peer, found.e, { status: 'delivered', msg, err: undefined });
  }

  markFailed(cid, err) {
    const found = this.findByCid(cid);
    if (!found || RANK[found.e.status] >= 2) return null;
    return this.update(found.peer, found.e, { status: 'failed', err });
  }

  markSending(cid) {
    const found = this.findByCid(cid);
    if (!found || RANK[found.e.status] >= 2) return null;
    return this.update(found.peer, found.e, { status: 'sending', err: undefined });
  }

  update(peer, e, patch) {
    const updated = { ...e, ...patch };
    for (const k of Object.keys(updated)) if (updated[k] === undefined) delete updated[k];
    // Direct replacement (not mergeLists) so a status may go down, e.g. sending → failed.
    this.convs.set(peer, this.messages(peer).map((x) => (x === e ? updated : x)));
    this.saveConv(peer);
    return peer;
  }

  /** Own messages not yet confirmed by `sent`, oldest first: the outbox. */
  outbox() {
    const out = [];
    for (const list of this.convs.values()) {
      for (const e of list) if (e.from === this.me && e.status === 'sending' && e.cid) out.push(e);
    }
    return out.sort(compareEntries);
  }
}

function validEntry(e) {
  return e && typeof e === 'object' && typeof e.from === 'string' && typeof e.to === 'string'
    && typeof e.body === 'string' && typeof e.ts === 'number' && (e.msg || e.cid);
}
