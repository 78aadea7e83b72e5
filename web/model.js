// The client's view of its conversations as pure functions over plain objects: no DOM, no
// storage, no socket (tests/browser/test_client_logic.py checks them in a real browser).
//
// A conversation `c`: {conv, title, created, cseq, last, read, unread, delivered, seen, run,
//                     left, events}
//   cseq       the last cseq known (a message or a group change); 0 for a chat started here
//              that has no message yet
//   last       that message (as readMessage returns it) or null
//   read       this user's read watermark; unread = messages from others above it
//   delivered, seen   receipt watermarks of the other member: delivered to / read up to
//   run        null, or the contiguous part of the log held here: {lo, hi, more, msgs} means
//              every message with lo <= cseq <= hi is in msgs (sorted by cseq), and `more`
//              says older messages exist below lo (in a group, a cseq in lo..hi without a
//              message is a membership change: the log holds messages only)
//   left, events   groups (group.js): this user is no longer a member; the newest group entries

/** A conversation nobody told this client anything about yet. */
export function newConv(conv, created = 0) {
  return {
    conv, title: null, created, cseq: 0, last: null, read: 0, unread: 0, delivered: 0, seen: 0, run: null,
    left: false, events: [],
  };
}

const isSeq = (n) => Number.isSafeInteger(n) && n >= 0;

/** A message as the server writes it (stream entry, history, `last`), checked and reduced to
 *  what the client keeps; null when it is not one. A body past retention is `gone`. */
export function readMessage(o) {
  if (!o || typeof o !== 'object' || typeof o.msg !== 'string' || typeof o.conv !== 'string'
    || typeof o.from !== 'string' || !isSeq(o.cseq) || o.cseq === 0) return null;
  const gone = o.gone === true || typeof o.body !== 'string';
  return {
    msg: o.msg,
    conv: o.conv,
    cseq: o.cseq,
    from: o.from,
    body: gone ? '' : o.body,
    ts: isSeq(o.ts) ? o.ts : 0,
    id: typeof o.id === 'string' ? o.id : null,
    gone,
  };
}

/** A `conversations` item, checked; null when it is not one. */
export function readSummary(o) {
  if (!o || typeof o !== 'object' || typeof o.conv !== 'string' || !isSeq(o.cseq)
    || !isSeq(o.read) || !isSeq(o.unread)) return null;
  return {
    conv: o.conv,
    title: typeof o.title === 'string' ? o.title : null,
    last: readMessage(o.last),
    cseq: o.cseq,
    read: o.read,
    unread: o.unread,
  };
}

// ---- the conversation's counters -------------------------------------------------------

/** This user read `c` up to `cseq` (a `read` entry, or a `read` this client sent). Never
 *  backwards. In a dm everything above `read` is from the peer, so the count stays exact. */
export function noteRead(c, cseq) {
  if (cseq <= c.read) return c;
  return { ...c, read: cseq, unread: cseq >= c.cseq ? 0 : Math.min(c.unread, c.cseq - cseq) };
}

/** A message of `c` arrived in the stream. Only one above the known `cseq` moves the counters,
 *  so replays and history never count twice. Sending marks read (the server does the same). */
export function noteMessage(c, m, me) {
  if (m.cseq <= c.cseq) return c;
  if (m.from === me) return { ...c, cseq: m.cseq, last: m, read: Math.max(c.read, m.cseq), unread: 0 };
  const unread = m.cseq <= c.read ? 0 : Math.min(c.unread + 1, m.cseq - c.read);
  return { ...c, cseq: m.cseq, last: m, unread };
}

/** A `receipt` entry: the other member has `status` (delivered | read) up to `cseq`. Read
 *  implies delivered. */
export function noteReceipt(c, status, cseq) {
  const delivered = Math.max(c.delivered, cseq);
  return { ...c, delivered, seen: status === 'read' ? Math.max(c.seen, cseq) : c.seen };
}

/** A `conversations` item (a snapshot that may be older than what the stream already told). */
export function noteSummary(c, s) {
  const base = s.cseq >= c.cseq
    ? { ...c, cseq: s.cseq, last: s.last || c.last, read: s.read, unread: s.unread }
    : c;
  return noteRead({ ...base, title: s.title ?? c.title }, Math.max(c.read, s.read));
}

/** When `c` last saw activity (ms): its last message, or when it was started here. */
function activityOf(c) {
  return c.last && c.last.ts ? c.last.ts : c.created;
}

/** Newest activity first, then by id (a stable order). */
export function byActivity(a, b) {
  return activityOf(b) - activityOf(a) || (a.conv < b.conv ? -1 : 1);
}

/** The tick of a message in `c`: received (from someone else) | sent | delivered | read. */
export function tickOf(c, m, me) {
  if (m.from !== me) return 'received';
  if (m.cseq <= c.seen) return 'read';
  return m.cseq <= c.delivered ? 'delivered' : 'sent';
}

// ---- runs ----------------------------------------------------------------------------------

/** `run` with the segment `seg` ({lo, hi, more, msgs}: every message in lo..hi) added. When
 *  the two neither overlap nor touch, the newer one is kept (older messages load again when
 *  the user scrolls up). */
export function mergeRun(run, seg) {
  if (!run || seg.lo > run.hi + 1) return seg;
  if (seg.hi < run.lo - 1) return run;
  const byCseq = new Map(run.msgs.map((m) => [m.cseq, m]));
  for (const m of seg.msgs) byCseq.set(m.cseq, m);
  let more = run.more;
  if (seg.lo < run.lo) more = seg.more;
  else if (seg.lo === run.lo) more = run.more && seg.more; // "no older ones" is the server's word
  return {
    lo: Math.min(run.lo, seg.lo),
    hi: Math.max(run.hi, seg.hi),
    more,
    msgs: [...byCseq.values()].sort((a, b) => a.cseq - b.cseq),
  };
}

/** `run` with one message from the stream. */
export function runWithMessage(run, m) {
  return mergeRun(run, { lo: m.cseq, hi: m.cseq, more: m.cseq > 1, msgs: [m] });
}

/** `run` with a `history` answer: `msgs` oldest first, asked with `before` (null for the newest
 *  page). A page covers everything from its first message up to `before` − 1; the newest page
 *  up to its last message or `upTo`, the conversation's last cseq known when it was asked
 *  (the log had everything up to there; in a group the cseqs after the last message may be
 *  membership changes). */
export function runWithHistory(run, msgs, more, before, upTo = 0) {
  if (!msgs.length) {
    if (before == null) return run || { lo: 1, hi: upTo, more: false, msgs: [] }; // nothing retained
    return run && run.lo === before ? { ...run, more: false } : run;
  }
  const hi = before == null ? Math.max(msgs[msgs.length - 1].cseq, upTo) : before - 1;
  return mergeRun(run, { lo: msgs[0].cseq, hi, more, msgs });
}

/** The newest `n` messages of `run` (what the cache keeps). */
export function trimRun(run, n) {
  if (!run || run.msgs.length <= n) return run;
  const msgs = run.msgs.slice(-n);
  return { lo: msgs[0].cseq, hi: run.hi, more: true, msgs };
}

// ---- the outbox ----------------------------------------------------------------------------

/** Own messages not in the log yet: {cid, conv, to, body, ts, status, msg, code}.
 *  status: sending (re-sent after every welcome with the same client id) | sent (`sent`
 *  arrived; waiting for its stream entry) | failed (`code`: refused by the edge, or a
 *  `rejected` entry). True when `m` is the log's copy of outbox entry `e`. */
export function isLogCopy(e, m) {
  return (m.id != null && m.id === e.cid) || (e.msg != null && m.msg === e.msg);
}

/** The outbox to store: this tab's entries, plus stored ones (written by other tabs) unless
 *  this tab already removed them (`done`: client ids). */
export function mergeOutbox(mine, stored, done) {
  const have = new Set(mine.map((e) => e.cid));
  const others = stored.filter((e) => !have.has(e.cid) && !done.has(e.cid));
  return [...mine, ...others].sort((a, b) => a.ts - b.ts);
}
