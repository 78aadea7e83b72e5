"""Kill -9 one Parley process while 200 messages are in flight, restart it: every message that
got `sent` still reaches its recipient (duplicates allowed, dropped by msg id)."""

import asyncio

from client import ChatClient
from parley_stack import eventually

IN_FLIGHT = 200


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 240))


async def send_while_killing(stack, sender, recipient, victim):
    """Sends IN_FLIGHT messages back to back, kills `victim` after a quarter of them were
    sent, restarts it, waits for an answer to every send and returns the msg ids that got `sent`."""
    ids = []
    for i in range(IN_FLIGHT):
        ids.append(await sender.send(recipient, f"m{i}"))
        if i == IN_FLIGHT // 4:
            await sender.sent(ids[0])
            stack.kill(victim)
    await asyncio.get_running_loop().run_in_executor(None, stack.restart, victim)
    # The edge answers every send (`sent` once the broker has it; the victim is never the sender's
    # edge), so the set of acknowledged messages is fixed once each id has its answer.
    await sender.wait_for(lambda fs: answered(sender) >= set(ids), 60, "an answer to every send")
    return {f["msg"] for f in sender.of_type("sent")}


def answered(client):
    """Client ids that got `sent` or `error`."""
    return {f.get("id") for f in client.of_type("sent") + client.of_type("error")}


async def receive_all(stack, edge, user, expected, first=None):
    """Connects `user` (unless `first` is already connected), acks what arrives, reconnects
    once so the inbox replays, and returns every msg id received."""
    client = first or await ChatClient.connect(stack, edge, user)
    received = set()

    async def collect(c, timeout):
        try:
            await c.wait_for(lambda fs: expected <= {m["msg"] for m in c.messages()}, timeout, "all messages")
        except (asyncio.TimeoutError, AssertionError):
            pass
        received.update(m["msg"] for m in c.messages())
        await c.ack_all()

    await collect(client, 20)
    await client.close()
    if not expected <= received:
        again = await ChatClient.connect(stack, edge, user)
        await collect(again, 40)
        await again.close()
    return received


def test_relay_killed_mid_stream(stack, users):
    alice, bob = users("alice", "bob")

    async def scenario():
        a = await ChatClient.connect(stack, 1, alice)
        b = await ChatClient.connect(stack, 2, bob)
        sent = await send_while_killing(stack, a, bob, "relay-svc")
        assert len(sent) >= IN_FLIGHT // 4
        received = await receive_all(stack, 2, bob, sent, first=b)
        assert sent <= received, f"{len(sent - received)} acknowledged messages never arrived"
        await a.close()

    run(scenario())


def test_offline_svc_killed_while_the_recipient_is_offline(stack, users):
    alice, bob = users("alice", "bob")

    async def scenario():
        a = await ChatClient.connect(stack, 1, alice)
        sent = await send_while_killing(stack, a, bob, "offline-svc")
        received = await receive_all(stack, 2, bob, sent)
        assert sent <= received, f"{len(sent - received)} acknowledged messages never arrived"
        await a.close()

    run(scenario())


def test_recipient_edge_killed_sessions_expire_and_nothing_is_lost(stack, users):
    alice, bob = users("alice", "bob")

    async def scenario():
        a = await ChatClient.connect(stack, 1, alice)
        b = await ChatClient.connect(stack, 2, bob)
        await eventually(lambda: stack.redis("HVALS", f"presence:{{{bob}}}") == ["edge-2"], 20, "bob online on edge-2")
        ids = []
        for i in range(IN_FLIGHT):
            ids.append(await a.send(bob, f"m{i}"))
            if i == IN_FLIGHT // 4:
                stack.kill("ws-edge-2")
        await a.wait_for(lambda fs: len(a.of_type("sent")) >= IN_FLIGHT, 60, "every send acknowledged")
        sent = {f["msg"] for f in a.of_type("sent")}
        # The dead edge stops heartbeating: presence-svc removes bob's session within the bound.
        await eventually(lambda: stack.redis("HVALS", f"presence:{{{bob}}}") == [], 30, "bob's session on the dead edge removed")
        received = {m["msg"] for m in b.messages()}
        received |= await receive_all(stack, 1, bob, sent - received)
        assert sent <= received, f"{len(sent - received)} acknowledged messages never arrived"
        await asyncio.get_running_loop().run_in_executor(None, stack.restart, "ws-edge-2")
        await a.close()

    run(scenario())


def test_sigterm_closes_sessions_with_going_away_and_reports_them(stack, users):
    (carol,) = users("carol")

    async def scenario():
        c = await ChatClient.connect(stack, 2, carol)
        await eventually(lambda: stack.redis("HVALS", f"presence:{{{carol}}}") == ["edge-2"], 20, "carol online")
        code = await asyncio.get_running_loop().run_in_executor(None, stack.terminate, "ws-edge-2")
        assert code == 0
        await asyncio.wait_for(c.closed.wait(), 10)
        assert c.close_code == 1001
        await eventually(lambda: stack.redis("HVALS", f"presence:{{{carol}}}") == [], 20, "carol's session reported closed")
        await asyncio.get_running_loop().run_in_executor(None, stack.restart, "ws-edge-2")

    run(scenario())
