// What the UI shows, computed from the state: pure functions (ui.js does the DOM).

import { tickOf } from './model.js';

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
    unread: c.unread,
  };
}

/** The open conversation: its run's messages with their ticks, then its outbox entries.
 *  `loading`: a history query for it is in flight (or cannot be asked yet). Each item has a
 *  key that stays the same when an unsent message becomes its log copy (the client id). */
export function conversationView(c, pending, me, loading) {
  const logged = (c.run ? c.run.msgs : []).map((m) => ({
    key: m.id ? `c:${m.id}` : `m:${m.msg}`,
    cid: m.id,
    msg: m.msg,
    cseq: m.cseq,
    from: m.from,
    own: m.from === me,
    body: m.body,
    gone: m.gone,
    ts: m.ts,
    status: tickOf(c, m, me),
    code: null,
    error: '',
  }));
  const unsent = pending.map((e) => ({
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
    code: e.code || null,
    error: e.status === 'failed' ? `${ERROR_TEXT[e.code] || 'Not delivered.'} (${e.code})` : '',
  }));
  let history = 'start';
  if (loading) history = 'loading';
  else if (c.run && c.run.more) history = 'more';
  return { conv: c.conv, items: [...logged, ...unsent], history };
}
