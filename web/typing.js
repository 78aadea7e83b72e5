// Typing indicators as pure functions (tests/browser/test_client_logic.py checks them).
//
// `typing`: {conv: {user: until}} — who was last said to type in each conversation, and until
// when (ms) to show it. The server forwards at most one `typing` per session and conversation
// every 2 s, so an indicator 5 s after the last one bridges the pauses of someone typing.

/** How often this client sends `typing` while the user types. */
export const TYPING_SEND_MS = 2000;
/** How long an indicator stays without a new `typing`. */
export const TYPING_SHOW_MS = 5000;

/** `user` is typing in `conv` (a `typing` frame at `now`). */
export function noteTyping(typing, conv, user, now) {
  return { ...typing, [conv]: { ...(typing[conv] || {}), [user]: now + TYPING_SHOW_MS } };
}

/** `user` stopped typing in `conv` (their message arrived). */
export function dropTyping(typing, conv, user) {
  if (!typing[conv] || !(user in typing[conv])) return typing;
  const users = { ...typing[conv] };
  delete users[user];
  return { ...typing, [conv]: users };
}

/** Who is typing in `conv` at `now`, sorted. */
export function typers(typing, conv, now) {
  return Object.entries(typing[conv] || {}).filter(([, until]) => until > now).map(([u]) => u).sort();
}

/** The earliest moment after `now` at which an indicator ends (null: none shown). */
export function nextExpiry(typing, now) {
  let next = null;
  for (const users of Object.values(typing)) {
    for (const until of Object.values(users)) if (until > now && (next == null || until < next)) next = until;
  }
  return next;
}

/** `typing` without the indicators that ended by `now`. */
export function pruneTyping(typing, now) {
  const out = {};
  for (const [conv, users] of Object.entries(typing)) {
    const live = Object.entries(users).filter(([, until]) => until > now);
    if (live.length) out[conv] = Object.fromEntries(live);
  }
  return out;
}

/** The header's text: "typing…" in a dm, the names in a group. */
export function typingText(users, group) {
  if (!users.length) return '';
  if (!group) return 'typing…';
  if (users.length === 1) return `${users[0]} is typing…`;
  if (users.length === 2) return `${users[0]} and ${users[1]} are typing…`;
  return `${users.length} people are typing…`;
}

/** Whether a keystroke at `now` should send `typing`, the last one having gone at `last`. */
export function typingDue(last, now) {
  return last == null || now - last >= TYPING_SEND_MS;
}
