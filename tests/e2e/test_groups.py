"""Groups, typing and last seen end to end (docs/protocol.md, "Groups"): one `cseq` order for
messages and membership changes across two edges; who gets what, by membership intervals;
admins; typing that is never stored; last seen; who may watch whom."""

import asyncio
import uuid

from client import ChatClient, dm, of, query
from groups import change, conversation_entries, create_group, outcome, synced_devices, whole_stream


def run(coro, timeout=240):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def group_messages(client, conv):
    return [e for e in client.entries() if e["type"] == "message" and e["conv"] == conv]


def test_four_members_on_two_edges_see_one_cseq_order_with_concurrent_sends(stack, users):
    alice, bob, carol, dave = users("alice", "bob", "carol", "dave")

    async def scenario():
        people = (alice, bob, carol, dave)
        clients = dict(zip(people, await synced_devices(stack, *((1 + i % 2, u, "d1") for i, u in enumerate(people)))))
        _, conv = await create_group(clients[alice], "Team", [bob, carol, dave])
        for user, c in clients.items():
            created = await c.wait_for(lambda fs, c=c: of(c, "group", conv=conv, event="created"), what=f"{user}: created")
            assert created[0]["cseq"] == 1 and created[0]["title"] == "Team" and created[0]["by"] == alice
            assert set(created[0]["members"]) >= {bob, carol, dave}
        senders = (bob, carol, dave)
        ids = await asyncio.gather(*(clients[u].send_conv(conv, f"{u}-{i}") for i in range(10) for u in senders))
        for user, c in clients.items():
            await c.wait_for(lambda fs, c=c: len(group_messages(c, conv)) >= 30, 60, f"{user}: 30 messages")
        orders = {u: [(m["cseq"], m["msg"]) for m in group_messages(c, conv)] for u, c in clients.items()}
        first = orders[alice]
        assert [cseq for cseq, _ in first] == list(range(2, 32)), "membership (cseq 1) and messages share one order, no gaps"
        assert all(order == first for order in orders.values()), "every member sees the same cseq order"
        own = [m for m in group_messages(clients[bob], conv) if m["from"] == bob]
        assert {m["id"] for m in own} <= set(ids) and len(own) == 10, "the sender's devices get their own messages with their ids"
        assert all("id" not in m for m in group_messages(clients[alice], conv)), "nobody sees another user's client id"
        history = await query(clients[carol], {"type": "history", "conv": conv, "limit": 100}, "history", "history")
        assert [m["cseq"] for m in history["messages"]] == list(range(2, 32)) and not history["more"]
        for c in clients.values():
            await c.close()

    run(scenario())


def test_removed_member_gets_nothing_after_and_added_member_nothing_before(stack, users):
    alice, bob, carol, erin = users("alice", "bob", "carol", "erin")

    async def scenario():
        a, b, c = await synced_devices(stack, (1, alice, "d1"), (2, bob, "d1"), (1, carol, "d1"))
        _, conv = await create_group(a, "Crew", [bob, carol])
        await a.sent(await a.send_conv(conv, "before"))
        removal = await change(a, "group_remove", conv, [bob])
        removed = await outcome(a, removal)
        assert removed["type"] == "group" and removed["event"] == "removed" and removed["members"] == [bob]
        added = await outcome(a, await change(a, "group_add", conv, [erin]))
        assert added["event"] == "added" and added["members"] == [erin] and added["cseq"] == removed["cseq"] + 1
        await a.sent(await a.send_conv(conv, "after"))
        await c.wait_for(lambda fs: any(m["body"] == "after" for m in group_messages(c, conv)), what="carol: after")

        # bob's own removal is his last entry of the group; then he is not a member.
        await b.wait_for(lambda fs: of(b, "group", conv=conv, event="removed"), what="bob: his removal")
        bob_send = await b.send_conv(conv, "still here?")
        rejected = await b.wait_for(lambda fs: of(b, "rejected", id=bob_send), what="bob: rejected")
        assert rejected[0]["code"] == "not_member"
        refused = await query(b, {"type": "history", "conv": conv}, "history", "bob: history")
        assert refused["type"] == "error" and refused["code"] == "not_member"
        refused = await query(b, {"type": "members", "conv": conv}, "members", "bob: members")
        assert refused["type"] == "error" and refused["code"] == "not_member"
        bob_entries = await whole_stream(stack, 2, bob, "b-audit")
        bob_conv = conversation_entries(bob_entries, conv)
        assert bob_conv[-1] == ("group", removed["cseq"]), f"bob's last entry of the group is his removal: {bob_conv}"
        assert all(cseq <= removed["cseq"] for _, cseq in bob_conv)

        erin_entries = await whole_stream(stack, 1, erin, "e-audit")
        erin_conv = conversation_entries(erin_entries, conv)
        assert erin_conv[0] == ("group", added["cseq"]), f"erin's first entry of the group is her addition: {erin_conv}"
        assert [m["body"] for m in erin_entries if m["type"] == "message"] == ["after"]
        e = await ChatClient.connect(stack, 2, erin, device="d1", since=0)
        await e.synced()
        history = await query(e, {"type": "history", "conv": conv}, "history", "erin: history")
        assert [m["body"] for m in history["messages"]] == ["after"], "an added member reads from its join on"
        members = await query(e, {"type": "members", "conv": conv}, "members", "erin: members")
        assert {m["user"]: m["role"] for m in members["members"]} == {alice: "admin", carol: "member", erin: "member"}
        for x in (a, b, c, e):
            await x.close()

    run(scenario())


def test_only_admins_change_members_leave_passes_admin_and_create_is_idempotent(stack, users):
    alice, bob, carol, dave = users("alice", "bob", "carol", "dave")

    async def scenario():
        a, b = await synced_devices(stack, (1, alice, "d1"), (2, bob, "d1"))
        create_id = str(uuid.uuid4())
        first, conv = await create_group(a, "Club", [bob, carol], client_id=create_id)
        # A retry of the create through the other edge names the same group and changes nothing.
        a2 = await ChatClient.connect(stack, 2, alice, device="d2", since=0)
        await a2.synced()
        retry, conv2 = await create_group(a2, "Club", [bob, carol], client_id=create_id)
        assert conv2 == conv
        forbidden = await outcome(b, await change(b, "group_add", conv, [dave]))
        assert forbidden["type"] == "rejected" and forbidden["code"] == "forbidden"
        forbidden = await outcome(b, await change(b, "group_remove", conv, [carol]))
        assert forbidden["type"] == "rejected" and forbidden["code"] == "forbidden"
        too_many = await outcome(a, await change(a, "group_add", conv, [f"x{i}-{uuid.uuid4().hex[:6]}" for i in range(118)]))
        assert too_many["type"] == "rejected" and too_many["code"] == "too_large", "over --max-group-members (120 here)"
        left = await outcome(a, await change(a, "group_leave", conv))
        assert left["event"] == "left" and left["members"] == [alice] and left["admin"] == bob, "the longest-standing member is admin"
        await b.wait_for(lambda fs: of(b, "group", conv=conv, event="left"), what="bob sees alice leave")
        added = await outcome(b, await change(b, "group_add", conv, [dave]))
        assert added["type"] == "group" and added["event"] == "added", "bob is admin now"
        created = [e for e in await whole_stream(stack, 1, carol, "c-audit") if e.get("event") == "created"]
        assert len(created) == 1, f"one group, created once: {created}"
        for x in (a, a2, b):
            await x.close()

    run(scenario())


def test_typing_reaches_only_other_members_is_throttled_and_never_stored(stack, users):
    alice, bob, carol, mallory = users("alice", "bob", "carol", "mallory")

    async def scenario():
        a, b, c, m = await synced_devices(stack, (1, alice, "d1"), (2, bob, "d1"), (1, carol, "d1"), (2, mallory, "d1"))
        _, conv = await create_group(a, "Chat", [bob, carol])
        await b.wait_for(lambda fs: of(b, "group", conv=conv), what="bob in the group")
        for _ in range(5):  # one burst: at most one is forwarded per 2 s
            await a.send_json({"type": "typing", "conv": conv})
        await b.wait_for(lambda fs: of(b, "typing", conv=conv, user=alice), what="bob sees alice typing")
        await c.wait_for(lambda fs: of(c, "typing", conv=conv, user=alice), what="carol sees alice typing")
        # A marker after the burst: once it arrived, any further typing frame of the burst would have too.
        await a.sent(await a.send_conv(conv, "marker"))
        await b.wait_for(lambda fs: any(e.get("body") == "marker" for e in group_messages(b, conv)), what="the marker")
        assert len(of(b, "typing", conv=conv, user=alice)) == 1, "throttled: one typing per 2 s"
        assert not of(a, "typing"), "the typer's own sessions get nothing"
        await m.send_json({"type": "typing", "conv": conv})
        refused = await m.wait_for(lambda fs: of(m, "error"), what="mallory refused")
        assert refused[0]["code"] == "not_member"
        dm_refused_before = len(of(m, "error"))
        await m.send_json({"type": "typing", "conv": dm(alice, bob)})
        await m.wait_for(lambda fs: len(of(m, "error")) > dm_refused_before, what="mallory refused on a dm")
        assert of(m, "error")[-1]["code"] == "not_member"
        entries = await whole_stream(stack, 2, bob, "b-audit")
        assert not [e for e in entries if e["type"] == "typing"], "typing is never stored"
        history = await query(b, {"type": "history", "conv": conv}, "history", "history")
        assert [x["body"] for x in history["messages"]] == ["marker"]
        for x in (a, b, c, m):
            await x.close()

    run(scenario())


def test_last_seen_and_who_may_watch_whom(stack, users):
    alice, bob, stranger = users("alice", "bob", "stranger")

    async def scenario():
        a, b1, b2, s = await synced_devices(stack, (1, alice, "d1"), (2, bob, "d1"), (1, bob, "d2"), (2, stranger, "d1"))
        await a.sent(await a.send(bob, "hi"))
        await b1.wait_for(lambda fs: b1.messages(), what="bob got hi")
        await a.send_json({"type": "watch", "users": [bob]})
        await a.wait_for(lambda fs: of(a, "presence", user=bob, status="online"), what="alice sees bob online")
        await s.send_json({"type": "watch", "users": [bob]})
        refused = await s.wait_for(lambda fs: of(s, "error"), what="the stranger is refused")
        assert refused[0]["code"] == "forbidden"
        await b1.close()
        # One of bob's sessions remains: still online, no last seen. Prove it with the other close below.
        await b2.close()
        away = await a.wait_for(lambda fs: of(a, "presence", user=bob, status="offline"), what="bob offline")
        assert away[-1].get("last_seen"), "last seen is set when the last session closed"
        assert len(of(a, "presence", user=bob, status="offline")) == 1, "not before: one offline change, after the last session"
        assert not of(s, "presence", user=bob), "the stranger learned nothing of bob"
        a2 = await ChatClient.connect(stack, 2, alice, device="d2", since=0)
        await a2.synced()
        await a2.send_json({"type": "watch", "users": [bob]})
        status = await a2.wait_for(lambda fs: of(a2, "presence", user=bob), what="bob's status on a new watch")
        assert status[0]["status"] == "offline" and status[0]["last_seen"] == away[-1]["last_seen"]
        for x in (a, s, a2):
            await x.close()

    run(scenario())
