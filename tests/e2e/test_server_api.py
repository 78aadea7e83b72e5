"""The server API (docs/operations.md, "Server API") against the whole stack: what an
application backend does through ws-edge's admin port reaches users' sessions, and what it reads
comes from offline-svc and presence-svc."""

import asyncio
import urllib.error
import urllib.request
import uuid

from client import ChatClient
from parley_stack import eventually


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 120))


def test_a_system_message_and_a_group_reach_the_members_and_history_has_them(stack, users):
    alice, bob = users("alice", "bob")

    async def scenario():
        a = await ChatClient.connect(stack, 1, alice, device="laptop", since=0)
        b = await ChatClient.connect(stack, 2, bob, device="phone", since=0)
        await stack.online(alice, 1)
        await stack.online(bob, 1)
        status, published = stack.api("POST", "/api/v1/publish", {"id": "welcome-1", "to": alice, "body": "welcome"})
        assert status == 202, published
        got = await a.wait_for(lambda fs: next((f for f in fs if isinstance(f, dict) and f.get("type") == "message"
                                                and f.get("msg") == published["msg"]), None), what="the system message")
        assert got["from"] == "system" and got["body"] == "welcome" and got["conv"] == published["conv"]

        status, group = stack.api("POST", "/api/v1/groups", {"id": f"g-{uuid.uuid4()}", "title": "Ops", "members": [alice, bob]})
        assert status == 202, group
        for client in (a, b):
            created = await client.wait_for(lambda fs: next((f for f in fs if isinstance(f, dict) and f.get("type") == "group"
                                                             and f.get("conv") == group["conv"]), None), what="the group entry")
            assert created["event"] == "created" and created["by"] == "system"
        status, said = stack.api("POST", "/api/v1/publish", {"id": "g-msg", "conv": group["conv"], "body": "from bob", "from": bob})
        assert status == 202, said
        await a.wait_for(lambda fs: any(isinstance(f, dict) and f.get("msg") == said["msg"] for f in fs), what="bob's group message")

        status, page = stack.api("GET", f"/api/v1/conversations/{group['conv']}/history?as={alice}")
        assert status == 200, page
        assert [m["body"] for m in page["messages"]] == ["from bob"] and page["more"] is False
        status, page = stack.api("GET", f"/api/v1/conversations/{published['conv']}/history")
        assert status == 200 and [m["body"] for m in page["messages"]] == ["welcome"], page
        status, refused = stack.api("GET", f"/api/v1/conversations/{published['conv']}/history?as={bob}")
        assert status == 403 and refused["error"]["code"] == "not_member", refused

        status, removed = stack.api("POST", f"/api/v1/groups/{group['conv']}/members", {"action": "remove", "members": [bob]})
        assert status == 202, removed
        await b.wait_for(lambda fs: any(isinstance(f, dict) and f.get("type") == "group" and f.get("event") == "removed"
                                        for f in fs), what="bob's removal")

    run(scenario())


def test_presence_stream_and_disconnect_on_every_edge(stack, users):
    carol, = users("carol")

    async def scenario():
        status, offline = stack.api("GET", f"/api/v1/users/{carol}/presence")
        assert status == 200 and offline["user"] == carol and offline["status"] == "offline", offline
        one = await ChatClient.connect(stack, 1, carol, device="tablet", since=0)
        two = await ChatClient.connect(stack, 2, carol)
        await stack.online(carol, 2)
        status, online = stack.api("GET", f"/api/v1/users/{carol}/presence", edge=2)
        assert status == 200 and online["status"] == "online", online

        stack.api("POST", "/api/v1/publish", {"id": "n1", "to": carol, "body": "ping"})
        entry = await one.wait_for(lambda fs: next((f for f in fs if isinstance(f, dict) and f.get("type") == "message"), None),
                                   what="the message")
        await one.send_json({"type": "ack", "seq": entry["seq"]})

        def acked():
            status, state = stack.api("GET", f"/api/v1/users/{carol}/stream")
            return status == 200 and state["head"] >= entry["seq"] and \
                {"device": "tablet", "cursor": entry["seq"]} in state["devices"] and state["epoch"]
        await eventually(acked, 20, "the stream's head and the tablet's cursor")

        status, answer = stack.api("POST", f"/api/v1/users/{carol}/disconnect")
        assert status == 202 and answer["edges"] >= 2, answer
        await asyncio.wait_for(one.closed.wait(), 20)
        await asyncio.wait_for(two.closed.wait(), 20)
        assert one.close_code == 1008 and two.close_code == 1008

    run(scenario())


def test_the_api_needs_its_key_and_is_not_on_the_public_port(stack):
    status, answer = stack.api("GET", "/api/v1/users/alice/presence", key=False)
    assert status == 401 and answer["error"]["code"] == "unauthorized"
    status, answer = stack.api("GET", "/api/v1/users/alice/presence", key="wrong-key-0123456789abcdefghij")
    assert status == 401
    status, answer = stack.api("POST", "/api/v1/publish", b"not json")
    assert status == 400, answer
    try:
        urllib.request.urlopen(f"{stack.edge_url(1)}/api/v1/users/alice/presence", timeout=5)
        raise AssertionError("the server API answered on the public port")
    except urllib.error.HTTPError as e:
        assert e.code == 404
