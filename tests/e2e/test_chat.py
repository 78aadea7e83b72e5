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
        await eventually(lambda: int(stack.redis("ZCARD", f"inbox:{{{bob}}}")[0]) == 5, 20, "5 messages in bob's inbox")
        b = await ChatClient.connect(stack, 2, bob)
        got = await b.wait_for(lambda fs: len(b.unique_messages()) >= 5 and b.unique_messages(), what="replay")
        assert [m["msg"] for m in got] == [s["msg"] for s in sent]
        assert [m["body"] for m in got] == [f"while you were away {i}" for i in range(5)]
        await b.ack_all()
        await eventually(lambda: int(stack.redis("ZCARD", f"inbox:{{{bob}}}")[0]) == 0, 20, "bob's inbox emptied by acks")
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


def test_every_session_of_a_user_gets_the_message_and_the_sender_syncs(stack, users):
    alice, bob = users("alice", "bob")

    async def scenario():
        a1 = await ChatClient.connect(stack, 1, alice)
        a2 = await ChatClient.connect(stack, 2, alice)
        b1 = await ChatClient.connect(stack, 1, bob)
        b2 = await ChatClient.connect(stack, 2, bob)
        # Copies to the sender's other sessions are not durable: they go to the sessions presence
        # knows when relay-svc routes, so wait until both of alice's are registered.
        await eventually(lambda: len(stack.redis("HKEYS", f"presence:{{{alice}}}")) == 2, 20, "both alice sessions online")
        sent = await a1.sent(await a1.send(bob, "to both of you"))
        for b in (b1, b2):
            m = await b.wait_for(lambda fs, b=b: b.unique_messages(), what="message on each session")
            assert m[0]["msg"] == sent["msg"]
        copy = await a2.wait_for(lambda fs: a2.unique_messages(), what="copy on the sender's other session")
        assert copy[0]["msg"] == sent["msg"] and copy[0]["from"] == alice
        # Proof that no copy is on its way to a1: relay-svc had routed the message (a2 has its
        # copy) before bob sends this reply, and everything relay-svc produces for edge 1 travels
        # one partition in order, so a copy for a1 would arrive before the reply.
        reply = await b1.sent(await b1.send(alice, "marker"))
        await a1.wait_for(lambda fs: any(m["msg"] == reply["msg"] for m in a1.messages()), what="bob's later reply")
        assert [m["msg"] for m in a1.messages()] == [reply["msg"]], "the sending session gets `sent`, not a copy"
        for c in (a1, a2, b1, b2):
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
        assert receipt[0] == {"type": "receipt", "msg": sent["msg"], "by": bob, "status": "delivered", "id": client_id}
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
        # What was written to a /read session counts as acked: the inbox empties.
        await eventually(lambda: int(stack.redis("ZCARD", f"inbox:{{{bob}}}")[0]) == 0, 20, "seed message acked")

    run(scenario())
