"""Client tokens end to end: every way a client may carry one works, none of them reaches a log,
and a retried send reaches its recipient once."""

import asyncio
import json
import re
import urllib.error
import urllib.request

import websockets

from client import ChatClient, dm

JWT = re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 120))


def whoami(url, headers):
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def test_tokens_in_header_subprotocol_or_query_work_and_no_log_line_holds_a_token(stack, users):
    alice, bob = users("alice", "bob")
    tokens = [stack.login(1, alice) for _ in range(3)]
    forged = tokens[0].rsplit(".", 1)[0] + ".c2lnbmF0dXJl"
    base = f"ws://127.0.0.1:{stack.ports['ws-edge-1']}/ws"

    async def scenario():
        async with websockets.connect(f"{base}?device=web", subprotocols=["parley.v2", f"parley.token.{tokens[0]}"]) as ws:
            assert ws.subprotocol == "parley.v2"
            assert json.loads(await ws.recv())["type"] == "welcome"
        async with websockets.connect(base, additional_headers={"Authorization": f"Bearer {tokens[1]}"}) as ws:
            assert json.loads(await ws.recv())["type"] == "welcome"
        async with websockets.connect(f"{base}?token={tokens[2]}") as ws:
            assert json.loads(await ws.recv())["type"] == "welcome"
        for connect in (lambda: websockets.connect(f"{base}?token={forged}"),
                        lambda: websockets.connect(base, subprotocols=["parley.v2", f"parley.token.{forged}"])):
            try:
                async with connect():
                    raise AssertionError("upgraded with a forged token")
            except websockets.InvalidStatus as e:
                assert e.response.status_code == 401

    run(scenario())
    who = f"{stack.edge_url(2)}/api/whoami"
    assert whoami(who, {"Authorization": f"Bearer {tokens[0]}"}) == 200
    assert whoami(f"{who}?token={tokens[1]}", {}) == 200
    assert whoami(who, {"Authorization": f"Bearer {forged}"}) == 401

    for name in stack.procs:
        log = stack.log(name)
        for token in tokens + [forged]:
            assert token.split(".")[2] not in log, f"{name}: a token's signature is in its log"
        assert not JWT.search(log), f"{name}: a JWT is in its log: {JWT.search(log).group(0)[:20]}…"


def duplicates_at_relay(stack):
    """relay-svc's count of sends it dropped as retries (parley_messages_duplicate_total)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{stack.ports['relay-svc']}/metrics", timeout=10) as r:
        lines = r.read().decode().splitlines()
    return sum(float(line.rsplit(" ", 1)[1]) for line in lines if line.startswith("parley_messages_duplicate_total"))


def test_a_retried_send_reaches_the_recipient_once(stack, users):
    alice, bob = users("alice", "bob")
    duplicates_before = duplicates_at_relay(stack)

    async def scenario():
        b = await ChatClient.connect(stack, 2, bob, device="b1")
        await b.synced()
        first = await ChatClient.connect(stack, 1, alice, device="a1")
        await first.send(bob, "once", client_id="retry-1")
        await first.send(bob, "once", client_id="retry-1")
        await first.wait_for(lambda fs: len(first.of_type("sent")) == 2, what="two sent frames")
        msgs = {f["msg"] for f in first.of_type("sent")}
        assert len(msgs) == 1, msgs
        await first.close()
        # Again after reconnecting to the same edge.
        second = await ChatClient.connect(stack, 1, alice, device="a1")
        await second.send(bob, "once", client_id="retry-1")
        assert (await second.sent("retry-1"))["msg"] in msgs
        await second.send(bob, "after", client_id="marker-1")
        marker = (await second.sent("marker-1"))["msg"]

        # Bob's stream, in conversation order: the marker comes after every copy of the retried send.
        await b.wait_for(lambda fs: any(e.get("msg") == marker for e in b.entries()), what="the marker")
        copies = [e for e in b.entries() if e.get("conv") == dm(alice, bob) and e.get("msg") in msgs]
        assert len(copies) == 1, copies
        await second.close()
        await b.close()

    run(scenario())
    # The edge answered the retries itself: none of them was produced, so relay-svc (which drops
    # retries that reach it) saw none. The marker reached bob after them, so relay had read them.
    assert duplicates_at_relay(stack) == duplicates_before
