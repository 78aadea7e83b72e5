// Groups as pure functions over plain objects (tests/browser/test_client_logic.py checks them):
// `group` stream entries, the member list (from `members` pages, kept current by the entries),
// read-by counts, and what the user types into the group forms.
//
// A member list `members`: {user: {role: "admin" | "member", joined, read}}, or null while
// unknown. A conversation (model.js) of a group also holds `left` (this user is no longer a
// member) and `events` (the newest group entries, shown between the messages).

import { mergeRun } from './model.js';
import { USER_ID_RE } from './util.js';

/** Group entries a conversation keeps to show (older ones are only in the member list). */
export const MAX_EVENTS = 50;
/** The edge's limits on a title (UTF-8 bytes) and on the users one change names. */
export const MAX_TITLE_BYTES = 128;
export const MAX_GROUP_MEMBERS = 1000;

const EVENTS = new Set(['created', 'added', 'removed', 'left']);
const isSeq = (n) => Number.isSafeInteger(n) && n >= 0;

export function isGroup(conv) {
  return typeof conv === 'string' && conv.startsWith('g:');
}

/** A `group` entry as the server writes it, checked and reduced; null when it is not one. */
export function readGroupEntry(o) {
  if (!o || typeof o !== 'object' || !isGroup(o.conv) || !isSeq(o.cseq) || o.cseq === 0
    || !EVENTS.has(o.event) || typeof o.by !== 'string') return null;
  const members = Array.isArray(o.members) ? o.members.filter((u) => typeof u === 'string') : [];
  return {
    conv: o.conv,
    cseq: o.cseq,
    msg: typeof o.msg === 'string' ? o.msg : null,
    event: o.event,
    by: o.by,
    members,
    title: typeof o.title === 'string' ? o.title : null,
    admin: typeof o.admin === 'string' ? o.admin : null,
    ts: isSeq(o.ts) ? o.ts : 0,
  };
}

/** The users a group entry takes out of the group. */
function leaving(g) {
  if (g.event === 'removed') return g.members;
  if (g.event === 'left') return [g.by, ...g.members];
  return [];
}

/** The member list after entry `g`. Joins and leaves are set operations, so an entry the
 *  list already reflects (a `members` page read after it) changes nothing. An unknown list
 *  stays unknown, except after `created`, which names everyone. */
export function applyGroupEntry(members, g) {
  if (!members && g.event !== 'created') return members;
  const out = { ...(members || {}) };
  const join = (user, role) => {
    if (!out[user]) out[user] = { role, joined: g.cseq, read: 0 };
  };
  if (g.event === 'created') join(g.by, 'admin');
  if (g.event === 'created' || g.event === 'added') for (const u of g.members) join(u, 'member');
  for (const u of leaving(g)) delete out[u];
  if (g.admin && out[g.admin]) out[g.admin] = { ...out[g.admin], role: 'admin' };
  return out;
}

/** The conversation `c` after its group entry `g`: title, `cseq` (not unread: a change is no
 *  message), whether this user is still in, the entry among the shown ones, and the run (the
 *  log has no entry at that `cseq`, so the run covers it without a message). */
export function noteGroupEntry(c, g, me) {
  if (c.events.some((e) => e.cseq === g.cseq)) return c;
  let { left } = c;
  if ((g.event === 'created' && (g.by === me || g.members.includes(me))) || (g.event === 'added' && g.members.includes(me))) left = false;
  if (leaving(g).includes(me)) left = true;
  const events = [...c.events, g].sort((a, b) => a.cseq - b.cseq).slice(-MAX_EVENTS);
  return {
    ...c,
    title: g.title ?? c.title,
    cseq: Math.max(c.cseq, g.cseq),
    left,
    events,
    run: c.run ? mergeRun(c.run, { lo: g.cseq, hi: g.cseq, more: g.cseq > 1, msgs: [] }) : null,
  };
}

/** The member list of `members` pages (GroupMemberInfo items, invalid ones skipped). */
export function membersFromPage(items) {
  const out = {};
  for (const m of Array.isArray(items) ? items : []) {
    if (!m || typeof m.user !== 'string' || (m.role !== 'admin' && m.role !== 'member')) continue;
    out[m.user] = { role: m.role, joined: isSeq(m.joined) ? m.joined : 0, read: isSeq(m.read) ? m.read : 0 };
  }
  return out;
}

/** A `read` receipt of `user` up to `cseq` (read cursors never move back). */
export function noteMemberRead(members, user, cseq) {
  const m = members && members[user];
  if (!m || cseq <= m.read) return members;
  return { ...members, [user]: { ...m, read: cseq } };
}

/** How many members other than `me` read up to `cseq` (null while the list is unknown). */
export function readBy(members, cseq, me) {
  if (!members) return null;
  return Object.entries(members).filter(([u, m]) => u !== me && m.read >= cseq).length;
}

export function isAdmin(members, me) {
  return !!(members && members[me] && members[me].role === 'admin');
}

/** The member list for the panel: admins first, then by user id. */
export function memberRows(members, me) {
  return Object.entries(members || {})
    .map(([user, m]) => ({ user, role: m.role, me: user === me }))
    .sort((a, b) => (a.role === b.role ? (a.user < b.user ? -1 : 1) : (a.role === 'admin' ? -1 : 1)));
}

const who = (u, me) => (u === me ? 'You' : u);
const list = (users, me) => users.map((u) => (u === me ? 'you' : u)).join(', ');

/** One line for a group entry between the messages, e.g. "alice added bob, carol". */
export function eventText(g, me) {
  let text;
  if (g.event === 'created') text = `${who(g.by, me)} created the group${g.title ? ` “${g.title}”` : ''}`;
  else if (g.event === 'added') text = `${who(g.by, me)} added ${list(g.members, me)}`;
  else if (g.event === 'removed') text = `${who(g.by, me)} removed ${list(g.members, me)}`;
  else text = `${who(g.by, me)} left`;
  if (g.admin) text += ` · ${g.admin === me ? 'you are' : `${g.admin} is`} now an admin`;
  return text;
}

/** User ids typed into a form, separated by commas or spaces: {users} (de-duplicated, without
 *  `me`) or {error}. `least`: 0 (a group may start with its creator alone) or 1. */
export function parseUserList(text, me, least = 1) {
  const words = String(text).split(/[\s,]+/).filter(Boolean);
  const bad = words.filter((w) => !USER_ID_RE.test(w));
  if (bad.length) return { error: `Not a user id: ${bad.slice(0, 3).join(', ')}` };
  const users = [...new Set(words)].filter((u) => u !== me);
  if (users.length < least) return { error: 'Name at least one other user.' };
  if (users.length > MAX_GROUP_MEMBERS) return { error: `At most ${MAX_GROUP_MEMBERS} users.` };
  return { users };
}

/** A group title as typed: {title} (trimmed) or {error}. */
export function checkTitle(text) {
  const title = String(text).trim();
  if (!title) return { error: 'Give the group a name.' };
  if (new TextEncoder().encode(title).length > MAX_TITLE_BYTES) return { error: 'That name is too long.' };
  return { title };
}
