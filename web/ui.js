// Everything that touches the DOM. User data only ever reaches the page through textContent
// and attributes; innerHTML is never used.

import { shortTime, fullTime, preview } from './util.js';

const $ = (id) => document.getElementById(id);

function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('data-') || k.startsWith('aria-') || k === 'role') e.setAttribute(k, v);
    else e[k] = v;
  }
  for (const c of children) e.append(c);
  return e;
}

/** Puts `nodes` into `parent` in order, moving only nodes that are out of place. */
function reconcile(parent, nodes) {
  const wanted = new Set(nodes);
  for (const child of [...parent.children]) if (!wanted.has(child)) child.remove();
  let cursor = parent.firstElementChild;
  for (const n of nodes) {
    if (n === cursor) cursor = cursor.nextElementSibling;
    else parent.insertBefore(n, cursor);
  }
}

const STATUS_TEXT = {
  sending: 'sending…', sent: 'sent', delivered: 'delivered', failed: 'failed', received: '',
};

const PRESENCE_TEXT = { online: 'online', offline: 'offline', unknown: 'status unknown' };

export class UI {
  constructor(handlers) {
    this.h = handlers;
    this.contactEls = new Map();
    this.msgEls = new Map();
    this.shownPeer = null;
    this.drafts = new Map();
    this.connInfo = { state: 'connecting' };
    this.countdown = null;
    this.noticeTimer = null;
    this.bind();
  }

  bind() {
    $('signin-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      this.h.onSignIn($('signin-name').value.trim());
    });
    $('token-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      this.h.onTokenSignIn($('signin-token').value.trim());
    });
    $('signout').addEventListener('click', () => this.h.onSignOut());
    $('conn-retry').addEventListener('click', () => this.h.onReconnectNow());
    $('add-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      this.h.onAddContact($('add-input').value.trim());
    });
    $('add-input').addEventListener('input', () => this.setAddError(''));
    $('back').addEventListener('click', () => this.h.onBack());
    const composer = $('composer');
    $('composer-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      this.submitComposer();
    });
    composer.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing && ev.keyCode !== 229) {
        ev.preventDefault();
        this.submitComposer();
      }
    });
    composer.addEventListener('input', () => {
      this.autosize();
      if (this.shownPeer) this.drafts.set(this.shownPeer, composer.value);
    });
    document.addEventListener('keydown', (ev) => {
      if (ev.key === 'Escape' && $('app').dataset.view === 'conversation' && !$('app').hidden
        && window.matchMedia('(max-width: 720px)').matches) {
        this.h.onBack();
      }
    });
  }

  submitComposer() {
    const composer = $('composer');
    const body = composer.value.replace(/^\s*\n/, '').replace(/\s+$/, '');
    if (!body.trim() || !this.shownPeer) return;
    this.h.onSend(this.shownPeer, body);
    composer.value = '';
    this.drafts.delete(this.shownPeer);
    this.autosize();
    composer.focus();
  }

  autosize() {
    const c = $('composer');
    c.style.height = 'auto';
    c.style.height = `${Math.min(c.scrollHeight, 160)}px`;
  }

  // ---- sign-in ------------------------------------------------------------------------

  showSignin({ name = '', error = '' } = {}) {
    $('app').hidden = true;
    $('signin').hidden = false;
    document.title = 'Parley — sign in';
    if (name) $('signin-name').value = name;
    this.setSigninError(error);
    this.setSigninBusy(false);
    $('signin-name').focus();
  }

  setSigninError(text) {
    $('signin-error').textContent = text;
  }

  setSigninBusy(busy) {
    for (const id of ['signin-submit', 'signin-token-submit']) $(id).disabled = busy;
  }

  // ---- main screen --------------------------------------------------------------------

  showApp(me) {
    $('signin').hidden = true;
    $('app').hidden = false;
    $('me').textContent = me;
    $('signin-token').value = '';
    document.title = `Parley — ${me}`;
    this.contactEls.clear();
    $('contacts').replaceChildren();
    this.closeConversation();
    this.setAddError('');
    $('add-input').value = '';
  }

  setConn(info) {
    this.connInfo = info;
    clearInterval(this.countdown);
    this.paintConn();
    if (info.state === 'offline' && info.retryAt) {
      this.countdown = setInterval(() => this.paintConn(), 1000);
    }
  }

  paintConn() {
    const { state, retryAt, reason } = this.connInfo;
    const box = $('conn');
    let text;
    let shown = state;
    if (state === 'online') text = 'Online';
    else if (state === 'connecting') text = 'Connecting…';
    else if (state === 'checking') { text = 'Connecting…'; shown = 'connecting'; }
    else if (retryAt) {
      const s = Math.max(0, Math.ceil((retryAt - Date.now()) / 1000));
      text = `Offline — reconnecting in ${s} s`;
      box.dataset.retryIn = String(s);
    } else text = 'Offline';
    if (shown !== 'offline') delete box.dataset.retryIn;
    box.dataset.state = shown;
    $('conn-text').textContent = text;
    box.title = reason || '';
    $('conn-reason').textContent = shown === 'offline' && reason ? reason : '';
    $('conn-retry').hidden = !(shown === 'offline' && retryAt);
  }

  setAddError(text) {
    $('add-error').textContent = text;
    $('add-input').setAttribute('aria-invalid', text ? 'true' : 'false');
  }

  clearAddInput() {
    $('add-input').value = '';
  }

  notice(text) {
    const n = $('notice');
    n.textContent = text;
    n.hidden = !text;
    clearTimeout(this.noticeTimer);
    if (text) this.noticeTimer = setTimeout(() => { n.textContent = ''; n.hidden = true; }, 8000);
  }

  announce(text) {
    const a = $('announcer');
    a.textContent = '';
    // A fresh text node in a separate task makes screen readers announce repeats too.
    setTimeout(() => { a.textContent = text; }, 50);
  }

  // ---- contacts -----------------------------------------------------------------------

  renderContacts(store, presence, active) {
    const peers = store.sortedContacts();
    const nodes = peers.map((peer) => {
      let item = this.contactEls.get(peer);
      if (!item) {
        item = this.makeContact(peer);
        this.contactEls.set(peer, item);
      }
      this.fillContact(item, peer, store, presence.get(peer) || 'unknown', peer === active);
      return item.li;
    });
    for (const peer of [...this.contactEls.keys()]) if (!peers.includes(peer)) this.contactEls.delete(peer);
    reconcile($('contacts'), nodes);
    $('contacts-empty').hidden = peers.length > 0;
  }

  makeContact(peer) {
    const dot = el('span', { class: 'presence', 'data-testid': 'presence', role: 'img' });
    const name = el('span', { class: 'contact-name', 'data-testid': 'contact-name', text: peer });
    const time = el('span', { class: 'contact-time' });
    const prev = el('span', { class: 'contact-preview', 'data-testid': 'contact-preview' });
    const badge = el('span', { class: 'badge', 'data-testid': 'contact-unread' });
    const button = el('button', {
      type: 'button', class: 'contact', 'data-testid': 'contact-item', 'data-user': peer,
    }, dot, el('span', { class: 'contact-main' },
      el('span', { class: 'contact-top' }, name, time),
      el('span', { class: 'contact-bottom' }, prev, badge)));
    button.addEventListener('click', () => this.h.onOpen(peer));
    const li = el('li', {}, button);
    return { li, button, dot, time, prev, badge };
  }

  fillContact(item, peer, store, status, isActive) {
    item.dot.dataset.status = status;
    item.dot.setAttribute('aria-label', PRESENCE_TEXT[status]);
    item.dot.title = PRESENCE_TEXT[status];
    const last = store.lastMessage(peer);
    item.prev.textContent = last ? `${last.from === store.me ? 'You: ' : ''}${preview(last.body)}` : 'No messages yet';
    item.time.textContent = last ? shortTime(last.ts) : '';
    const unread = store.unread(peer);
    item.badge.textContent = unread ? String(unread) : '';
    item.badge.hidden = !unread;
    item.badge.setAttribute('aria-label', `${unread} unread`);
    item.button.dataset.unread = String(unread);
    item.button.dataset.presence = status;
    if (isActive) item.button.setAttribute('aria-current', 'true');
    else item.button.removeAttribute('aria-current');
  }

  focusContact(peer) {
    const item = this.contactEls.get(peer);
    if (item) item.button.focus();
  }

  // ---- conversation -------------------------------------------------------------------

  openConversation(peer) {
    if (this.shownPeer !== peer) {
      this.msgEls.clear();
      $('messages').replaceChildren();
    }
    this.shownPeer = peer;
    $('conv-empty').hidden = true;
    $('conv').hidden = false;
    $('conv-title').textContent = peer;
    $('app').dataset.view = 'conversation';
    const composer = $('composer');
    composer.value = this.drafts.get(peer) || '';
    composer.placeholder = `Message ${peer}`;
    composer.setAttribute('aria-label', `Message to ${peer}`);
    this.autosize();
    composer.focus();
  }

  closeConversation() {
    this.shownPeer = null;
    this.msgEls.clear();
    $('messages').replaceChildren();
    $('conv').hidden = true;
    $('conv-empty').hidden = false;
    $('app').dataset.view = 'list';
  }

  setConvPresence(status) {
    const p = $('conv-presence');
    p.dataset.status = status;
    p.textContent = PRESENCE_TEXT[status];
  }

  /** Renders the open conversation. `forceScroll` scrolls to the end (own message, opening). */
  renderMessages(store, online, forceScroll = false) {
    const peer = this.shownPeer;
    if (!peer) return;
    const list = $('messages');
    const nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
    const entries = store.messages(peer);
    const seen = new Set();
    const nodes = entries.map((e) => {
      const key = e.cid || e.msg;
      seen.add(key);
      let m = this.msgEls.get(key);
      if (!m) {
        m = this.makeMessage(e, store.me);
        this.msgEls.set(key, m);
      }
      this.fillMessage(m, e, online);
      return m.li;
    });
    for (const k of [...this.msgEls.keys()]) if (!seen.has(k)) this.msgEls.delete(k);
    reconcile(list, nodes);
    $('conv-none').hidden = entries.length > 0;
    if (forceScroll || nearBottom) list.scrollTop = list.scrollHeight;
  }

  makeMessage(e, me) {
    const own = e.from === me;
    const body = el('p', { class: 'body', 'data-testid': 'message-body', text: e.body });
    const time = el('time', { 'data-testid': 'message-time' });
    const status = el('span', { class: 'status', 'data-testid': 'message-status' });
    const err = el('span', { class: 'error', 'data-testid': 'message-error' });
    const retry = el('button', { type: 'button', class: 'retry', 'data-testid': 'message-retry', text: 'Retry' });
    const cid = e.cid;
    retry.addEventListener('click', () => this.h.onRetry(cid));
    const meta = el('div', { class: 'meta' }, time, status, err, retry);
    const sender = el('span', { class: 'visually-hidden', text: own ? 'You: ' : `${e.from}: ` });
    const li = el('li', {
      class: `msg ${own ? 'own' : 'theirs'}`, 'data-testid': 'message', 'data-from': e.from,
      'data-own': String(own),
    }, el('div', { class: 'bubble' }, sender, body, meta));
    return { li, time, status, err, retry };
  }

  fillMessage(m, e, online) {
    if (e.msg) m.li.dataset.msg = e.msg; else delete m.li.dataset.msg;
    if (e.cid) m.li.dataset.clientId = e.cid; else delete m.li.dataset.clientId;
    m.li.dataset.status = e.status;
    m.time.textContent = shortTime(e.ts);
    m.time.dateTime = new Date(e.ts).toISOString();
    m.time.title = fullTime(e.ts);
    m.status.dataset.status = e.status;
    m.status.textContent = e.status === 'sending' && !online ? 'waiting for connection' : STATUS_TEXT[e.status] || '';
    m.status.hidden = e.status === 'received';
    m.err.textContent = e.status === 'failed' && e.err ? e.err : '';
    m.err.hidden = !m.err.textContent;
    m.retry.hidden = e.status !== 'failed' || !e.cid;
  }
}
