"""Floods, quotas, blocks and message requests against a stack of their own with small limits
(docs/security.md, "Floods, quotas, blocks and message requests")."""

import asyncio
import os
import pathlib
import tempfile

import pytest

from client import ChatClient, dm, of, query
from parley_stack import Stack

REQUEST_LIMIT = 3
QUOTA_PER_MINUTE = 30


def run(coro, timeout=180):
    return asyncio.run(asyncio.wait_for(coro, timeout))


@pytest.fixture(scope="module")
def abuse_stack(stack):
    """A second stack with small admission limits (the shared one lifts them), built from the
    same binaries."""
    state = pathlib.Path(tempfile.mkdtemp(prefix="parley-abuse-", dir=os.environ.get("PARLEY_E2E_STATE")))
    s = Stack(state, stack.bin, env={
        "PARLEY_MESSAGE_REQUEST_LIMIT": str(REQUEST_LIMIT),
        "PARLEY_SEND_QUOTA_PER_MINUTE": str(QUOTA_PER_MINUTE),
        "PARLEY_SEND_QUOTA_PER_DAY": "1000",
        "PARLEY_MAX_GROUP_MEMBERS": "10",
    })
    try:
        s.start()
        yield s
    finally:
        s.stop()


def rejected(client, client_id):
    return next((f for f in client.of_type("rejected") if f.get("id") == client_id), None)


async def send_and_settle(sender, conv, body):
    """Sends and waits for `sent`; returns the client id."""
    client_id = await sender.send_conv(conv, body)
    await sender.sent(client_id)
    return client_id


def test_a_blocked_users_messages_are_refused_and_never_stored_for_the_blocker(abuse_stack, users):
    alice, bob = users("alice", "bob")
    conv = dm(alice, bob)

    async def scenario():
        a = await ChatClient.connect(abuse_stack, 1, alice, device="phone")
        b = await ChatClient.connect(abuse_stack, 2, bob, device="laptop")
        await a.synced()
        await b.synced()
        await send_and_settle(a, conv, "hello bob")  # alice wrote first: bob's messages are no request
        await send_and_settle(b, conv, "hi alice")
        await a.wait_for(lambda fs: of(a, "message", body="hi alice"), what="bob's hi")

        await a.send_json({"type": "block", "user": bob, "id": "blk1"})
        await a.sent("blk1")
        spam = await send_and_settle(b, conv, "spam")
        refusal = await b.wait_for(lambda fs: rejected(b, spam), what="bob's rejected entry")
        assert refusal["code"] == "blocked" and alice in refusal["reason"], refusal

        history = await query(a, {"type": "history", "conv": conv}, "history", "alice's history")
        assert [m["body"] for m in history["messages"]] == ["hello bob", "hi alice"], history
        mine = await send_and_settle(a, conv, "one more")
        assert (await a.wait_for(lambda fs: rejected(a, mine), what="alice's own refusal"))["code"] == "blocked"

        await a.send_json({"type": "unblock", "user": bob, "id": "unb1"})
        await a.sent("unb1")
        await send_and_settle(b, conv, "sorry")
        await a.wait_for(lambda fs: of(a, "message", body="sorry"), what="bob's message after the unblock")
        assert not of(a, "message", body="spam"), "the refused message never reached the blocker"
        await a.close()
        await b.close()

    run(scenario())


def test_a_block_ends_a_watch_allowed_before_it(abuse_stack, users):
    """bob watched alice (they share a dm) before alice blocked him: after the block bob's session
    hears nothing of alice coming and going, while carol's on the same edge does."""
    alice, bob, carol = users("alice", "bob", "carol")

    async def scenario():
        a = await ChatClient.connect(abuse_stack, 1, alice, device="phone")
        b = await ChatClient.connect(abuse_stack, 2, bob, device="laptop")
        c = await ChatClient.connect(abuse_stack, 2, carol, device="laptop")
        for client in (a, b, c):
            await client.synced()
        for peer, client in ((bob, b), (carol, c)):
            await send_and_settle(a, dm(alice, peer), f"hi {peer}")
            await client.wait_for(lambda fs, client=client: client.messages(), what=f"{peer} got alice's message")
            await client.send_json({"type": "watch", "users": [alice]})
            await client.wait_for(lambda fs, client=client: of(client, "presence", user=alice, status="online"),
                                  what=f"{peer} watches alice")

        await a.send_json({"type": "block", "user": bob, "id": "blk-watch"})
        await a.sent("blk-watch")
        # relay-svc sends the unwatch to bob's edge with the block's batch, before anything it
        # routes later: once bob's next message comes back rejected, the edge has dropped the watch.
        late = await send_and_settle(b, dm(alice, bob), "still there?")
        await b.wait_for(lambda fs: rejected(b, late), what="bob's rejected entry")

        await a.close()
        await c.wait_for(lambda fs: of(c, "presence", user=alice, status="offline"), what="carol sees alice go")
        # bob's session is on the same edge: a ping answered after carol's frame went out comes
        # after the same change was handed to bob's session.
        await b.send_json({"type": "ping"})
        await b.wait_for(lambda fs: b.of_type("pong"), what="bob's pong")
        assert not of(b, "presence", user=alice, status="offline"), "the blocked user no longer watches the blocker"
        await b.close()
        await c.close()

    run(scenario())


def test_a_stranger_stops_at_the_message_request_limit_until_the_user_replies(abuse_stack, users):
    stranger, victim = users("stranger", "victim")
    conv = dm(stranger, victim)

    async def scenario():
        s = await ChatClient.connect(abuse_stack, 1, stranger, device="d")
        v = await ChatClient.connect(abuse_stack, 2, victim, device="d")
        await s.synced()
        await v.synced()
        ids = [await send_and_settle(s, conv, f"buy now {i}") for i in range(REQUEST_LIMIT + 2)]
        for client_id in ids[REQUEST_LIMIT:]:
            refusal = await s.wait_for(lambda fs, c=client_id: rejected(s, c), what="a refused request")
            assert refusal["code"] == "quota_exceeded" and f"at most {REQUEST_LIMIT} messages" in refusal["reason"], refusal
        await v.wait_for(lambda fs: len(of(v, "message", conv=conv)) >= REQUEST_LIMIT, what="the requests")
        assert [m["body"] for m in of(v, "message", conv=conv)] == [f"buy now {i}" for i in range(REQUEST_LIMIT)]

        await send_and_settle(v, conv, "who is this?")
        await send_and_settle(s, conv, "an old friend")
        await v.wait_for(lambda fs: of(v, "message", body="an old friend"), what="the stranger's message after the reply")
        await s.close()
        await v.close()

    run(scenario())


def test_a_flood_stops_at_the_quota_and_the_flooded_user_can_connect_read_and_block(abuse_stack, users):
    flooder, victim = users("flooder", "victim")
    conv = dm(flooder, victim)

    async def scenario():
        v = await ChatClient.connect(abuse_stack, 2, victim, device="phone")
        f = await ChatClient.connect(abuse_stack, 1, flooder, device="bot")
        await v.synced()
        await f.synced()
        await send_and_settle(v, conv, "a real message")
        await f.wait_for(lambda fs: of(f, "message", body="a real message"), what="the real message")

        # A fixed minute window may roll over once while flooding: 3 windows' worth is a bound.
        refusal = None
        for i in range(3 * QUOTA_PER_MINUTE):
            client_id = await send_and_settle(f, conv, f"flood {i} " + "x" * 1000)
            if i >= QUOTA_PER_MINUTE:
                refusal = await f.wait_for(lambda fs, c=client_id: rejected(f, c) or of(f, "message", id=c), what="its outcome")
                if isinstance(refusal, dict) and refusal.get("type") == "rejected":
                    break
        assert refusal and refusal["type"] == "rejected", "the flood was never stopped"
        assert refusal["code"] == "quota_exceeded" and f"{QUOTA_PER_MINUTE} deliveries per minute" in refusal["reason"], refusal

        # The flooded user connects another device, reads and blocks.
        tablet = await ChatClient.connect(abuse_stack, 1, victim, device="tablet", since=0)
        await tablet.synced()
        history = await query(tablet, {"type": "history", "conv": conv, "limit": 100}, "history", "the victim's history")
        bodies = [m["body"] for m in history["messages"]]
        assert "a real message" in bodies, "the victim's real message is intact"
        await tablet.send_json({"type": "block", "user": flooder, "id": "stop"})
        await tablet.sent("stop")
        after = await send_and_settle(f, conv, "still here")
        assert (await f.wait_for(lambda fs: rejected(f, after), what="refused after the block"))["code"] in ("blocked", "quota_exceeded")
        for c in (v, f, tablet):
            await c.close()

    run(scenario())
