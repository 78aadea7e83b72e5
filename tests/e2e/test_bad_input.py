"""Bad input gets the documented error and breaks nothing else."""

import asyncio
import json
import time
import urllib.error
import urllib.request

import websockets

from client import ChatClient


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 120))


async def still_works(client):
    await client.send_json({"type": "ping"})
    await client.wait_for(lambda fs: fs and fs[-1] == {"type": "pong"}, what="pong")


def test_malformed_frames_get_errors_and_the_session_stays(stack, users):
    alice, bob = users("alice", "bob")
    cases = [
        ("not json at all", "bad_request", None),
        ('["a", 1]', "bad_request", None),
        ('{"type": 7}', "bad_request", None),
        ('{"type": "teleport", "id": "c1"}', "unknown_type", "c1"),
        ('{"type": "send", "id": "c2", "to": "bob"}', "bad_request", "c2"),
        ('{"type": "send", "id": "c3", "to": 5, "body": "x"}', "bad_request", "c3"),
        ('{"type": "send", "id": "c4", "to": "bob smith", "body": "x"}', "invalid_recipient", "c4"),
        ('{"type": "send", "id": "c5", "to": "{bob}:x", "body": "x"}', "invalid_recipient", "c5"),
        ('{"type": "send", "id": "c6", "to": "%s", "body": "%s"}' % (bob, "x" * 5000), "too_large", "c6"),
        ('{"type": "ack", "msgs": ["not-a-msg-id"]}', "bad_request", None),
        ('{"type": "watch", "users": ["ok", "not ok"]}', "invalid_recipient", None),
        # v2 frames
        ('{"type": "send", "id": "c7", "to": "%s", "conv": "dm:a:b", "body": "x"}' % bob, "bad_request", "c7"),
        ('{"type": "send", "id": "c8", "conv": "dm:b:a", "body": "x"}', "bad_request", "c8"),
        ('{"type": "send", "id": "c9", "body": "x"}', "bad_request", "c9"),
        ('{"type": "ack", "seq": -1}', "bad_request", None),
        ('{"type": "ack", "seq": "5"}', "bad_request", None),
        ('{"type": "ack", "seq": 9007199254740992}', "bad_request", None),
        ('{"type": "ack", "seq": 1.5}', "bad_request", None),
        ('{"type": "ack", "seq": 3, "msgs": []}', "bad_request", None),
        ('{"type": "read", "conv": "dm:x:y"}', "bad_request", None),
        ('{"type": "read", "conv": "nope", "cseq": 1}', "bad_request", None),
        ('{"type": "read", "conv": "dm:x:y", "cseq": 99999999999999999999}', "bad_request", None),
        ('{"type": "sync", "after": -3}', "bad_request", None),
        ('{"type": "sync", "after": 1, "epoch": "not an epoch"}', "bad_request", None),
        ('{"type": "history", "conv": "dm:x:y", "limit": 101}', "bad_request", None),
        ('{"type": "history", "conv": "dm:x:y", "limit": 0}', "bad_request", None),
        ('{"type": "history", "conv": 7}', "bad_request", None),
        ('{"type": "history", "conv": "dm:x:y", "before": -1}', "bad_request", None),
        ('{"type": "conversations", "limit": 1000}', "bad_request", None),
        ('{"type": "conversations", "next": "%s"}' % ("n" * 300), "bad_request", None),
        ('{"type": "history", "conv": "dm:x:y"}', "not_member", None),
        ('{"type": "read", "conv": "dm:x:y", "cseq": 1}', "not_member", None),
        ('{"type": "send", "id": "c10", "conv": "dm:x:y", "body": "x"}', "not_member", "c10"),
        ('{"type": "send", "id": "c11", "to": "%s", "body": "nul \\u0000"}' % bob, "bad_request", "c11"),
        ('{"type": "send", "id": "c12", "to": "%s", "body": "\\u001b[2J"}' % bob, "bad_request", "c12"),
        # groups and typing
        ('{"type": "group_create", "title": "t"}', "bad_request", None),
        ('{"type": "group_create", "id": "g1", "title": ""}', "bad_request", "g1"),
        ('{"type": "group_create", "id": "g2", "title": "%s"}' % ("t" * 200), "too_large", "g2"),
        ('{"type": "group_create", "id": "g3", "title": "t", "members": "bob"}', "bad_request", "g3"),
        ('{"type": "group_create", "id": "g4", "title": "t", "members": ["ok", "not ok"]}', "invalid_recipient", "g4"),
        ('{"type": "group_create", "id": "g5", "title": "t", "members": %s}' % json.dumps([f"u{i}" for i in range(121)]),
         "too_large", "g5"),
        ('{"type": "group_add", "id": "g6", "conv": "dm:x:y", "members": ["bob"]}', "bad_request", "g6"),
        ('{"type": "group_add", "id": "g7", "conv": "g:team", "members": []}', "bad_request", "g7"),
        ('{"type": "group_remove", "id": "g8", "conv": "g:team"}', "bad_request", "g8"),
        ('{"type": "group_remove", "conv": "g:team", "members": [5]}', "bad_request", None),
        ('{"type": "group_leave", "conv": "g:a b"}', "bad_request", None),
        ('{"type": "group_leave", "id": 7, "conv": "g:team"}', "bad_request", None),
        ('{"type": "members", "conv": "dm:x:y"}', "bad_request", None),
        ('{"type": "members", "conv": "g:team", "next": "%s"}' % ("n" * 300), "bad_request", None),
        ('{"type": "typing"}', "bad_request", None),
        ('{"type": "typing", "conv": "nope"}', "bad_request", None),
        ('{"type": "typing", "conv": "dm:x:y"}', "not_member", None),
    ]

    async def scenario():
        a = await ChatClient.connect(stack, 1, alice, device="a1")
        other = await ChatClient.connect(stack, 1, bob)
        await a.synced()
        for text, code, client_id in cases:
            before = len(a.of_type("error"))
            await a.ws.send(text)
            errors = await a.wait_for(lambda fs: len(a.of_type("error")) > before and a.of_type("error"), what=code)
            assert errors[-1]["code"] == code, (text, errors[-1])
            assert errors[-1].get("id") == client_id, (text, errors[-1])
            await still_works(a)
        await a.ws.send(b"\x00\x01binary")
        await a.wait_for(lambda fs: a.of_type("error") and a.of_type("error")[-1]["message"].startswith("binary"), what="binary")
        await still_works(a)
        # Nothing of this reached anyone, and the session still chats.
        await a.sent(await a.send(bob, "still here"))
        got = await other.wait_for(lambda fs: other.unique_messages(), what="message after bad input")
        assert [m["body"] for m in got] == ["still here"]
        await a.close()
        await other.close()

    run(scenario())


def test_oversize_frame_closes_only_that_session_with_1009(stack, users):
    alice, bob = users("alice", "bob")

    async def scenario():
        a = await ChatClient.connect(stack, 1, alice)
        b = await ChatClient.connect(stack, 1, bob)
        await a.ws.send("x" * 100_000)
        await asyncio.wait_for(a.closed.wait(), 20)
        assert a.close_code == 1009
        await still_works(b)
        await b.close()

    run(scenario())


def test_a_flood_closes_only_that_session_with_1008(stack, users):
    alice, bob = users("alice", "bob")

    async def scenario():
        a = await ChatClient.connect(stack, 1, alice)
        b = await ChatClient.connect(stack, 1, bob)
        # Past the burst of tokens, then past as many strikes: the session is closed.
        burst = int(stack.env.get("PARLEY_SEND_BURST", "200"))
        try:
            for _ in range(3 * burst):
                await a.ws.send('{"type":"ping"}')
        except websockets.ConnectionClosed:
            pass
        await asyncio.wait_for(a.closed.wait(), 20)
        assert a.close_code == 1008
        await still_works(b)
        await b.close()

    run(scenario())


def status_of(url, data=None, headers=None):
    req = urllib.request.Request(url, data=data, headers=headers or {}, method="POST" if data else "GET")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def test_missing_bad_expired_or_forged_tokens_get_401_before_the_upgrade(stack, users):
    import base64
    import hashlib
    import hmac
    (alice,) = users("alice")
    good = stack.login(1, alice)

    def sign(payload, secret):
        enc = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
        head = enc(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        body = enc(json.dumps(payload).encode())
        sig = enc(hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest())
        return f"{head}.{body}.{sig}"

    secret = stack.env["PARLEY_JWT_SECRET"]
    expired = sign({"sub": alice, "exp": int(time.time()) - 60}, secret)
    forged = sign({"sub": alice, "exp": int(time.time()) + 600}, "not-the-secret-at-all-0123456789")
    unsigned = good.rsplit(".", 1)[0] + "."
    none_alg = base64.urlsafe_b64encode(b'{"alg":"none"}').rstrip(b"=").decode() + "." + good.split(".")[1] + "."
    bad_sub = sign({"sub": "{alice}:x", "exp": int(time.time()) + 600}, secret)
    valid = sign({"sub": alice, "exp": int(time.time()) + 600}, secret)

    async def scenario():
        base = f"ws://127.0.0.1:{stack.ports['ws-edge-1']}/ws"
        for token in (None, "", "garbage", expired, forged, unsigned, none_alg, bad_sub):
            url = base if token is None else f"{base}?token={token}"
            try:
                async with websockets.connect(url):
                    raise AssertionError(f"upgraded with token {token!r}")
            except websockets.InvalidStatus as e:
                assert e.response.status_code == 401, token
        async with websockets.connect(base, additional_headers={"Authorization": f"Bearer {valid}"}) as ws:
            assert json.loads(await ws.recv())["type"] == "welcome"

    run(scenario())
    assert status_of(f"{stack.edge_url(1)}/api/whoami?token={forged}") == 401
    assert status_of(f"{stack.edge_url(1)}/api/whoami?token={good}") == 200


def test_user_ids_that_could_break_keys_or_topics_are_refused_at_login(stack):
    for user in ["", "a b", "{x}", "x:y", "../etc", "é", "a" * 65, "a\nb"]:
        code = status_of(f"{stack.edge_url(1)}/api/login", json.dumps({"user": user}).encode(),
                         {"content-type": "application/json"})
        assert code == 400, user
    assert status_of(f"{stack.edge_url(1)}/api/login", b"{not json", {"content-type": "application/json"}) == 400


def test_bad_device_or_since_is_refused_before_the_upgrade(stack, users):
    (alice,) = users("alice")
    token = stack.login(1, alice)

    async def scenario():
        base = f"ws://127.0.0.1:{stack.ports['ws-edge-1']}/ws?token={token}"
        for query in ("&device=", "&device=a%20b", "&device=" + "d" * 65, "&device=%7Bx%7D", "&device=d1&since=-1",
                      "&device=d1&since=x", "&device=d1&since=9007199254740992", "&device=d1&since=1&epoch=bad%20epoch"):
            try:
                async with websockets.connect(base + query):
                    raise AssertionError(f"upgraded with {query!r}")
            except websockets.InvalidStatus as e:
                assert e.response.status_code == 400, query
        async with websockets.connect(base + "&device=d1") as ws:
            assert json.loads(await ws.recv())["device"] == "d1"

    run(scenario())
