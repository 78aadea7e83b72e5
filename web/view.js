// What the UI shows, computed from the state: pure functions (ui.js does the DOM).

import { eventText, isGroup, readBy } from './group.js';
import { tickOf } from './model.js';
import { typingText } from './typing.js';
import { lastSeenText } from './util.js';

export const ERROR_TEXT = {
  invalid_recipient: 'No such user.',
  too_large: 'Message is too long.',
  bad_request: 'The server rejected this message.',
  rate_limited: 'Sending too fast.',
  unavailable: 'Server busy.',
  not_member: 'Not a member of this conversation.',
  forbidden: 'Not allowed.',
  blocked: 'Blocked.',
  quota_exceeded: 'Over the sending limit.',
};

/** Why a group change (create, add, remove, leave) was refused. */
export const GROUP_ERROR_TEXT = {
  forbidden: 'Only an admin can do that (or you are in too many groups).',
  too_large: 'The group would have too many members.',
  not_member: 'You are not a member of this group.',
  bad_request: 'Nothing to change.',
  invalid_recipient: 'No such user.',
};

/** A peer's presence as the header shows it under their name: `p` = {status, lastSeen}. */
export function presenceText(p, now = Date.now()) {
  if (!p || p.status === 'unknown') return 'status unknown';
  if (p.status === 'online') return 'online';
  return p.lastSeen ? lastSeenText(p.lastSeen, now) : 'offline';
}

/** The line under the open conversation's name: who is typing, else the dm peer's presence,
 *  else the group's size. `typing`: the users typing (typing.js); `members`: the group's
 *  member list (group.js) or null. */
export function headerLine({ conv, typing, presence, members, left }, now = Date.now()) {
  const group = isGroup(conv);
  if (typing.length && !left) return { kind: 'typing', text: typingText(typing, group) };
  if (!group) return { kind: 'presence', text: presenceText(presence, now) };
  if (left) return { kind: 'members', text: 'You are no longer a member' };
  const n = members ? Object.keys(members).length : null;
  return { kind: 'members', text: n == null ? 'Group' : `${n} member${n === 1 ? '' : 's'}` };
}

/** A conversation list item: `c` (model.js), its outbox entries, its title, peer (dm) and
 *  presence. The preview is the newest of the last logged message and the last unsent one. */
export function listItem(c, pending, me, title, peer, presence) {
  const mine = pending[pending.length - 1];
  const last = mine && (!c.last || mine.ts >= c.last.ts) ? { ...mine, from: me, gone: false } : c.last;
  return {
    conv: c.conv,
    title,
    peer,
    presence,
    last: last && { own: last.from === me, body: last.body, gone: last.gone, ts: last.ts },
    sender: isGroup(c.conv) && last && last.from !== me ? last.from : null, // groups name who wrote
    unread: c.unread,
  };
}

/** An own message's tick in a group: read once every other member read it, else sent (groups
 *  have no delivered receipts). */
function groupTick(n, members, me) {
  const others = members ? Object.keys(members).filter((u) => u !== me).length : 0;
  return n != null && others > 0 && n >= others ? 'read' : 'sent';
}

/** The open conversation: its run's messages with their ticks (and its group changes, by
 *  cseq), then its outbox entries. `loading`: a history query for it is in flight (or cannot
 *  be asked yet). Each item has a key that stays the same when an unsent message becomes its
 *  log copy (the client id). In a group (`members`: its member list or null) own messages
 *  count who read them (`readBy`), and others' messages name the sender when it changes. */
export function conversationView(c, pending, me, loading, members = null) {
  const group = isGroup(c.conv);
  const messages = (c.run ? c.run.msgs : []).map((m) => {
    const n = group && m.from === me ? readBy(members, m.cseq, me) : null;
    return {
      kind: 'message',
      key: m.id ? `c:${m.id}` : `m:${m.msg}`,
      cid: m.id,
      msg: m.msg,
      cseq: m.cseq,
      from: m.from,
      own: m.from === me,
      body: m.body,
      gone: m.gone,
      ts: m.ts,
      status: group && m.from === me ? groupTick(n, members, me) : tickOf(c, m, me),
      readBy: n,
      code: null,
      error: '',
    };
  });
  const lo = c.run && c.run.more ? c.run.lo : 0; // older changes show once the messages around them do
  const events = (c.events || []).filter((g) => g.cseq >= lo).map((g) => ({
    kind: 'event', key: `e:${g.cseq}`, cseq: g.cseq, text: eventText(g, me), ts: g.ts,
  }));
  const logged = [...messages, ...events].sort((a, b) => a.cseq - b.cseq);
  let prev = null;
  for (const it of logged) {
    it.sender = group && it.kind === 'message' && !it.own && it.from !== prev ? it.from : null;
    prev = it.kind === 'message' ? it.from : null;
  }
  const unsent = pending.map((e) => ({
    kind: 'message',
    key: `c:${e.cid}`,
    cid: e.cid,
    msg: e.msg,
    cseq: null,
    from: me,
    own: true,
    body: e.body,
    gone: false,
    ts: e.ts,
    status: e.status,
    readBy: null,
    sender: null,
    code: e.code || null,
    error: e.status === 'failed' ? `${ERROR_TEXT[e.code] || 'Not delivered.'} (${e.code})` : '',
  }));
  let history = 'start';
  if (loading) history = 'loading';
  else if (c.run && c.run.more) history = 'more';
  return { conv: c.conv, items: [...logged, ...unsent], history };
}
