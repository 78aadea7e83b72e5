// The DOM of groups: the "New group" form in the sidebar and the members panel of an open
// group (list, add and remove for admins, leave). Like ui.js: textContent and attributes only.

const $ = (id) => document.getElementById(id);

export class GroupPanel {
  /** handlers: onCreateGroup(title, membersText), onAddMembers(conv, text),
   *  onRemoveMember(conv, user), onLeaveGroup(conv), onMembersShown(conv). */
  constructor(handlers) {
    this.h = handlers;
    this.conv = null; // the group whose panel is shown
    this.rows = new Map(); // user → {li, name, role, remove}
    $('new-group-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      this.h.onCreateGroup($('new-group-title').value, $('new-group-members').value);
    });
    for (const id of ['new-group-title', 'new-group-members']) $(id).addEventListener('input', () => this.setCreateError(''));
    $('members-toggle').addEventListener('click', () => this.toggle(!this.open));
    $('members-close').addEventListener('click', () => this.toggle(false));
    $('member-add-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      if (this.conv) this.h.onAddMembers(this.conv, $('member-add-input').value);
    });
    $('member-add-input').addEventListener('input', () => this.setAddError(''));
    $('group-leave').addEventListener('click', () => { if (this.conv) this.h.onLeaveGroup(this.conv); });
  }

  get open() {
    return !$('members-panel').hidden;
  }

  setCreateError(text) {
    $('new-group-error').textContent = text;
    $('new-group-members').setAttribute('aria-invalid', text ? 'true' : 'false');
  }

  /** The group was asked for: the form empties and closes. */
  createDone() {
    $('new-group-title').value = '';
    $('new-group-members').value = '';
    this.setCreateError('');
    $('new-group').open = false;
  }

  setAddError(text) {
    $('member-add-error').textContent = text;
    $('member-add-input').setAttribute('aria-invalid', text ? 'true' : 'false');
  }

  clearAddInput() {
    $('member-add-input').value = '';
  }

  /** The open conversation changed: `conv` (a group) shows the Members button, else none. */
  show(conv) {
    if (conv !== this.conv) {
      this.toggle(false);
      this.rows.clear();
      $('members-list').replaceChildren();
      this.setAddError('');
      this.clearAddInput();
    }
    this.conv = conv;
    $('members-toggle').hidden = !conv;
  }

  toggle(open) {
    $('members-panel').hidden = !open || !this.conv;
    $('members-toggle').setAttribute('aria-expanded', String(!$('members-panel').hidden));
    if (open && this.conv) this.h.onMembersShown(this.conv);
  }

  /** `view`: {conv, rows: [{user, role, me}] (null while unknown), admin, left}. */
  render(view) {
    if (view.conv !== this.conv) return;
    $('members-toggle').hidden = false;
    $('member-add-form').hidden = !view.admin || view.left;
    $('group-leave').hidden = view.left;
    const list = $('members-list');
    if (!view.rows) {
      list.replaceChildren(Object.assign(document.createElement('li'), { className: 'empty', textContent: 'Loading members…' }));
      this.rows.clear();
      return;
    }
    const nodes = view.rows.map((r) => {
      let row = this.rows.get(r.user);
      if (!row || !row.li.isConnected) {
        row = this.makeRow(r.user);
        this.rows.set(r.user, row);
      }
      row.name.textContent = r.me ? `${r.user} (you)` : r.user;
      row.role.textContent = r.role === 'admin' ? 'admin' : '';
      row.li.dataset.role = r.role;
      row.remove.hidden = !view.admin || r.me || view.left;
      return row.li;
    });
    const shown = new Set(view.rows.map((r) => r.user));
    for (const u of [...this.rows.keys()]) if (!shown.has(u)) this.rows.delete(u);
    list.replaceChildren(...nodes);
  }

  makeRow(user) {
    const li = document.createElement('li');
    li.className = 'member';
    li.dataset.testid = 'member-row';
    li.dataset.user = user;
    const name = Object.assign(document.createElement('span'), { className: 'member-name' });
    const role = Object.assign(document.createElement('span'), { className: 'member-role' });
    const remove = Object.assign(document.createElement('button'), { type: 'button', className: 'link', textContent: 'Remove' });
    remove.dataset.testid = 'member-remove';
    remove.setAttribute('aria-label', `Remove ${user}`);
    remove.addEventListener('click', () => { if (this.conv) this.h.onRemoveMember(this.conv, user); });
    li.append(name, role, remove);
    return { li, name, role, remove };
  }
}
