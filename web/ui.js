// Everything that touches the DOM. User data only ever reaches the page through textContent
// and attributes; innerHTML is never used.

import { GroupPanel } from './group-ui.js';
import { shortTime, fullTime, preview, plainText } from './util.js';

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

// Ticks: ✓ sent (in the log), ✓✓ delivered to a device of the other member, ✓✓ in the read
// colour once read there. The word goes to the title and to screen readers.
const STATUS = {
  sending: ['sending…', 'sending'],
  sent: ['✓', 'sent'],
  delivered: ['✓✓', 'delivered'],
  read: ['✓✓', 'read'],
  failed: ['failed', 'failed'],
  received: ['', ''],
};

const HISTORY_TEXT = {
  loading: 'Loading messages…',
  more: 'Scroll up for older messages',
  start: 'This is the beginning of the conversation.',
};
const NEAR_TOP_PX = 150;
const NEAR_END_PX = 150;

const PRESENCE_TEXT = { online: 'online', offline: 'offline', unknown: 'status unknown' };

export class UI {
  constructor(handlers) {
    this.h = handlers;
    this.convEls = new Map();
    this.msgEls = new Map();
    this.shownConv = null;
    this.firstKey = null; // the oldest message shown, to keep the view still when older ones come
    this.historyLi = el('li', { class: 'history-state', 'data-testid': 'history-state', role: 'status' });
    this.drafts = new Map();
    this.connInfo = { state: 'connecting' };
    this.countdown = null;
    this.noticeTimer = null;
    this.bind();
    this.group = new GroupPanel(handlers);
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
    $('new-chat-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      this.h.onStartChat($('new-chat-input').value.trim());
    });
    $('new-chat-input').addEventListener('input', () => this.setNewChatError(''));
    $('back').addEventListener('click', () => this.h.onBack());
    // Block and Unblock of the open dm's peer: the client does not know the block state, so both show.
    $('conv-block').addEventListener('click', () => { if (this.shownConv) this.h.onBlock(this.shownConv, true); });
    $('conv-unblock').addEventListener('click', () => { if (this.shownConv) this.h.onBlock(this.shownConv, false); });
    $('messages').addEventListener('scroll', () => {
      if ($('messages').scrollTop < NEAR_TOP_PX) this.h.onNearTop();
    }, { passive: true });
    $('convs').addEventListener('scroll', () => {
      const l = $('convs');
      if (l.scrollHeight - l.scrollTop - l.clientHeight < NEAR_END_PX) this.h.onConvsNearEnd();
    }, { passive: true });
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
      if (!this.shownConv) return;
      this.drafts.set(this.shownConv, composer.value);
      if (composer.value.trim()) this.h.onTyping(this.shownConv);
    });
    document.addEventListener('keydown', (ev) => {
      if (ev.key === 'Escape' && this.group.open) {
        this.group.toggle(false);
        return;
      }
      if (ev.key === 'Escape' && $('app').dataset.view === 'conversation' && !$('app').hidden
        && window.matchMedia('(max-width: 720px)').matches) {
        this.h.onBack();
      }
    });
  }

  submitComposer() {
    const composer = $('composer');
    const body = composer.value.replace(/^\s*\n/, '').replace(/\s+$/, '');
    if (!body.trim() || !this.shownConv) return;
    this.h.onSend(this.shownConv, body);
    composer.value = '';
    this.drafts.delete(this.shownConv);
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
    this.convEls.clear();
    $('convs').replaceChildren();
    this.closeConversation();
    this.setNewChatError('');
    $('new-chat-input').value = '';
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

  setNewChatError(text) {
    $('new-chat-error').textContent = text;
    $('new-chat-input').setAttribute('aria-invalid', text ? 'true' : 'false');
  }

  clearNewChatInput() {
    $('new-chat-input').value = '';
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

  // ---- conversation list -------------------------------------------------------------

  /** `items`: [{conv, title, peer, presence, presenceText?, last: {own, body, gone, ts}|null,
   *  sender, unread}]. */
  renderConvs(items, active) {
    const nodes = items.map((it) => {
      let item = this.convEls.get(it.conv);
      if (!item) {
        item = this.makeConv(it.conv);
        this.convEls.set(it.conv, item);
      }
      this.fillConv(item, it, it.conv === active);
      return item.li;
    });
    const shown = new Set(items.map((it) => it.conv));
    for (const conv of [...this.convEls.keys()]) if (!shown.has(conv)) this.convEls.delete(conv);
    reconcile($('convs'), nodes);
    $('convs-empty').hidden = items.length > 0;
  }

  makeConv(conv) {
    const dot = el('span', { class: 'presence', 'data-testid': 'presence', role: 'img' });
    const name = el('span', { class: 'conv-name', 'data-testid': 'conv-name' });
    const time = el('span', { class: 'conv-time' });
    const prev = el('span', { class: 'conv-preview', 'data-testid': 'conv-preview' });
    const badge = el('span', { class: 'badge', 'data-testid': 'conv-unread' });
    const button = el('button', {
      type: 'button', class: 'conv-item', 'data-testid': 'conv-item', 'data-conv': conv,
    }, dot, el('span', { class: 'conv-main' },
      el('span', { class: 'conv-top' }, name, time),
      el('span', { class: 'conv-bottom' }, prev, badge)));
    button.addEventListener('click', () => this.h.onOpen(conv));
    const li = el('li', {}, button);
    return { li, button, dot, name, time, prev, badge };
  }

  fillConv(item, it, isActive) {
    item.name.textContent = it.title;
    item.dot.hidden = !it.peer;
    item.dot.dataset.status = it.presence;
    const seen = it.presenceText || PRESENCE_TEXT[it.presence];
    item.dot.setAttribute('aria-label', seen);
    item.dot.title = seen;
    const { last } = it;
    let text = 'No messages yet';
    const from = last && last.own ? 'You: ' : (it.sender && `${it.sender}: `) || '';
    if (last) text = `${from}${last.gone ? 'Message no longer available' : preview(last.body)}`;
    item.prev.textContent = text;
    item.time.textContent = last && last.ts ? shortTime(last.ts) : '';
    item.badge.textContent = it.unread ? String(it.unread) : '';
    item.badge.hidden = !it.unread;
    item.badge.setAttribute('aria-label', `${it.unread} unread`);
    item.button.dataset.unread = String(it.unread);
    item.button.dataset.presence = it.presence;
    if (it.peer) item.button.dataset.peer = it.peer; else delete item.button.dataset.peer;
    if (isActive) item.button.setAttribute('aria-current', 'true');
    else item.button.removeAttribute('aria-current');
  }

  focusConv(conv) {
    const item = this.convEls.get(conv);
    if (item) item.button.focus();
  }

  // ---- conversation -------------------------------------------------------------------

  /** `group`: whether `conv` is a group (it gets the Members button). */
  openConversation(conv, title, group) {
    if (this.shownConv !== conv) {
      this.msgEls.clear();
      this.firstKey = null;
      $('messages').replaceChildren();
    }
    this.shownConv = conv;
    $('conv-empty').hidden = true;
    $('conv').hidden = false;
    $('conv-title').textContent = title;
    $('app').dataset.view = 'conversation';
    this.group.show(group ? conv : null);
    $('conv-block').hidden = group;
    $('conv-unblock').hidden = group;
    const composer = $('composer');
    composer.value = this.drafts.get(conv) || '';
    composer.placeholder = `Message ${title}`;
    composer.setAttribute('aria-label', `Message to ${title}`);
    this.autosize();
    composer.focus();
  }

  closeConversation() {
    this.shownConv = null;
    this.msgEls.clear();
    this.firstKey = null;
    $('messages').replaceChildren();
    $('conv').hidden = true;
    $('conv-empty').hidden = false;
    $('app').dataset.view = 'list';
    this.group.show(null);
  }

  /** The open conversation's name (a group's title can change while it is open). */
  setConvTitle(title) {
    $('conv-title').textContent = title;
  }

  /** The line under the name: `line` = {kind: typing | presence | members, text} (view.js,
   *  headerLine); `status` the dm peer's online | offline | unknown (unknown in a group). */
  setConvHeader(line, status) {
    const p = $('conv-presence');
    p.dataset.status = status;
    p.textContent = line.kind === 'presence' ? line.text : '';
    p.hidden = line.kind !== 'presence';
    $('conv-typing').textContent = line.kind === 'typing' ? line.text : '';
    $('conv-typing').hidden = line.kind !== 'typing';
    $('conv-info').textContent = line.kind === 'members' ? line.text : '';
    $('conv-info').hidden = line.kind !== 'members';
  }

  /** A group this user is no longer in: no composer. */
  setLeft(left) {
    $('composer-form').hidden = left;
    $('conv-left').hidden = !left;
  }

  /** Renders the open conversation: `view` = {conv, items, history, online}; items oldest
   *  first ({key, cid, msg, cseq, from, own, body, gone, ts, status, code, error}), history =
   *  loading | more | start. `forceScroll` scrolls to the end (own message, opening). */
  renderMessages(view, forceScroll = false) {
    if (view.conv !== this.shownConv) return;
    const list = $('messages');
    const nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
    const fromBottom = list.scrollHeight - list.scrollTop;
    const seen = new Set();
    const nodes = view.items.map((it) => {
      seen.add(it.key);
      let m = this.msgEls.get(it.key);
      if (!m) {
        m = it.kind === 'event' ? this.makeEvent() : this.makeMessage(it);
        this.msgEls.set(it.key, m);
      }
      if (it.kind === 'event') this.fillEvent(m, it);
      else this.fillMessage(m, it, view.online);
      return m.li;
    });
    for (const k of [...this.msgEls.keys()]) if (!seen.has(k)) this.msgEls.delete(k);
    this.historyLi.dataset.state = view.history;
    this.historyLi.textContent = HISTORY_TEXT[view.history];
    this.historyLi.hidden = !view.items.length && view.history !== 'loading';
    reconcile(list, [this.historyLi, ...nodes]);
    $('conv-none').hidden = view.items.length > 0 || view.history === 'loading';
    const oldFirst = this.firstKey;
    this.firstKey = view.items.length ? view.items[0].key : null;
    if (forceScroll || nearBottom) list.scrollTop = list.scrollHeight;
    else if (oldFirst && this.firstKey !== oldFirst) list.scrollTop = list.scrollHeight - fromBottom; // older ones above
    // Nothing to scroll yet, so no scroll event would ask for more.
    if (view.history === 'more' && list.scrollHeight <= list.clientHeight) setTimeout(() => this.h.onNearTop(), 0);
  }

  makeEvent() {
    const li = el('li', { class: 'event', 'data-testid': 'group-event' });
    return { li };
  }

  fillEvent(m, it) {
    m.li.textContent = it.text;
    m.li.dataset.cseq = String(it.cseq);
    m.li.title = it.ts ? fullTime(it.ts) : '';
  }

  makeMessage(it) {
    const body = el('p', { class: 'body', 'data-testid': 'message-body' });
    const name = el('span', { class: 'sender', 'data-testid': 'message-sender', 'aria-hidden': 'true' });
    const readBy = el('span', { class: 'read-by', 'data-testid': 'message-read-by' });
    const time = el('time', { 'data-testid': 'message-time' });
    const status = el('span', { class: 'status', 'data-testid': 'message-status', role: 'img' });
    const err = el('span', { class: 'error', 'data-testid': 'message-error' });
    const retry = el('button', { type: 'button', class: 'retry', 'data-testid': 'message-retry', text: 'Retry' });
    const { cid } = it;
    retry.addEventListener('click', () => this.h.onRetry(cid));
    const meta = el('div', { class: 'meta' }, time, status, readBy, err, retry);
    const sender = el('span', { class: 'visually-hidden', text: it.own ? 'You: ' : `${it.from}: ` });
    const li = el('li', {
      class: `msg ${it.own ? 'own' : 'theirs'}`, 'data-testid': 'message', 'data-from': it.from,
      'data-own': String(it.own),
    }, el('div', { class: 'bubble' }, name, sender, body, meta));
    return { li, body, name, time, status, readBy, err, retry };
  }

  fillMessage(m, it, online) {
    const { dataset } = m.li;
    for (const [k, v] of [['msg', it.msg], ['clientId', it.cid], ['cseq', it.cseq], ['code', it.code]]) {
      if (v != null) dataset[k] = String(v); else delete dataset[k];
    }
    dataset.status = it.status;
    m.body.textContent = it.gone ? 'This message is no longer available.' : plainText(it.body);
    m.body.classList.toggle('gone', it.gone);
    m.time.textContent = it.ts ? shortTime(it.ts) : '';
    m.time.dateTime = it.ts ? new Date(it.ts).toISOString() : '';
    m.time.title = it.ts ? fullTime(it.ts) : '';
    const [text, label] = STATUS[it.status] || STATUS.received;
    m.status.dataset.status = it.status;
    m.status.textContent = it.status === 'sending' && !online ? 'waiting for connection' : text;
    m.status.title = label;
    m.status.setAttribute('aria-label', label);
    m.status.hidden = it.status === 'received';
    m.name.textContent = it.sender || '';
    m.name.hidden = !it.sender;
    m.readBy.hidden = !it.readBy; // shown from the first reader on
    m.readBy.textContent = it.readBy ? `read by ${it.readBy}` : '';
    if (it.readBy != null) m.readBy.dataset.count = String(it.readBy); else delete m.readBy.dataset.count;
    m.err.textContent = it.error || '';
    m.err.hidden = !m.err.textContent;
    m.retry.hidden = it.status !== 'failed';
  }
}
