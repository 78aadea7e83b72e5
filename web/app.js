// Entry point: sign-in flow and wiring between the UI and the chat session.

import { devLogin, whoami } from './api.js';
import { Chat } from './chat.js';
import { checkTitle, parseUserList } from './group.js';
import {
  loadSession, saveSession, clearSession, lastUser, rememberUser, isSessionKey,
} from './store.js';
import { UI } from './ui.js';
import { isValidUserId, peekJwt, jwtExpired } from './util.js';

let chat = null;
let session = null;

const ui = new UI({
  onSignIn: (name) => signInByName(name),
  onTokenSignIn: (token) => signInByToken(token),
  onSignOut: () => signOut(''),
  onReconnectNow: () => chat?.reconnectNow(),
  onStartChat: (peer) => startChat(peer),
  onOpen: (conv) => chat?.open(conv),
  onBack: () => chat?.back(),
  onSend: (conv, body) => chat?.send(conv, body),
  onRetry: (cid) => chat?.retry(cid),
  onNearTop: () => chat?.loadOlder(),
  onConvsNearEnd: () => chat?.loadMoreConvs(),
  onTyping: (conv) => chat?.typed(conv),
  onCreateGroup: (title, members) => createGroup(title, members),
  onAddMembers: (conv, members) => addMembers(conv, members),
  onRemoveMember: (conv, user) => groupChange(chat?.removeMember(conv, user)),
  onLeaveGroup: (conv) => groupChange(chat?.leaveGroup(conv)),
  onMembersShown: (conv) => chat?.requestMembers(conv),
  onBlock: (conv, on) => groupChange(chat?.block(conv, on)),
});

const OFFLINE = 'Not connected: try again once online.';

const ID_RULES = 'User ids are 1–64 characters: letters, digits, _ . -';

async function signInByName(name) {
  if (!isValidUserId(name)) {
    ui.setSigninError(name ? `“${name}” is not a valid user id. ${ID_RULES}` : 'Enter your user id.');
    return;
  }
  ui.setSigninError('');
  ui.setSigninBusy(true);
  try {
    const token = await devLogin(name);
    start({ user: name, token, via: 'dev' });
  } catch (e) {
    ui.setSigninBusy(false);
    if (e.status === 404 || e.status === 405) {
      ui.setSigninError('Sign-in by name is not enabled on this server. Sign in with a token.');
    } else {
      ui.setSigninError(e.message || 'Sign-in failed.');
    }
  }
}

async function signInByToken(token) {
  const claims = peekJwt(token);
  if (!claims) {
    ui.setSigninError('That does not look like a token (a JWT has three dot-separated parts).');
    return;
  }
  if (jwtExpired(token)) {
    ui.setSigninError('That token has expired.');
    return;
  }
  ui.setSigninError('');
  ui.setSigninBusy(true);
  const who = await whoami(token);
  if (who.rejected) {
    ui.setSigninBusy(false);
    ui.setSigninError('The server rejected that token.');
    return;
  }
  // If the server is unreachable, trust the token's subject; the connection will check it.
  const user = (who.ok && who.user) || claims.sub;
  if (!isValidUserId(user)) {
    ui.setSigninBusy(false);
    ui.setSigninError('The token has no valid user id in its "sub" claim.');
    return;
  }
  start({ user, token, via: 'token' });
}

function start(s, reopen = null) {
  session = s;
  saveSession(s);
  rememberUser(s.user);
  ui.showApp(s.user);
  chat = new Chat(s, ui, { onAuthRejected: () => authRejected() });
  chat.start();
  if (reopen) chat.open(reopen);
}

function stopChat() {
  if (chat) chat.stop();
  chat = null;
}

function signOut(message) {
  const name = session ? session.user : lastUser();
  stopChat();
  session = null;
  clearSession();
  ui.showSignin({ name, error: message });
}

/** The server refused the token (expired or revoked). A dev-login session quietly gets a new
 *  token once; otherwise back to the sign-in screen (the cache and the outbox are kept). */
let lastSilentLogin = 0;

async function authRejected() {
  const old = session;
  const active = chat && chat.active;
  stopChat();
  if (old && old.via === 'dev' && Date.now() - lastSilentLogin > 60_000) {
    lastSilentLogin = Date.now(); // at most once a minute, so a server that keeps refusing cannot loop
    try {
      const token = await devLogin(old.user);
      start({ ...old, token }, active);
      return;
    } catch { /* fall through */ }
  }
  session = old;
  signOut('Your sign-in is no longer accepted (the token expired or was rejected). Please sign in again.');
}

function startChat(peer) {
  if (!isValidUserId(peer)) {
    ui.setNewChatError(peer ? ID_RULES : 'Enter a user id.');
    return;
  }
  if (session && peer === session.user) {
    ui.setNewChatError('That is you.');
    return;
  }
  ui.setNewChatError('');
  ui.clearNewChatInput();
  chat?.startChat(peer);
}

function createGroup(titleText, membersText) {
  const t = checkTitle(titleText);
  const m = parseUserList(membersText, session && session.user, 0);
  const error = t.error || m.error;
  if (error) {
    ui.group.setCreateError(error);
    return;
  }
  if (chat?.createGroup(t.title, m.users)) ui.group.createDone();
  else ui.group.setCreateError(OFFLINE);
}

function addMembers(conv, text) {
  const m = parseUserList(text, session && session.user, 1);
  if (m.error) {
    ui.group.setAddError(m.error);
    return;
  }
  if (chat?.addMembers(conv, m.users)) ui.group.clearAddInput();
  else ui.group.setAddError(OFFLINE);
}

/** A remove or leave went out (true), or could not (offline). */
function groupChange(sent) {
  if (!sent) ui.notice(OFFLINE);
}

// Another tab signed out or signed in as someone else: follow it.
window.addEventListener('storage', (ev) => {
  if (ev.storageArea !== localStorage || !isSessionKey(ev.key)) return;
  const s = loadSession();
  if (!s && session) {
    stopChat();
    session = null;
    ui.showSignin({ name: lastUser(), error: 'Signed out in another tab.' });
  } else if (s && (!session || s.user !== session.user)) {
    stopChat();
    start(s);
  } else if (s && session && s.token !== session.token) {
    const active = chat && chat.active; // refreshed token (e.g. quiet re-login in another tab)
    stopChat();
    start(s, active);
  }
});

function boot() {
  const s = loadSession();
  if (s && isValidUserId(s.user)) start(s);
  else ui.showSignin({ name: lastUser() });
}

boot();
