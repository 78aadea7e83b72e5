"""The chat path end to end: two edges, relay-svc, presence-svc, offline-svc, real broker and Redis."""

import asyncio

from client import ChatClient
from parley_stack import eventually


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 120))


def test_two_people_on_two_edges_chat_in_order(stack, users):
    alice, bob = users("alice", "bob")

    async def scenario():
        a = await ChatClient.connect(stack, 1, alice)
        b = await ChatClient.connect(stack, 2, bob)
        # In-order delivery is promised on the live path; a message routed in the moment a session
        # comes online may take the inbox path and overtake (docs/delivery.md), so wait for presence.
        await stack.online(bob, 1)
        ids = [await a.send(bob, f"hello {i}") for i in range(20)]
        sent = [await a.sent(i) for i in ids]
        got = await b.wait_for(lambda fs: len(b.unique_messages()) >= 20 and b.unique_messages(), what="20 messages")
        assert [m["body"] for m in got] == [f"hello {i}" for i in range(20)]
        assert [m["msg"] for m in got] == [s["msg"] for s in sent]
        assert all(m["from"] == alice and m["to"] == bob for m in got)
        assert [s["msg"] for s in sent] == sorted(s["msg"] for s in sent), "msg ids are time-ordered"
        reply = await b.send(alice, "hi alice")
        await b.sent(reply)
        back = await a.wait_for(lambda fs: a.unique_messages(), what="reply")
        assert back[0]["body"] == "hi alice" and back[0]["from"] == bob
        await a.close()
        await b.close()

    run(scenario())


def test_offline_recipient_gets_every_message_once_acked_not_again(stack, users):
    alice, bob = users("alice", "bob")

    async def scenario():
        a = await ChatClient.connect(stack, 1, alice)
        sent = [await a.sent(await a.send(bob, f"while you were away {i}")) for i in range(5)]
        await eventually(lambda: stack.redis("HGET", f"user:{{{bob}}}:meta", "h") == ["5"], 20, "5 entries in bob's stream")
        b = await ChatClient.connect(stack, 2, bob)
        got = await b.wait_for(lambda fs: len(b.unique_messages()) >= 5 and b.unique_messages(), what="replay")
        assert [m["msg"] for m in got] == [s["msg"] for s in sent]
        assert [m["body"] for m in got] == [f"while you were away {i}" for i in range(5)]
        await b.ack_all()
        await eventually(lambda: stack.redis("HGET", f"user:{{{bob}}}:devices", "~v1") == ["5"], 20,
                         "the legacy device's cursor moved over the acked messages")
        await b.close()
        # Reconnect: nothing is replayed, and a new message still arrives.
        b2 = await ChatClient.connect(stack, 1, bob)
        marker = await a.send(bob, "after reconnect")
        await b2.wait_for(lambda fs: any(m["body"] == "after reconnect" for m in b2.messages()), what="new message")
        assert [m["body"] for m in b2.unique_messages()] == ["after reconnect"]
        await a.sent(marker)
        await a.close()
        await b2.close()

    run(scenario())


def test_every_device_of_both_users_gets_the_message_and_v1_sessions_no_copy(stack, users):
    alice, bob = users("alice", "bob")

    async def scenario():
        a1 = await ChatClient.connect(stack, 1, alice, device="a1")
        a2 = await ChatClient.connect(stack, 2, alice, device="a2")
        a_v1 = await ChatClient.connect(stack, 1, alice)
        b1 = await ChatClient.connect(stack, 1, bob, device="b1")
        b2 = await ChatClient.connect(stack, 2, bob, device="b2")
        for c in (a1, a2, b1, b2):
            await c.synced()
        client_id = await a1.send(bob, "to both of you")
        sent = await a1.sent(client_id)
        assert sent["conv"] == f"dm:{min(alice, bob)}:{max(alice, bob)}"
        for c in (a1, a2, b1, b2):
            m = await c.wait_for(lambda fs, c=c: c.unique_messages(), what="message on each device")
            assert m[0]["msg"] == sent["msg"] and m[0]["cseq"] == 1 and m[0]["seq"] == 1
            assert m[0].get("id") == (client_id if c in (a1, a2) else None), "the client id only on the sender's devices"
        # A v1 session gets no copy of its user's sends: bob's reply reaches it, and everything of
        # alice's stream reaches a session in seq order, so a copy would have come first.
        reply = await b1.sent(await b1.send(alice, "marker"))
        await a_v1.wait_for(lambda fs: any(m["msg"] == reply["msg"] for m in a_v1.messages()), what="bob's reply")
        assert [m["msg"] for m in a_v1.messages()] == [reply["msg"]]
        for c in (a1, a2, a_v1, b1, b2):
            await c.close()

    run(scenario())


def test_sender_gets_a_receipt_after_the_recipient_acks(stack, users):
    alice, bob = users("alice", "bob")

    async def scenario():
        a = await ChatClient.connect(stack, 1, alice)
        b = await ChatClient.connect(stack, 2, bob)
        client_id = await a.send(bob, "did you get this?")
        sent = await a.sent(client_id)
        await b.wait_for(lambda fs: b.unique_messages(), what="message")
        assert a.of_type("receipt") == [], "no receipt before the ack"
        await b.ack([sent["msg"]])
        receipt = await a.wait_for(lambda fs: a.of_type("receipt"), what="receipt")
        assert {k: receipt[0].get(k) for k in ("msg", "by", "status", "id", "cseq")} == \
            {"msg": sent["msg"], "by": bob, "status": "delivered", "id": client_id, "cseq": 1}
        await a.close()
        await b.close()

    run(scenario())


def test_a_client_retry_with_the_same_id_is_delivered_once(stack, users):
    alice, bob = users("alice", "bob")

    async def scenario():
        a1 = await ChatClient.connect(stack, 1, alice)
        a2 = await ChatClient.connect(stack, 2, alice)
        b = await ChatClient.connect(stack, 2, bob)
        await stack.online(bob, 1)
        first = await a1.sent(await a1.send(bob, "once", client_id="retry-1"))
        again = await a1.sent(await a1.send(bob, "once", client_id="retry-1"))
        assert again["msg"] == first["msg"], "a retry on the same edge gets the same msg id"
        # A retry that reaches another edge (after a reconnect) is dropped by relay-svc.
        await a2.sent(await a2.send(bob, "once", client_id="retry-1"))
        # Everything to bob shares one chat.inbound partition (key: recipient) and bob's live path
        # keeps that order, so once a later marker arrives every retry has been routed or dropped.
        await a1.sent(await a1.send(bob, "marker"))
        await b.wait_for(lambda fs: any(m["body"] == "marker" for m in b.messages()), what="marker")
        bodies = [m["body"] for m in b.unique_messages()]
        assert bodies == ["once", "marker"], bodies
        for c in (a1, a2, b):
            await c.close()

    run(scenario())


def test_seed_tutorial_read_endpoint_still_works(stack, users):
    import websockets
    alice, bob = users("alice", "bob")

    async def scenario():
        base = f"ws://127.0.0.1:{stack.ports['ws-edge-2']}"
        async with websockets.connect(f"{base}/read?user={bob}") as bob_ws, \
                websockets.connect(f"ws://127.0.0.1:{stack.ports['ws-edge-1']}/read?user={alice}") as alice_ws:
            await eventually(lambda: len(stack.redis("HKEYS", f"presence:{{{bob}}}")) == 1, 20, "bob online")
            await alice_ws.send('{"user":"%s","msg":"hello from the tutorial"}' % bob)
            assert await asyncio.wait_for(bob_ws.recv(), 20) == "hello from the tutorial"
        # What was written to a /read session counts as acked: the legacy device's cursor moves.
        await eventually(lambda: stack.redis("HGET", f"user:{{{bob}}}:devices", "~v1") == ["1"], 20, "seed message acked")

    run(scenario())
