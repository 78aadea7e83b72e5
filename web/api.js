// HTTP endpoints of ws-edge and the WebSocket URL. All URLs are relative to the page, so the
// client also works when ws-edge is published under a path prefix behind a proxy.

function url(path) {
  return new URL(path, document.baseURI);
}

/** The /ws URL for the stream position to resume from ({device, since?, epoch?}), with
 *  http→ws and https→wss. The token never goes into a URL: see wsProtocols. */
export function wsUrl(params = {}) {
  const u = url('ws');
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v != null) q.set(k, String(v));
  const query = q.toString();
  u.search = query ? `?${query}` : '';
  return u.href;
}

/** The WebSocket subprotocols that carry the token (a browser cannot set headers on a
 *  WebSocket): the server answers "parley.v2" and reads the token from "parley.token.<jwt>". */
export function wsProtocols(token) {
  return ['parley.v2', `parley.token.${token}`];
}

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status; // HTTP status, 0 when the server could not be reached
    this.code = code;
  }
}

/** Error bodies: {"error":"code","message":"…"} (Parley) or {"error":{"message":"…"}}
 *  (Hummingbird's HTTPError default); anything else falls back to the HTTP status. */
async function readError(res) {
  let body = null;
  try { body = await res.json(); } catch { /* not JSON */ }
  const err = body && body.error;
  const code = typeof err === 'string' ? err : `http_${res.status}`;
  let message = body && typeof body.message === 'string' ? body.message : null;
  if (!message && err && typeof err === 'object' && typeof err.message === 'string') message = err.message;
  return new ApiError(res.status, code, message || `The server answered HTTP ${res.status}.`);
}

/** Dev login: POST /api/login {"user"} → token. Throws ApiError. */
export async function devLogin(user) {
  let res;
  try {
    res = await fetch(url('api/login'), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ user }),
      cache: 'no-store',
    });
  } catch (e) {
    throw new ApiError(0, 'network', 'Cannot reach the server.');
  }
  if (!res.ok) throw await readError(res);
  const body = await res.json().catch(() => null);
  if (!body || typeof body.token !== 'string' || !body.token) {
    throw new ApiError(res.status, 'bad_response', 'The server sent no token.');
  }
  return body.token;
}

/** GET /api/whoami with `Authorization: Bearer` → {ok:true,user} on 200, {ok:false,rejected:true}
 *  on 401/403, {ok:false,rejected:false} when the server is unreachable or answers anything else. */
export async function whoami(token) {
  try {
    const res = await fetch(url('api/whoami'), { cache: 'no-store', headers: { Authorization: `Bearer ${token}` } });
    if (res.status === 401 || res.status === 403) return { ok: false, rejected: true };
    if (!res.ok) return { ok: false, rejected: false };
    const body = await res.json().catch(() => null);
    return { ok: true, user: body && typeof body.user === 'string' ? body.user : null };
  } catch {
    return { ok: false, rejected: false };
  }
}
