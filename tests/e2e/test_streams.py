"""v2 end to end: per-user streams with `seq`/`epoch`, devices with server-side cursors, sync,
history, the conversation list, read state and durable receipts (docs/protocol.md)."""

import asyncio

from client import ChatClient, dm, of, query
from parley_stack import eventually


def run(coro, timeout=180):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def assert_gap_free(entries, what):
    seqs = [e["seq"] for e in entries]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))) if seqs else True, f"{what}: seqs {seqs[:50]}"


def test_two_devices_phone_catches_up_with_what_the_laptop_read(stack, users):
    alice, bob = users("alice", "bob")
    conv = dm(alice, bob)

    async def scenario():
        a = await ChatClient.connect(stack, 1, alice, device="a-laptop")
        laptop = await ChatClient.connect(stack, 2, bob, device="laptop")
        phone = await ChatClient.connect(stack, 1, bob, device="phone")
        for c in (a, laptop, phone):
            await c.synced()
        phone_epoch = (await phone.synced())["epoch"]
        await phone.close()  # the phone goes offline having seen nothing
        sent = [await a.sent(await a.send_conv(conv, f"m{i}")) for i in range(3)]
        got = await laptop.wait_for(lambda fs: len(of(laptop, "message")) >= 3 and of(laptop, "message"), what="3 on the laptop")
        assert [m["msg"] for m in got] == [s["msg"] for s in sent]
        assert [m["cseq"] for m in got] == [1, 2, 3] and all(m["conv"] == conv for m in got)
        await laptop.send_json({"type": "read", "conv": conv, "cseq": 3})
        await laptop.ack_seq(laptop.last_seq())
        # The sender sees it read (a watermark receipt in alice's stream).
        await a.wait_for(lambda fs: of(a, "receipt", status="read", cseq=3, by=bob), what="read receipt")

        phone2 = await ChatClient.connect(stack, 2, bob, device="phone", since=0, epoch=phone_epoch)
        synced = await phone2.synced()
        assert not synced.get("reset"), synced
        entries = phone2.entries()
        assert_gap_free(entries, "phone")
        assert [e["type"] for e in entries] == ["message", "message", "message", "read"], entries
        assert [e["msg"] for e in entries[:3]] == [s["msg"] for s in sent]
        assert entries[3]["conv"] == conv and entries[3]["cseq"] == 3
        assert all("id" not in e for e in entries[:3]), "another user's client id never reaches the recipient"
        assert synced["seq"] == entries[-1]["seq"]
        for c in (a, laptop, phone2):
            await c.close()

    run(scenario())


def test_since_resumes_exactly_and_a_wrong_or_lost_epoch_resets(stack, users):
    alice, bob = users("alice", "bob")
    conv = dm(alice, bob)

    async def scenario():
        a = await ChatClient.connect(stack, 1, alice, device="a1")
        b = await ChatClient.connect(stack, 2, bob, device="b1")
        first = await b.synced()
        assert first.get("reset") is True, "a new device without since starts at the head"
        for i in range(6):
            await a.sent(await a.send_conv(conv, f"m{i}"))
        await b.wait_for(lambda fs: len(of(b, "message")) >= 6, what="6 messages")
        epoch = first["epoch"]
        await b.close()

        resumed = await ChatClient.connect(stack, 1, bob, device="b1", since=3, epoch=epoch)
        synced = await resumed.synced()
        assert not synced.get("reset") and synced["epoch"] == epoch
        assert [e["seq"] for e in resumed.entries()] == [4, 5, 6], "nothing missing, nothing before since"
        assert [e["body"] for e in resumed.entries()] == ["m3", "m4", "m5"]
        await resumed.close()

        wrong = await ChatClient.connect(stack, 1, bob, device="b1", since=3, epoch="not-the-epoch")
        synced = await wrong.synced()
        assert synced.get("reset") is True and synced["epoch"] == epoch and synced["seq"] == 6
        assert wrong.entries() == []
        await wrong.close()

        # The stream is lost from Redis: the next step makes a new epoch, never restarts the counter
        # in the old one.
        stack.redis("DEL", f"user:{{{bob}}}:stream", f"user:{{{bob}}}:meta")
        lost = await ChatClient.connect(stack, 2, bob, device="b1", since=6, epoch=epoch)
        synced = await lost.synced()
        assert synced.get("reset") is True and synced["epoch"] != epoch, synced
        await a.sent(await a.send_conv(conv, "after the loss"))
        after = await lost.wait_for(lambda fs: of(lost, "message", body="after the loss"), what="message in the new epoch")
        assert after[0]["seq"] == 1, "the new epoch numbers from 1"
        for c in (a, lost):
            await c.close()

    run(scenario())


def test_concurrent_sends_from_both_sides_get_one_cseq_order(stack, users):
    alice, bob = users("alice", "bob")
    conv = dm(alice, bob)

    async def scenario():
        a = await ChatClient.connect(stack, 1, alice, device="a1")
        b = await ChatClient.connect(stack, 2, bob, device="b1")
        await a.synced()
        await b.synced()
        ids = await asyncio.gather(*[c.send_conv(conv, f"{c.welcome['user']} {i}") for i in range(15) for c in (a, b)])
        for c in (a, b):
            await c.wait_for(lambda fs, c=c: len(of(c, "message")) >= 30, what="30 messages on each side")
        orders = []
        for c in (a, b):
            messages = of(c, "message")
            assert [m["cseq"] for m in messages] == list(range(1, 31)), "cseq 1…30 without gaps, in order"
            orders.append([m["msg"] for m in messages])
            seqs = [e["seq"] for e in c.entries()]
            assert seqs == sorted(set(seqs)), "each session's live seqs strictly increase"
        assert orders[0] == orders[1], "both sides see the same conversation order"
        assert len(set(ids)) == 30
        for c in (a, b):
            await c.close()

    run(scenario())


def test_history_pages_and_the_conversation_list(stack, users):
    alice, bob, carol = users("alice", "bob", "carol")

    async def scenario():
        a = await ChatClient.connect(stack, 1, alice, device="a1")
        await a.synced()
        for i in range(120):
            await a.send_conv(dm(alice, bob), f"b{i}")
        await a.wait_for(lambda fs: len(of(a, "message")) >= 120, 60, "own copies in alice's stream")
        # Two conversations are ordered independently: carol's comes after bob's 120 only once
        # those are in alice's stream.
        await a.sent(await a.send_conv(dm(alice, carol), "hi carol"))
        await a.wait_for(lambda fs: len(of(a, "message")) >= 121, 60, "carol's in alice's stream")

        page = await query(a, {"type": "history", "conv": dm(alice, bob), "limit": 50}, "history", "newest page")
        assert [m["cseq"] for m in page["messages"]] == list(range(71, 121)) and page["more"] is True
        older = await query(a, {"type": "history", "conv": dm(alice, bob), "before": 71, "limit": 100}, "history", "older page")
        assert [m["cseq"] for m in older["messages"]] == list(range(1, 71)) and older["more"] is False
        assert older["messages"][0]["body"] == "b0"

        listed = await query(a, {"type": "conversations", "limit": 1}, "conversations", "first conversation")
        assert [i["conv"] for i in listed["items"]] == [dm(alice, carol)], "newest activity first"
        assert listed["items"][0]["last"]["body"] == "hi carol" and listed["items"][0]["unread"] == 0
        rest = await query(a, {"type": "conversations", "limit": 10, "next": listed["next"]}, "conversations", "next page")
        assert [i["conv"] for i in rest["items"]] == [dm(alice, bob)] and "next" not in rest

        b = await ChatClient.connect(stack, 2, bob, device="b1")
        await b.synced()
        bobs = await query(b, {"type": "conversations"}, "conversations", "bob's list")
        item = bobs["items"][0]
        assert item["conv"] == dm(alice, bob) and item["cseq"] == 120 and item["unread"] == 120 and item["read"] == 0
        await b.send_json({"type": "read", "conv": dm(alice, bob), "cseq": 100})
        await eventually(lambda: stack.redis("HGET", f"user:{{{bob}}}:read", dm(alice, bob)) == ["100"], 20, "bob's read cursor")
        bobs = await query(b, {"type": "conversations"}, "conversations", "bob's list after reading")
        assert bobs["items"][0]["unread"] == 20

        outsider = await query(b, {"type": "history", "conv": dm(alice, carol)}, "history", "history of another's dm")
        assert outsider["type"] == "error" and outsider["code"] == "not_member"
        for c in (a, b):
            await c.close()

    run(scenario())


def test_non_members_get_nothing_of_a_conversation(stack, users):
    alice, bob, mallory = users("alice", "bob", "mallory")
    conv = dm(alice, bob)

    async def scenario():
        a = await ChatClient.connect(stack, 1, alice, device="a1")
        m = await ChatClient.connect(stack, 2, mallory, device="m1")
        await a.synced()
        await m.synced()
        await a.sent(await a.send_conv(conv, "private"))
        for frame in ({"type": "history", "conv": conv}, {"type": "read", "conv": conv, "cseq": 1},
                      {"type": "send", "id": "x1", "conv": conv, "body": "let me in"}):
            answer = await query(m, frame, "never", f"{frame['type']} refused")
            assert answer["type"] == "error" and answer["code"] == "not_member", answer
        # An ack only ever names the acker's own stream: a huge seq is clamped to mallory's head.
        await m.ack_seq(9_000_000)
        await eventually(lambda: stack.redis("HGET", f"user:{{{mallory}}}:devices", "m1") == ["0"], 20, "clamped ack")
        marker = await a.sent(await a.send(mallory, "marker"))
        await m.wait_for(lambda fs: of(m, "message", msg=marker["msg"]), what="marker")
        assert [e["body"] for e in m.entries()] == ["marker"], "nothing of alice and bob's conversation reached mallory"
        assert stack.redis("HGET", f"user:{{{bob}}}:read", conv) == [], "mallory's read moved nothing of bob's"
        for c in (a, m):
            await c.close()

    run(scenario())


def test_read_and_ack_are_clamped_and_never_go_backwards(stack, users):
    alice, bob = users("alice", "bob")
    conv = dm(alice, bob)

    async def scenario():
        a = await ChatClient.connect(stack, 1, alice, device="a1")
        b = await ChatClient.connect(stack, 2, bob, device="b1")
        await a.synced()
        await b.synced()
        for i in range(4):
            await a.sent(await a.send_conv(conv, f"m{i}"))
        await b.wait_for(lambda fs: len(of(b, "message")) >= 4, what="4 messages")
        await b.send_json({"type": "read", "conv": conv, "cseq": 1000})
        await eventually(lambda: stack.redis("HGET", f"user:{{{bob}}}:read", conv) == ["4"], 20, "read clamped to cseq 4")
        await b.send_json({"type": "read", "conv": conv, "cseq": 2})
        await b.ack_seq(1000)
        # The head is 5: four messages and bob's own read entry.
        await eventually(lambda: stack.redis("HGET", f"user:{{{bob}}}:devices", "b1") == ["5"], 20, "ack clamped to the head")
        assert stack.redis("HGET", f"user:{{{bob}}}:meta", "h") == ["5"]
        await b.ack_seq(1)
        marker = await a.sent(await a.send_conv(conv, "marker"))
        await b.wait_for(lambda fs: of(b, "message", msg=marker["msg"]), what="marker")
        await b.ack_seq(b.last_seq())
        await eventually(lambda: stack.redis("HGET", f"user:{{{bob}}}:devices", "b1") == [str(b.last_seq())], 20, "ack moved on")
        assert stack.redis("HGET", f"user:{{{bob}}}:read", conv) == ["4"], "read never went backwards"
        reads = of(a, "receipt", status="read")
        assert [r["cseq"] for r in reads] == [4], "one read watermark, at the clamped cseq"
        delivered = await a.wait_for(lambda fs: of(a, "receipt", status="delivered", cseq=5), what="delivered receipt for the marker")
        assert delivered[0]["msg"] == marker["msg"]
        for c in (a, b):
            await c.close()

    run(scenario())


def test_a_sender_offline_gets_its_receipts_on_sync(stack, users):
    alice, bob = users("alice", "bob")
    conv = dm(alice, bob)

    async def scenario():
        a = await ChatClient.connect(stack, 1, alice, device="a1")
        epoch = (await a.synced())["epoch"]
        sent = await a.sent(await a.send_conv(conv, "read me later"))
        await a.wait_for(lambda fs: of(a, "message", msg=sent["msg"]), what="own copy")
        since = a.last_seq()
        await a.close()
        b = await ChatClient.connect(stack, 2, bob, device="b1", since=0, epoch=None)
        await b.synced()
        await b.wait_for(lambda fs: of(b, "message", msg=sent["msg"]), what="message")
        await b.ack_seq(b.last_seq())
        await b.send_json({"type": "read", "conv": conv, "cseq": 1})
        await eventually(lambda: len(stack.redis("HKEYS", f"user:{{{alice}}}:marks")) == 2, 20, "both receipts in alice's stream")
        back = await ChatClient.connect(stack, 1, alice, device="a1", since=since, epoch=epoch)
        await back.synced()
        receipts = back.of_type("receipt")
        assert sorted(r["status"] for r in receipts) == ["delivered", "read"]
        assert all(r["msg"] == sent["msg"] and r["by"] == bob and r["cseq"] == 1 for r in receipts)
        for c in (back, b):
            await c.close()

    run(scenario())


def test_a_backlog_drains_on_one_connection_and_a_client_that_never_acks_keeps_it(stack, users):
    """20,000 entries: a client that acks drains them on one connection; a client that never
    acks is closed after the paging window, and its backlog is intact on the next connect."""
    (bob,) = users("bob")
    senders = users(*[f"s{i}" for i in range(20)])
    per_sender = 1000

    async def scenario():
        b = await ChatClient.connect(stack, 2, bob, device="b1")
        epoch = (await b.synced())["epoch"]
        await b.close()

        async def flood(name, edge):
            c = await ChatClient.connect(stack, edge, name)
            for i in range(per_sender):
                await c.send(bob, f"{name} {i}")
                if i % 40 == 39:
                    await asyncio.sleep(1)  # pace: 40 frames a second stays below --send-rate
            await c.wait_for(lambda fs: len(c.of_type("sent")) >= per_sender, 240, "every send answered")
            await c.close()
        await asyncio.gather(*[flood(name, 1 + n % 2) for n, name in enumerate(senders)])
        total = per_sender * len(senders)
        await eventually(lambda: int(stack.redis("HGET", f"user:{{{bob}}}:meta", "h")[0]) == total, 120, "the whole backlog stored")

        lazy = await ChatClient.connect(stack, 1, bob, device="b1")  # reads, never acks
        await asyncio.wait_for(lazy.closed.wait(), 120)
        assert lazy.close_code == 1008, lazy.close_code
        assert 0 < len(lazy.entries()) < total, "it got the paging window, not everything"
        assert stack.redis("HGET", f"user:{{{bob}}}:devices", "b1") == ["0"], "its cursor did not move"

        drainer = await ChatClient.connect(stack, 2, bob, device="b1", since=0, epoch=epoch)

        acked = 0

        async def ack_as_it_comes():
            nonlocal acked
            while not drainer.synced_frames() and not drainer.closed.is_set():
                last = drainer.last_seq()
                if last > acked:
                    await drainer.ack_seq(last)
                    acked = last
                await asyncio.sleep(0.05)
        await asyncio.gather(ack_as_it_comes(), drainer.synced(timeout=240))
        entries = drainer.entries()
        assert [e["seq"] for e in entries] == list(range(1, total + 1)), "every entry once, in seq order"
        assert len({e["msg"] for e in entries}) == total
        await drainer.close()

    run(scenario(), timeout=600)
