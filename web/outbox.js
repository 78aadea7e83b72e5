// Own messages not in the conversation log yet, kept in localStorage so that a reload or a
// lost connection loses none. Entries: {cid, conv, to, body, ts, status, msg, code}, status
// sending | sent | failed (model.js, isLogCopy).

import { isLogCopy, mergeOutbox } from './model.js';
import { newClientId } from './util.js';

export class Outbox {
  /** `onFull()` is called when the storage refuses the outbox. */
  constructor(cache, onFull) {
    this.cache = cache;
    this.onFull = onFull;
    this.done = new Set(); // client ids this tab took out, so another tab's copy does not bring them back
    this.entries = cache.loadOutbox();
    this.lastTs = 0;
    const migrated = cache.migrateV1();
    if (migrated.length) {
      this.entries.push(...migrated);
      this.save();
    }
  }

  find(cid) {
    return this.entries.find((e) => e.cid === cid) || null;
  }

  /** The entry a `rejected` notice or a log message ({id, msg}) stands for. */
  findCopy(m) {
    return this.entries.find((e) => isLogCopy(e, m)) || null;
  }

  of(conv) {
    return this.entries.filter((e) => e.conv === conv);
  }

  /** A message the user typed; `to` is set when it starts a conversation the server has not
   *  told about yet. */
  add(conv, to, body) {
    this.lastTs = Math.max(Date.now(), this.lastTs + 1); // keeps typing order within one ms
    const e = {
      cid: newClientId(), conv, to, body, ts: this.lastTs, status: 'sending', msg: null, code: null,
    };
    this.entries.push(e);
    this.save();
    return e;
  }

  /** Entry `cid` with `patch` applied; null if there is none. */
  update(cid, patch) {
    const old = this.find(cid);
    if (!old) return null;
    const e = { ...old, ...patch };
    if (e.cid !== cid) this.done.add(cid);
    this.entries = this.entries.map((x) => (x === old ? e : x));
    this.save();
    return e;
  }

  /** A failed entry sent again: with the same client id, unless the log refused it (it has a
   *  `msg`): then it is a new message. Null if `cid` is not a failed entry. */
  retry(cid) {
    const e = this.find(cid);
    if (!e || e.status !== 'failed') return null;
    return this.update(cid, { cid: e.msg ? newClientId() : cid, status: 'sending', msg: null, code: null });
  }

  /** Takes out the entries whose message is among `msgs` (messages of the log). */
  dropLogged(msgs) {
    const left = this.entries.filter((e) => !msgs.some((m) => m.conv === e.conv && isLogCopy(e, m)));
    if (left.length === this.entries.length) return;
    for (const e of this.entries) if (!left.includes(e)) this.done.add(e.cid);
    this.entries = left;
    this.save();
  }

  save() {
    if (!this.cache.saveOutbox(mergeOutbox(this.entries, this.cache.loadOutbox(), this.done))) this.onFull();
  }
}
