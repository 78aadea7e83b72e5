// What the client keeps in localStorage. The server is the source of truth; apart from the
// sign-in, the device id and the outbox this is a cache that makes a reload show something
// at once and lets the session resume with `since`.
//
//   parley/v1/session                    {user, token, via: "dev"|"token"}   (until Sign out)
//   parley/v1/last-user                  prefill for the sign-in form
//   parley/v2/device                     this browser's device id, "web-<20 hex>"
//   parley/v2/<me>/outbox                own messages not in the log yet (model.js)
//   parley/v2/<me>/pos                   {epoch, seq, acked}: the last stream entry handled in a
//                                        row, and the last one acked
//   parley/v2/<me>/<epoch>/convs         [conversation without its run; groups with their
//                                        newest changes (group.js)]
//   parley/v2/<me>/<epoch>/page/<conv>   the newest part of its run ({lo, hi, more, msgs})
//
// '/' occurs in no user id, epoch or conversation id, so keys never collide.

import { readGroupEntry } from './group.js';
import {
  byActivity, newConv, readMessage, trimRun,
} from './model.js';
import { dmConv, newDeviceId, USER_ID_RE } from './util.js';

const SESSION_KEY = 'parley/v1/session';
const LAST_USER_KEY = 'parley/v1/last-user';
const DEVICE_KEY = 'parley/v2/device';
/** Messages cached per conversation, and conversations with cached messages. */
const PAGE_CACHE = 100;
const PAGED_CONVS = 20;

function readJson(key, fallback) {
  try {
    const s = localStorage.getItem(key);
    return s == null ? fallback : JSON.parse(s);
  } catch {
    return fallback;
  }
}

function write(key, value) {
  try {
    localStorage.setItem(key, JSON.stringify(value));
    return true;
  } catch {
    return false;
  }
}

function keysWithPrefix(prefix) {
  const out = [];
  for (let i = 0; i < localStorage.length; i += 1) {
    const key = localStorage.key(i);
    if (key && key.startsWith(prefix)) out.push(key);
  }
  return out;
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

export function isSessionKey(key) {
  return key === SESSION_KEY;
}

/** The user name last signed in on this browser, to prefill the sign-in form. */
export function lastUser() {
  return localStorage.getItem(LAST_USER_KEY) || '';
}

export function rememberUser(user) {
  try { localStorage.setItem(LAST_USER_KEY, user); } catch { /* ignore */ }
}

/** This browser's device id, made on first use. */
export function deviceId() {
  const id = localStorage.getItem(DEVICE_KEY);
  if (id && USER_ID_RE.test(id)) return id;
  const made = newDeviceId();
  try { localStorage.setItem(DEVICE_KEY, made); } catch { /* a new id per page load then */ }
  return made;
}

function validConv(o) {
  return o && typeof o === 'object' && typeof o.conv === 'string'
    && ['cseq', 'read', 'unread', 'delivered', 'seen'].every((k) => Number.isSafeInteger(o[k]));
}

function readRun(o) {
  if (!o || typeof o !== 'object' || !Array.isArray(o.msgs)
    || !Number.isSafeInteger(o.lo) || !Number.isSafeInteger(o.hi)) return null;
  const msgs = o.msgs.map(readMessage);
  return msgs.every(Boolean) ? { lo: o.lo, hi: o.hi, more: o.more === true, msgs } : null;
}

/** One user's cache. */
export class Cache {
  constructor(me) {
    this.me = me;
    this.prefix = `parley/v2/${me}`;
  }

  pageKey(epoch, conv) { return `${this.prefix}/${epoch}/page/${conv}`; }

  /** {epoch, seq, acked} or null. */
  loadPos() {
    const p = readJson(`${this.prefix}/pos`, null);
    if (!p || typeof p.epoch !== 'string' || !USER_ID_RE.test(p.epoch) || !Number.isSafeInteger(p.seq)) return null;
    const acked = Number.isSafeInteger(p.acked) && p.acked <= p.seq ? p.acked : p.seq;
    return { epoch: p.epoch, seq: p.seq, acked };
  }

  /** The conversations of `epoch`, newest activity first, with their cached runs. Drops the
   *  pages of all but the newest PAGED_CONVS. */
  loadConvs(epoch) {
    const list = readJson(`${this.prefix}/${epoch}/convs`, []);
    const convs = (Array.isArray(list) ? list.filter(validConv) : [])
      .map((o) => ({
        ...newConv(o.conv),
        ...o,
        last: readMessage(o.last),
        run: null,
        left: o.left === true,
        events: Array.isArray(o.events) ? o.events.map(readGroupEntry).filter(Boolean) : [],
      }));
    convs.sort(byActivity);
    const paged = new Set(convs.slice(0, PAGED_CONVS).map((c) => this.pageKey(epoch, c.conv)));
    for (const key of keysWithPrefix(`${this.prefix}/${epoch}/page/`)) {
      if (!paged.has(key)) localStorage.removeItem(key);
    }
    for (const c of convs.slice(0, PAGED_CONVS)) c.run = readRun(readJson(this.pageKey(epoch, c.conv), null));
    return convs;
  }

  /** Writes the conversation list (sorted newest first), the pages of the `dirty` ones among
   *  the newest PAGED_CONVS, and then the position. A full storage only costs the cache (a
   *  missing page is read again from the server); false then. */
  save(pos, convs, dirty) {
    if (!write(`${this.prefix}/${pos.epoch}/convs`, convs.map((c) => ({ ...c, run: undefined })))) return false;
    let ok = true;
    const paged = new Set(convs.slice(0, PAGED_CONVS).map((c) => c.conv));
    for (const c of convs) {
      if (!dirty.has(c.conv)) continue;
      if (paged.has(c.conv) && c.run) ok = write(this.pageKey(pos.epoch, c.conv), trimRun(c.run, PAGE_CACHE)) && ok;
      else localStorage.removeItem(this.pageKey(pos.epoch, c.conv));
    }
    // Last, so a stored position never claims entries whose conversation list is not stored.
    return write(`${this.prefix}/pos`, pos) && ok;
  }

  /** Removes the cache of every epoch but `keep` (null: all). */
  dropEpochs(keep) {
    for (const key of keysWithPrefix(`${this.prefix}/`)) {
      const epoch = key.slice(this.prefix.length + 1).split('/')[0];
      if (key.split('/').length > 4 && epoch !== keep) localStorage.removeItem(key);
    }
  }

  loadOutbox() {
    const list = readJson(`${this.prefix}/outbox`, []);
    return Array.isArray(list) ? list.filter((e) => e && typeof e.cid === 'string'
      && typeof e.conv === 'string' && typeof e.body === 'string' && typeof e.ts === 'number') : [];
  }

  /** Returns false when the storage is full. */
  saveOutbox(outbox) {
    return write(`${this.prefix}/outbox`, outbox);
  }

  /** v1 kept every message in `parley/v1/<me>/…`: frees that space and returns its unsent
   *  messages as outbox entries. */
  migrateV1() {
    const out = [];
    for (const key of keysWithPrefix(`parley/v1/${this.me}/`)) {
      const list = key.includes('/conv/') ? readJson(key, []) : [];
      for (const e of Array.isArray(list) ? list : []) {
        if (e && e.status === 'sending' && typeof e.cid === 'string' && typeof e.to === 'string'
          && typeof e.body === 'string' && USER_ID_RE.test(e.to)) {
          out.push({ cid: e.cid, conv: dmConv(this.me, e.to), to: e.to, body: e.body, ts: Number(e.ts) || Date.now(), status: 'sending' });
        }
      }
      localStorage.removeItem(key);
    }
    return out;
  }
}
