// Small helpers shared by the other modules: ids, conversation ids, JWT peeking, time.

/** User ids and device ids: 1–64 chars of [A-Za-z0-9_.-] (DESIGN.md, "Client protocol"). */
export const USER_ID_RE = /^[A-Za-z0-9_.-]{1,64}$/;

export function isValidUserId(id) {
  return typeof id === 'string' && USER_ID_RE.test(id);
}

/** A new device id: "web-" and 20 random hex digits (same character rule as user ids). */
export function newDeviceId() {
  const b = crypto.getRandomValues(new Uint8Array(10));
  return `web-${Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('')}`;
}

/** The direct conversation of two users: `dm:<a>:<b>` with the ids in byte order (user ids
 *  are ASCII, so string order is byte order). */
export function dmConv(a, b) {
  return a <= b ? `dm:${a}:${b}` : `dm:${b}:${a}`;
}

/** The other member of a direct conversation seen from `me` (`me` for notes to self), or
 *  null for groups and ids that do not name `me`. */
export function dmPeer(conv, me) {
  const m = /^dm:([A-Za-z0-9_.-]{1,64}):([A-Za-z0-9_.-]{1,64})$/.exec(conv);
  if (!m || (m[1] !== me && m[2] !== me)) return null;
  return m[1] === me ? m[2] : m[1];
}

/** A fresh client id. crypto.randomUUID exists only in secure contexts (https, localhost),
 *  so fall back to a v4 UUID built from crypto.getRandomValues on plain http hosts. */
export function newClientId() {
  if (globalThis.crypto && typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** Reads a JWT's payload without verifying it (the server verifies). Returns null if the
 *  text is not shaped like a JWT. */
export function peekJwt(token) {
  const parts = String(token).trim().split('.');
  if (parts.length !== 3) return null;
  try {
    let s = parts[1].replace(/-/g, '+').replace(/_/g, '/');
    s += '='.repeat((4 - (s.length % 4)) % 4);
    const bytes = Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
    const payload = JSON.parse(new TextDecoder().decode(bytes));
    return payload && typeof payload === 'object' ? payload : null;
  } catch {
    return null;
  }
}

/** True when the token carries an `exp` that has already passed. */
export function jwtExpired(token, nowMs = Date.now()) {
  const p = peekJwt(token);
  return !!(p && typeof p.exp === 'number' && p.exp * 1000 <= nowMs);
}

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dateTimeFmt = new Intl.DateTimeFormat(undefined, {
  month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit',
});
const fullFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'full', timeStyle: 'medium' });

/** Short time for a bubble: "14:05" today, "Mar 3, 14:05" otherwise. */
export function shortTime(ms) {
  const d = new Date(ms);
  const now = new Date();
  const sameDay = d.getFullYear() === now.getFullYear() && d.getMonth() === now.getMonth()
    && d.getDate() === now.getDate();
  return sameDay ? timeFmt.format(d) : dateTimeFmt.format(d);
}

/** When an offline user was last seen, relative to `now`: "last seen just now", "… 5 min
 *  ago", "… today at 14:05", "… yesterday at 14:05", else "… Mar 3, 14:05". */
export function lastSeenText(ms, now = Date.now()) {
  const ago = now - ms;
  if (ago < 60_000) return 'last seen just now';
  if (ago < 3_600_000) return `last seen ${Math.floor(ago / 60_000)} min ago`;
  const d = new Date(ms);
  const day = new Date(now);
  day.setHours(0, 0, 0, 0);
  if (d >= day) return `last seen today at ${timeFmt.format(d)}`;
  day.setDate(day.getDate() - 1);
  if (d >= day) return `last seen yesterday at ${timeFmt.format(d)}`;
  return `last seen ${dateTimeFmt.format(d)}`;
}

export function fullTime(ms) {
  return fullFmt.format(new Date(ms));
}

/** Other users' text without bidirectional embeddings, overrides and isolates (U+202A–U+202E,
 *  U+2066–U+2069): a U+202E in a body must not make "exe.txt" read as "txt.exe" or reorder the
 *  text around it. The server refuses control characters; these are formatting characters it
 *  keeps, so the client neutralises them where it renders (the bubbles also isolate each body). */
export function plainText(text) {
  return String(text).replace(/[\u202A-\u202E\u2066-\u2069]/g, '');
}

/** One-line preview of a message body for the conversation list. */
export function preview(body, max = 60) {
  const s = plainText(body).replace(/\s+/g, ' ').trim();
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}
