"""The web client's pure logic (web/model.js, web/stream.js, web/util.js) and its cache
(web/store.js), run in headless Chromium from web/ served as static files: no Parley server.

Each check calls the exported function in the page with JSON arguments and compares the JSON
result, so what is checked is exactly the code the browser runs.
"""

import json
import re

import pytest

ME = "alice"
CONV = "dm:alice:bob"


@pytest.fixture(scope="module")
def page(static_browser):
    static_browser.execute_script("localStorage.clear()")
    return static_browser


def js(page, module, fn, *args):
    """`fn(...args)` exported by web/<module>.js, run in the page; returns its JSON result."""
    out = page.execute_async_script(
        "const [path, name, args, done] = arguments;"
        "import(path).then((m) => m[name](...args)).then((v) => done({ ok: v ?? null }), (e) => done({ err: String(e) }));",
        f"/{module}.js", fn, list(args))
    assert "err" not in out, out
    return out["ok"]


def run_js(page, body):
    """Runs `body` (an async function body that imports what it needs) and returns its result."""
    out = page.execute_async_script(
        "const done = arguments[0];"
        f"(async () => {{ {body} }})().then((v) => done({{ ok: v ?? null }}), (e) => done({{ err: String(e) }}));")
    assert "err" not in out, out
    return out["ok"]


def msg(cseq, frm="bob", **extra):
    return {"msg": f"m{cseq}", "conv": CONV, "cseq": cseq, "from": frm, "body": f"text {cseq}", "ts": 1000 + cseq, **extra}


def conv(**fields):
    base = {"conv": CONV, "title": None, "created": 0, "cseq": 0, "last": None, "read": 0, "unread": 0,
            "delivered": 0, "seen": 0, "run": None}
    return {**base, **fields}


def cseqs(run):
    return [m["cseq"] for m in run["msgs"]]


# ---- util.js -------------------------------------------------------------------------------

def test_conversation_ids_and_device_ids(page):
    assert js(page, "util", "dmConv", "bob", "alice") == "dm:alice:bob"
    assert js(page, "util", "dmConv", "alice", "bob") == "dm:alice:bob"
    assert js(page, "util", "dmConv", "Zed", "alice") == "dm:Zed:alice"  # byte order: uppercase first
    assert js(page, "util", "dmPeer", "dm:alice:bob", "alice") == "bob"
    assert js(page, "util", "dmPeer", "dm:alice:bob", "bob") == "alice"
    assert js(page, "util", "dmPeer", "dm:alice:alice", "alice") == "alice"
    assert js(page, "util", "dmPeer", "dm:alice:bob", "carol") is None
    assert js(page, "util", "dmPeer", "g:team", "alice") is None
    a, b = js(page, "util", "newDeviceId"), js(page, "util", "newDeviceId")
    assert re.fullmatch(r"web-[0-9a-f]{20}", a) and a != b


def test_bidirectional_overrides_are_neutralised(page):
    assert js(page, "util", "plainText", "invoice\u202Etxt.exe") == "invoicetxt.exe"
    assert js(page, "util", "plainText", "a\u2066b\u2069c\u202Ad\u202C") == "abcd"
    assert js(page, "util", "plainText", "שלום hello\nline") == "שלום hello\nline", "ordinary text, RTL scripts and newlines stay"
    assert js(page, "util", "preview", "x\u202Ey") == "xy"


# ---- model.js: counters --------------------------------------------------------------------

def test_read_message_checks_and_reduces(page):
    assert js(page, "model", "readMessage", msg(3, id="c1", extra="x")) == {
        "msg": "m3", "conv": CONV, "cseq": 3, "from": "bob", "body": "text 3", "ts": 1003, "id": "c1", "gone": False}
    gone = js(page, "model", "readMessage", {**msg(4), "body": None, "gone": True})
    assert gone["gone"] is True and gone["body"] == ""
    for bad in ({**msg(1), "cseq": 0}, {**msg(1), "cseq": "1"}, {**msg(1), "from": None}, None, "x"):
        assert js(page, "model", "readMessage", bad) is None


def test_messages_count_unread_once_and_own_messages_mark_read(page):
    c = js(page, "model", "noteMessage", conv(), msg(1), ME)
    c = js(page, "model", "noteMessage", c, msg(2), ME)
    assert (c["cseq"], c["unread"], c["read"], c["last"]["cseq"]) == (2, 2, 0, 2)
    assert js(page, "model", "noteMessage", c, msg(2), ME) == c  # a replayed entry counts nothing
    assert js(page, "model", "noteMessage", c, msg(1), ME) == c
    own = js(page, "model", "noteMessage", c, msg(3, frm=ME), ME)
    assert (own["cseq"], own["unread"], own["read"]) == (3, 0, 3)


def test_read_moves_forward_only_and_keeps_unread_exact_in_a_dm(page):
    c = conv(cseq=10, read=4, unread=6)
    r = js(page, "model", "noteRead", c, 7)
    assert (r["read"], r["unread"]) == (7, 3)
    assert js(page, "model", "noteRead", r, 5) == r
    done = js(page, "model", "noteRead", r, 12)
    assert (done["read"], done["unread"]) == (12, 0)


def test_a_summary_older_than_the_stream_view_only_moves_read(page):
    newer = {"conv": CONV, "title": None, "last": msg(9), "cseq": 9, "read": 5, "unread": 4}
    c = js(page, "model", "noteSummary", conv(cseq=3, read=1, unread=2), newer)
    assert (c["cseq"], c["read"], c["unread"], c["last"]["cseq"]) == (9, 5, 4, 9)
    # The stream already told about cseq 12; the snapshot (cseq 9) may not take that back.
    ahead = conv(cseq=12, read=5, unread=7, last=msg(12))
    c = js(page, "model", "noteSummary", ahead, {**newer, "read": 8})
    assert (c["cseq"], c["read"], c["unread"], c["last"]["cseq"]) == (12, 8, 4, 12)
    # This client read further than the snapshot knows: the local read stays.
    c = js(page, "model", "noteSummary", conv(cseq=9, read=9, unread=0), newer)
    assert (c["read"], c["unread"]) == (9, 0)


def test_receipts_are_watermarks_and_give_the_ticks(page):
    c = conv(cseq=5)
    c = js(page, "model", "noteReceipt", c, "delivered", 4)
    c = js(page, "model", "noteReceipt", c, "read", 2)
    c = js(page, "model", "noteReceipt", c, "delivered", 3)  # older watermark: no step back
    assert (c["delivered"], c["seen"]) == (4, 2)
    ticks = [js(page, "model", "tickOf", c, msg(n, frm=ME), ME) for n in (1, 2, 3, 4, 5)]
    assert ticks == ["read", "read", "delivered", "delivered", "sent"]
    assert js(page, "model", "tickOf", c, msg(1), ME) == "received"
    c = js(page, "model", "noteReceipt", c, "read", 5)  # read implies delivered
    assert (c["delivered"], c["seen"]) == (5, 5)


# ---- model.js: runs ------------------------------------------------------------------------

def test_history_pages_join_into_one_run(page):
    newest = js(page, "model", "runWithHistory", None, [msg(n) for n in range(51, 101)], True, None)
    assert (newest["lo"], newest["hi"], newest["more"]) == (51, 100, True)
    older = js(page, "model", "runWithHistory", newest, [msg(n) for n in range(1, 51)], False, 51)
    assert (older["lo"], older["hi"], older["more"]) == (1, 100, False)
    assert cseqs(older) == list(range(1, 101))
    # An empty answer below the run's start: nothing older exists.
    end = js(page, "model", "runWithHistory", {**newest, "lo": 51}, [], False, 51)
    assert end["more"] is False and cseqs(end) == list(range(51, 101))
    # The newest page of an empty conversation.
    empty = js(page, "model", "runWithHistory", None, [], False, None)
    assert (empty["msgs"], empty["more"]) == ([], False)


def test_stream_messages_extend_a_run_and_a_gap_keeps_the_newer_part(page):
    run = js(page, "model", "runWithHistory", None, [msg(n) for n in (8, 9, 10)], True, None)
    run = js(page, "model", "runWithMessage", run, msg(11))
    assert (run["lo"], run["hi"], cseqs(run)) == (8, 11, [8, 9, 10, 11])
    again = js(page, "model", "runWithMessage", run, {**msg(9), "body": "same"})
    assert cseqs(again) == [8, 9, 10, 11]
    gap = js(page, "model", "runWithMessage", run, msg(20))
    assert (gap["lo"], gap["hi"], gap["more"], cseqs(gap)) == (20, 20, True, [20])
    # A page that ends below the run without touching it is of no use.
    assert js(page, "model", "runWithHistory", run, [msg(1), msg(2)], False, 3) == run
    # A newest page that overlaps the run (the run had the newer entries from the stream).
    late = js(page, "model", "runWithHistory", run, [msg(n) for n in (5, 6, 7, 8, 9)], True, None)
    assert (late["lo"], late["hi"], cseqs(late)) == (5, 11, [5, 6, 7, 8, 9, 10, 11])


def test_trim_keeps_the_newest_messages(page):
    run = js(page, "model", "runWithHistory", None, [msg(n) for n in range(1, 11)], False, None)
    t = js(page, "model", "trimRun", run, 4)
    assert (t["lo"], t["hi"], t["more"], cseqs(t)) == (7, 10, True, [7, 8, 9, 10])
    assert js(page, "model", "trimRun", run, 10) == run


def test_outbox_merge_and_log_copies(page):
    mine = [{"cid": "a", "ts": 2, "status": "sent"}, {"cid": "b", "ts": 1, "status": "sending"}]
    stored = [{"cid": "a", "ts": 2, "status": "sending"}, {"cid": "c", "ts": 3, "status": "sending"},
              {"cid": "d", "ts": 0, "status": "sending"}]
    merge = ("const m = await import('/model.js');"
             f"return m.mergeOutbox({json.dumps(mine)}, {json.dumps(stored)}, new Set(%s));")
    merged = run_js(page, merge % "[]")
    assert [(e["cid"], e["status"]) for e in merged] == [("d", "sending"), ("b", "sending"), ("a", "sent"), ("c", "sending")]
    # Entries this tab took out (done) do not come back from another tab's copy.
    assert [e["cid"] for e in run_js(page, merge % '["c", "d"]')] == ["b", "a"]
    e = {"cid": "a", "msg": None}
    assert js(page, "model", "isLogCopy", e, {"id": "a", "msg": "m1"}) is True
    assert js(page, "model", "isLogCopy", {**e, "msg": "m1"}, {"id": None, "msg": "m1"}) is True
    assert js(page, "model", "isLogCopy", e, {"id": None, "msg": "m1"}) is False


# ---- stream.js -----------------------------------------------------------------------------

def test_entry_order(page):
    assert js(page, "stream", "entryOrder", None, 17) == "next"  # started without since
    assert js(page, "stream", "entryOrder", 5, 6) == "next"
    assert js(page, "stream", "entryOrder", 5, 5) == "duplicate"
    assert js(page, "stream", "entryOrder", 5, 2) == "duplicate"
    assert js(page, "stream", "entryOrder", 5, 7) == "gap"


def test_acks_are_coalesced_and_never_repeat(page):
    frames = run_js(page, """
        const { AckBatcher } = await import('/stream.js');
        const sent = [];
        const acks = new AckBatcher((f) => { sent.push(f); return true; }, { every: 100, delayMs: 50 });
        acks.reset(10);
        for (let s = 11; s <= 260; s += 1) acks.handled(s);       // 250 entries
        const counted = sent.map((f) => f.seq);                  // 2 full batches at once
        await new Promise((resolve) => {                          // the rest when the delay ends
          const check = () => (sent.length === 3 ? resolve() : setTimeout(check, 5));
          check();
        });
        acks.handled(200);                                        // a duplicate below the ack
        acks.flush();
        return { counted, all: sent };
    """)
    assert frames["counted"] == [110, 210]
    assert frames["all"] == [{"type": "ack", "seq": 110}, {"type": "ack", "seq": 210}, {"type": "ack", "seq": 260}]


# ---- store.js ------------------------------------------------------------------------------

def test_cache_round_trip_epochs_and_v1_migration(page):
    out = run_js(page, """
        localStorage.clear();
        const { Cache } = await import('/store.js');
        const m = await import('/model.js');
        const cache = new Cache('alice');
        const msgs = Array.from({ length: 150 }, (_, i) => ({ msg: 'm' + (i + 1), conv: 'dm:alice:bob',
          cseq: i + 1, from: 'bob', body: 'b' + (i + 1), ts: 1000 + i, id: null, gone: false }));
        const c = { ...m.noteMessage(m.newConv('dm:alice:bob'), msgs[149], 'alice'),
          run: m.runWithHistory(null, msgs, false, null) };
        cache.save({ epoch: 'E1', seq: 40, acked: 38 }, [c], new Set(['dm:alice:bob']));
        const pos = cache.loadPos();
        const [back] = cache.loadConvs('E1');
        cache.dropEpochs(null);
        const afterDrop = [cache.loadConvs('E1').length, cache.loadPos()];
        localStorage.setItem('parley/v1/alice/contacts', '{"bob":{"added":1,"readTs":0}}');
        localStorage.setItem('parley/v1/alice/conv/bob', JSON.stringify([
          { cid: 'x1', msg: null, from: 'alice', to: 'bob', body: 'unsent', ts: 5, status: 'sending' },
          { cid: 'x2', msg: 'm9', from: 'alice', to: 'bob', body: 'done', ts: 4, status: 'delivered' }]));
        const migrated = cache.migrateV1();
        const v1Left = Object.keys(localStorage).filter((k) => k.startsWith('parley/v1/alice/'));
        return { pos, unread: back.unread, lo: back.run.lo, n: back.run.msgs.length, more: back.run.more,
                 afterDrop, migrated, v1Left };
    """)
    assert out["pos"] == {"epoch": "E1", "seq": 40, "acked": 38}
    assert (out["unread"], out["lo"], out["n"], out["more"]) == (1, 51, 100, True)
    assert out["afterDrop"] == [0, {"epoch": "E1", "seq": 40, "acked": 38}]  # the position is replaced, not dropped
    assert out["migrated"] == [{"cid": "x1", "conv": "dm:alice:bob", "to": "bob", "body": "unsent", "ts": 5,
                                "status": "sending"}]
    assert out["v1Left"] == []


# ---- view.js -------------------------------------------------------------------------------

def test_conversation_view_ticks_unsent_and_keys(page):
    run = js(page, "model", "runWithHistory", None, [msg(1), msg(2, frm=ME, id="c2")], True, None)
    c = conv(cseq=2, delivered=2, run=run)
    pending = [{"cid": "c3", "conv": CONV, "to": None, "body": "later", "ts": 9, "status": "failed", "msg": "m3",
                "code": "not_member"}]
    view = js(page, "view", "conversationView", c, pending, ME, False)
    assert view["history"] == "more"
    assert [(i["key"], i["status"]) for i in view["items"]] == [("m:m1", "received"), ("c:c2", "delivered"),
                                                                ("c:c3", "failed")]
    assert view["items"][2]["error"] == "Not a member of this conversation. (not_member)"
    assert js(page, "view", "conversationView", c, [], ME, True)["history"] == "loading"
    assert js(page, "view", "conversationView", {**c, "run": {**run, "more": False}}, [], ME, False)["history"] == "start"


def test_list_item_previews_the_newer_of_log_and_outbox(page):
    c = conv(cseq=1, unread=1, last=js(page, "model", "readMessage", msg(1)))
    item = js(page, "view", "listItem", c, [], ME, "bob", "bob", "online")
    assert item["last"] == {"own": False, "body": "text 1", "gone": False, "ts": 1001} and item["unread"] == 1
    unsent = [{"cid": "c9", "conv": CONV, "body": "typed later", "ts": 5000, "status": "sending"}]
    item = js(page, "view", "listItem", c, unsent, ME, "bob", "bob", "online")
    assert item["last"] == {"own": True, "body": "typed later", "gone": False, "ts": 5000}


# ---- outbox.js -----------------------------------------------------------------------------

def test_outbox_lifecycle(page):
    out = run_js(page, """
        localStorage.clear();
        const { Cache } = await import('/store.js');
        const { Outbox } = await import('/outbox.js');
        let full = 0;
        const box = new Outbox(new Cache('alice'), () => { full += 1; });
        const a = box.add('dm:alice:bob', 'bob', 'first');
        const b = box.add('dm:alice:bob', null, 'second');
        const ordered = a.ts < b.ts;
        box.update(a.cid, { status: 'sent', msg: 'mA' });
        box.update(b.cid, { status: 'failed', code: 'too_large' });
        const sameId = box.retry(b.cid).cid === b.cid;            // refused by the edge: same id
        box.update(b.cid, { status: 'sent', msg: 'mB' });
        box.update(b.cid, { status: 'failed', code: 'not_member' });  // then a `rejected` entry
        const again = box.retry(b.cid);                           // refused by the log: a new id
        box.dropLogged([{ conv: 'dm:alice:bob', msg: 'mA', id: null }]);
        const stored = JSON.parse(localStorage.getItem('parley/v2/alice/outbox'));
        const reloaded = new Outbox(new Cache('alice'), () => {});
        return { ordered, sameId, newId: again.cid !== b.cid, againStatus: again.status,
                 left: box.entries.map((e) => e.body), stored: stored.map((e) => [e.body, e.status]),
                 reloaded: reloaded.entries.map((e) => e.cid === again.cid), full };
    """)
    assert out["ordered"] and out["sameId"] and out["newId"]
    assert out["againStatus"] == "sending"
    assert out["left"] == ["second"]
    assert out["stored"] == [["second", "sending"]]
    assert out["reloaded"] == [True]
    assert out["full"] == 0


# ---- group.js ------------------------------------------------------------------------------

GROUP = "g:0b7e0c4e-8d0f-5a43-9f1e-2f3c4d5e6f70"


def gentry(cseq, event, by, members=(), **extra):
    return {"type": "group", "seq": 100 + cseq, "msg": f"op{cseq}", "conv": GROUP, "cseq": cseq, "event": event,
            "by": by, "members": list(members), "title": "Team", "ts": 5000 + cseq, **extra}


def gconv(**fields):
    return {**conv(conv=GROUP, title="Team"), "left": False, "events": [], **fields}


def members_after(page, *entries, start=None):
    return run_js(page, f"""
        const g = await import('/group.js');
        let members = {json.dumps(start)};
        for (const e of {json.dumps(list(entries))}) members = g.applyGroupEntry(members, g.readGroupEntry(e));
        return members;
    """)


def test_group_entries_are_checked(page):
    g = js(page, "group", "readGroupEntry", gentry(1, "created", "alice", ["bob"], admin=None, extra="x"))
    assert g == {"conv": GROUP, "cseq": 1, "msg": "op1", "event": "created", "by": "alice", "members": ["bob"],
                 "title": "Team", "admin": None, "ts": 5001}
    for bad in ({**gentry(1, "created", "alice"), "conv": CONV}, {**gentry(1, "created", "alice"), "cseq": 0},
                gentry(1, "renamed", "alice"), {**gentry(1, "left", "alice"), "by": None}, None):
        assert js(page, "group", "readGroupEntry", bad) is None


def test_member_list_follows_group_entries(page):
    created = gentry(1, "created", "alice", ["bob", "carol"])
    m = members_after(page, created)
    assert m == {"alice": {"role": "admin", "joined": 1, "read": 0}, "bob": {"role": "member", "joined": 1, "read": 0},
                 "carol": {"role": "member", "joined": 1, "read": 0}}
    m = members_after(page, created, gentry(2, "added", "alice", ["dave"]), gentry(3, "removed", "alice", ["bob"]))
    assert sorted(m) == ["alice", "carol", "dave"] and m["dave"]["joined"] == 2
    # The last admin leaves: the member named in `admin` becomes one.
    m = members_after(page, created, gentry(2, "left", "alice", ["alice"], admin="bob"))
    assert m == {"bob": {"role": "admin", "joined": 1, "read": 0}, "carol": {"role": "member", "joined": 1, "read": 0}}
    # Entries a `members` page already reflects change nothing (set operations).
    page_list = {"alice": {"role": "admin", "joined": 1, "read": 4}, "dave": {"role": "member", "joined": 2, "read": 0}}
    assert members_after(page, gentry(2, "added", "alice", ["dave"]), gentry(3, "removed", "alice", ["bob"]),
                         start=page_list) == page_list
    # Unknown stays unknown until a page or a `created` names everyone.
    assert members_after(page, gentry(2, "added", "alice", ["dave"])) is None


def test_group_entry_moves_the_conversation_not_its_unread_count(page):
    me = "bob"
    run = js(page, "model", "runWithHistory", None, [msg(n) for n in (1, 2, 3)], False, None)
    c = gconv(cseq=3, unread=2, run=run)
    g = js(page, "group", "readGroupEntry", gentry(4, "added", "alice", ["dave"], title="Team 2"))
    after = js(page, "group", "noteGroupEntry", c, g, me)
    assert (after["cseq"], after["unread"], after["title"], after["left"]) == (4, 2, "Team 2", False)
    assert [e["cseq"] for e in after["events"]] == [4]
    assert (after["run"]["lo"], after["run"]["hi"]) == (1, 4)  # the log has no entry at 4: the run covers it
    assert js(page, "group", "noteGroupEntry", after, g, me) == after  # a replay changes nothing
    # The next message joins the run instead of starting a new one after a gap.
    nxt = js(page, "model", "runWithMessage", after["run"], msg(5))
    assert (nxt["lo"], cseqs(nxt)) == (1, [1, 2, 3, 5])
    removed = js(page, "group", "noteGroupEntry", after,
                 js(page, "group", "readGroupEntry", gentry(6, "removed", "alice", [me])), me)
    assert removed["left"] is True
    back = js(page, "group", "noteGroupEntry", removed,
              js(page, "group", "readGroupEntry", gentry(7, "added", "alice", [me])), me)
    assert back["left"] is False and [e["cseq"] for e in back["events"]] == [4, 6, 7]


def test_newest_history_page_of_a_group_covers_up_to_the_known_cseq(page):
    # Messages 1..3, then changes at 4 and 5 (not in the log): the page covers 1..5.
    run = js(page, "model", "runWithHistory", None, [msg(n) for n in (1, 2, 3)], False, None, 5)
    assert (run["lo"], run["hi"]) == (1, 5)
    assert cseqs(js(page, "model", "runWithMessage", run, msg(6))) == [1, 2, 3, 6]
    # An added member's empty first page still covers what it was asked up to.
    assert js(page, "model", "runWithHistory", None, [], False, None, 9)["hi"] == 9


def test_read_by_counts_other_members_read_cursors(page):
    members = js(page, "group", "membersFromPage", [
        {"user": "alice", "role": "admin", "joined": 1, "read": 7}, {"user": "bob", "role": "member", "joined": 1, "read": 5},
        {"user": "carol", "role": "member", "joined": 3, "read": 2}, {"user": "x", "role": "owner"}, "junk"])
    assert sorted(members) == ["alice", "bob", "carol"]
    assert [js(page, "group", "readBy", members, n, "alice") for n in (2, 3, 5, 6)] == [2, 1, 1, 0]
    assert js(page, "group", "readBy", None, 2, "alice") is None
    moved = js(page, "group", "noteMemberRead", members, "carol", 6)
    assert moved["carol"]["read"] == 6
    assert js(page, "group", "noteMemberRead", moved, "carol", 4) == moved  # never backwards
    assert js(page, "group", "noteMemberRead", moved, "zed", 9) == moved  # not a member
    assert js(page, "group", "isAdmin", members, "alice") is True
    assert js(page, "group", "isAdmin", members, "bob") is False
    assert [r["user"] for r in js(page, "group", "memberRows", members, "bob")] == ["alice", "bob", "carol"]


def test_group_view_names_senders_counts_readers_and_shows_changes(page):
    me = "alice"
    msgs = [{**msg(2, frm="bob"), "conv": GROUP}, {**msg(3, frm="bob"), "conv": GROUP},
            {**msg(4, frm=me, id="c4"), "conv": GROUP}, {**msg(6, frm="carol"), "conv": GROUP}]
    run = js(page, "model", "runWithHistory", None, msgs, False, None, 6)
    created = js(page, "group", "readGroupEntry", gentry(1, "created", me, ["bob", "carol"]))
    added = js(page, "group", "readGroupEntry", gentry(5, "added", me, ["dave"]))
    c = gconv(cseq=6, run=run, events=[created, added])
    members = {me: {"role": "admin", "joined": 1, "read": 6}, "bob": {"role": "member", "joined": 1, "read": 4},
               "carol": {"role": "member", "joined": 1, "read": 6}, "dave": {"role": "member", "joined": 5, "read": 0}}
    view = js(page, "view", "conversationView", c, [], me, False, members)
    assert [(i["kind"], i["cseq"]) for i in view["items"]] == [
        ("event", 1), ("message", 2), ("message", 3), ("message", 4), ("event", 5), ("message", 6)]
    assert [i.get("sender") for i in view["items"] if i["kind"] == "message"] == ["bob", None, None, "carol"]
    own = view["items"][3]
    assert (own["readBy"], own["status"]) == (2, "sent")  # dave joined later and has not read it
    assert [i["text"] for i in view["items"] if i["kind"] == "event"] == [
        "You created the group “Team”", "You added dave"]
    everyone = {**members, "dave": {**members["dave"], "read": 6}}
    own = js(page, "view", "conversationView", c, [], me, False, everyone)["items"][3]
    assert (own["readBy"], own["status"]) == (3, "read")
    # Before the member list arrives: no count, the plain tick.
    own = js(page, "view", "conversationView", c, [], me, False, None)["items"][3]
    assert (own["readBy"], own["status"]) == (None, "sent")


def test_group_event_texts(page):
    def text(entry, me="bob"):
        return js(page, "group", "eventText", js(page, "group", "readGroupEntry", entry), me)
    assert text(gentry(2, "added", "alice", ["bob", "carol"])) == "alice added you, carol"
    assert text(gentry(3, "removed", "bob", ["carol"])) == "You removed carol"
    assert text(gentry(4, "left", "alice", ["alice"], admin="bob")) == "alice left · you are now an admin"
    assert text(gentry(4, "left", "alice", ["alice"], admin="carol")) == "alice left · carol is now an admin"


def test_group_forms_check_titles_and_user_lists(page):
    assert js(page, "group", "parseUserList", "bob, carol  bob,alice", "alice", 0) == {"users": ["bob", "carol"]}
    assert js(page, "group", "parseUserList", "", "alice", 0) == {"users": []}
    assert "error" in js(page, "group", "parseUserList", "alice", "alice", 1)
    assert js(page, "group", "parseUserList", "bob, no;way!", "alice", 1) == {"error": "Not a user id: no;way!"}
    assert js(page, "group", "checkTitle", "  Team  ") == {"title": "Team"}
    assert "error" in js(page, "group", "checkTitle", "   ")
    assert js(page, "group", "checkTitle", "é" * 64) == {"title": "é" * 64}  # 128 bytes
    assert "error" in js(page, "group", "checkTitle", "é" * 65)


# ---- typing.js -----------------------------------------------------------------------------

def test_typing_indicators_expire_after_five_seconds_without_a_new_one(page):
    out = run_js(page, f"""
        const t = await import('/typing.js');
        let s = t.noteTyping({{}}, '{GROUP}', 'carol', 1000);
        s = t.noteTyping(s, '{GROUP}', 'bob', 3000);
        s = t.noteTyping(s, '{CONV}', 'bob', 3500);
        const at = (now) => t.typers(s, '{GROUP}', now);
        const seen = [at(1000), at(5999), at(6000), at(7999), at(8000)];
        const next = [t.nextExpiry(s, 0), t.nextExpiry(s, 6000), t.nextExpiry(s, 9000)];
        const renewed = t.typers(t.noteTyping(s, '{GROUP}', 'carol', 5500), '{GROUP}', 7000);
        const pruned = t.pruneTyping(s, 8000);
        const dropped = t.typers(t.dropTyping(s, '{GROUP}', 'bob'), '{GROUP}', 4000);
        return {{ seen, next, renewed, pruned, dropped }};
    """)
    assert out["seen"] == [["bob", "carol"], ["bob", "carol"], ["bob"], ["bob"], []]
    assert out["next"] == [6000, 8000, None]
    assert out["renewed"] == ["bob", "carol"]
    assert out["pruned"] == {CONV: {"bob": 8500}}
    assert out["dropped"] == ["carol"]


def test_typing_is_sent_at_most_every_two_seconds_and_worded_per_kind(page):
    assert js(page, "typing", "typingDue", None, 5) is True
    assert [js(page, "typing", "typingDue", 1000, n) for n in (1000, 2999, 3000)] == [False, False, True]
    assert js(page, "typing", "typingText", ["bob"], False) == "typing…"
    assert js(page, "typing", "typingText", ["bob"], True) == "bob is typing…"
    assert js(page, "typing", "typingText", ["bob", "carol"], True) == "bob and carol are typing…"
    assert js(page, "typing", "typingText", ["a", "b", "c"], True) == "3 people are typing…"
    assert js(page, "typing", "typingText", [], True) == ""


# ---- last seen and the header line ---------------------------------------------------------

def test_last_seen_is_worded_relative_to_now(page):
    out = run_js(page, """
        const u = await import('/util.js');
        const now = new Date(2026, 10, 30, 15, 30).getTime();
        const min = 60_000;
        const fmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
        return {
          texts: [u.lastSeenText(now - 20_000, now), u.lastSeenText(now - 5 * min, now),
                  u.lastSeenText(now - 59 * min, now), u.lastSeenText(new Date(2026, 10, 30, 9, 5).getTime(), now),
                  u.lastSeenText(new Date(2026, 10, 29, 22, 0).getTime(), now),
                  u.lastSeenText(new Date(2026, 10, 20, 8, 0).getTime(), now)],
          nine: fmt.format(new Date(2026, 10, 30, 9, 5)), ten: fmt.format(new Date(2026, 10, 29, 22, 0)),
        };
    """)
    t = out["texts"]
    assert t[:3] == ["last seen just now", "last seen 5 min ago", "last seen 59 min ago"]
    assert t[3] == f"last seen today at {out['nine']}"
    assert t[4] == f"last seen yesterday at {out['ten']}"
    assert t[5].startswith("last seen Nov 20")


def test_header_line_shows_typing_then_presence_or_group_size(page):
    now = 10_000_000
    line = lambda **kw: js(page, "view", "headerLine",  # noqa: E731
                           {"conv": CONV, "typing": [], "presence": None, "members": None, "left": False, **kw}, now)
    assert line() == {"kind": "presence", "text": "status unknown"}
    assert line(presence={"status": "online", "lastSeen": None}) == {"kind": "presence", "text": "online"}
    assert line(presence={"status": "offline", "lastSeen": None}) == {"kind": "presence", "text": "offline"}
    assert line(presence={"status": "offline", "lastSeen": now - 120_000}) == {
        "kind": "presence", "text": "last seen 2 min ago"}
    assert line(typing=["bob"], presence={"status": "online"}) == {"kind": "typing", "text": "typing…"}
    two = {"a": {}, "b": {}}
    assert line(conv=GROUP, members=two) == {"kind": "members", "text": "2 members"}
    assert line(conv=GROUP) == {"kind": "members", "text": "Group"}
    assert line(conv=GROUP, typing=["carol"], members=two) == {"kind": "typing", "text": "carol is typing…"}
    assert line(conv=GROUP, typing=["carol"], left=True) == {"kind": "members", "text": "You are no longer a member"}


def test_group_list_item_names_the_sender(page):
    last = js(page, "model", "readMessage", {**msg(3, frm="carol"), "conv": GROUP})
    item = js(page, "view", "listItem", gconv(cseq=3, last=last), [], ME, "Team", None, "unknown")
    assert item["sender"] == "carol" and item["peer"] is None
    dm = js(page, "view", "listItem", conv(cseq=3, last=js(page, "model", "readMessage", msg(3))), [], ME, "bob", "bob", "online")
    assert dm["sender"] is None


def test_cache_keeps_group_changes_and_membership(page):
    out = run_js(page, f"""
        localStorage.clear();
        const {{ Cache }} = await import('/store.js');
        const m = await import('/model.js');
        const g = await import('/group.js');
        const cache = new Cache('bob');
        let c = {{ ...m.newConv('{GROUP}'), title: 'Team' }};
        c = g.noteGroupEntry(c, g.readGroupEntry({json.dumps(gentry(1, "created", "alice", ["bob"]))}), 'bob');
        c = g.noteGroupEntry(c, g.readGroupEntry({json.dumps(gentry(2, "removed", "alice", ["bob"]))}), 'bob');
        cache.save({{ epoch: 'E1', seq: 3, acked: 3 }}, [c], new Set());
        const [back] = cache.loadConvs('E1');
        return {{ left: back.left, events: back.events.map((e) => [e.cseq, e.event]), title: back.title }};
    """)
    assert out == {"left": True, "events": [[1, "created"], [2, "removed"]], "title": "Team"}


def test_every_client_module_loads(page):
    # The DOM modules too (a typo in one would leave the page blank; app.js boots, so not it).
    loaded = run_js(page, """
        const names = ['chat', 'ui', 'group-ui', 'connection', 'api', 'outbox', 'store', 'view', 'group', 'typing'];
        for (const n of names) await import(`/${n}.js`);
        return names.length;
    """)
    assert loaded == 10
