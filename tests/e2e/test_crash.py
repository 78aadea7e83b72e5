"""Kill -9 one Parley process while 200 messages are in flight, restart it: every message that
got `sent` reaches every device of both users (the sender's other device included), `cseq` and
`seq` have no gaps, and no message sits in a stream under two `seq`s."""

import asyncio

import pytest

from client import ChatClient, dm
from groups import change, conversation_entries, create_group, outcome, whole_stream
from parley_stack import eventually

IN_FLIGHT = 200


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 300))


class Device:
    """Everything one device received over all its sessions, checked as one stream."""

    def __init__(self, stack, user, name):
        self.stack, self.user, self.name = stack, user, name
        self.sessions = []
        self.epoch = None

    async def connect(self, edge):
        since = self.contiguous() if self.epoch else None
        client = await ChatClient.connect(self.stack, edge, self.user, device=self.name, since=since, epoch=self.epoch)
        self.sessions.append(client)
        synced = await client.synced()
        self.epoch = synced["epoch"]
        return client

    def entries(self):
        return [e for c in self.sessions for e in c.entries()]

    def contiguous(self):
        seen = {e["seq"] for e in self.entries()}
        n = 0
        while n + 1 in seen:
            n += 1
        return n

    def messages(self):
        return {e["msg"] for e in self.entries() if e["type"] == "message"}

    async def receive(self, expected, edge, timeout=90):
        """Keeps a session open (reconnecting once it is closed) until every expected msg arrived."""
        client = self.sessions[-1] if self.sessions and not self.sessions[-1].closed.is_set() else await self.connect(edge)
        await client.wait_for(lambda fs: expected <= self.messages(), timeout, f"{self.name}: every sent message")

    def check(self, conv):
        by_seq = {}
        seqs_of = {}
        for e in self.entries():
            key = (e["type"], e.get("msg"), e.get("cseq"), e.get("status"))
            assert by_seq.setdefault(e["seq"], key) == key, f"{self.name}: seq {e['seq']} carried two entries"
            if e["type"] == "message":
                seqs_of.setdefault(e["msg"], set()).add(e["seq"])
        assert sorted(by_seq) == list(range(1, len(by_seq) + 1)), f"{self.name}: seqs have gaps"
        doubles = {m: s for m, s in seqs_of.items() if len(s) > 1}
        assert not doubles, f"{self.name}: messages under two seqs: {list(doubles.items())[:3]}"
        cseqs = sorted({e["cseq"] for e in self.entries() if e["type"] == "message" and e["conv"] == conv})
        assert cseqs == list(range(1, len(cseqs) + 1)), f"{self.name}: cseqs have gaps"

    async def close(self):
        for c in self.sessions:
            await c.close()


async def answered(sender, ids):
    await sender.wait_for(lambda fs: {f.get("id") for f in sender.of_type("sent") + sender.of_type("error")} >= set(ids),
                          90, "an answer to every send")
    return {f["msg"] for f in sender.of_type("sent")}


@pytest.mark.parametrize("victim", ["relay-svc", "offline-svc", "presence-svc", "ws-edge-2"])
def test_a_process_killed_mid_stream_loses_nothing(stack, users, victim):
    alice, bob = users("alice", "bob")
    conv = dm(alice, bob)

    async def scenario():
        a1, a2 = Device(stack, alice, "a1"), Device(stack, alice, "a2")
        b1, b2 = Device(stack, bob, "b1"), Device(stack, bob, "b2")
        # Every device exists (a new device starts at the head, 0) before the stream grows.
        for device, edge in ((a2, 1), (b2, 1)):
            await device.connect(edge)
            await device.close()
        sender = await a1.connect(1)
        await b1.connect(2)  # bob's live session is on edge 2, the edge that is killed below
        ids = []
        for i in range(IN_FLIGHT):
            ids.append(await sender.send_conv(conv, f"m{i}"))
            if i == IN_FLIGHT // 4:
                await sender.sent(ids[0])
                stack.kill(victim)
        await asyncio.get_running_loop().run_in_executor(None, stack.restart, victim)
        sent = await answered(sender, ids)
        assert len(sent) >= IN_FLIGHT // 4
        for device in (a1, a2, b1, b2):
            await device.receive(sent, edge=1)
            device.check(conv)
            await device.close()

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


def test_relay_killed_mid_group_fan_out_with_membership_changes_in_the_batch(stack, users):
    """kill -9 relay-svc while 200 messages to a 100-member group are in flight, with a
    `group_add` and a `group_remove` among them: every member of each `cseq` gets that entry
    once, the added member nothing before its addition, the removed one nothing after its removal."""
    names = [f"m{i}" for i in range(99)] + ["alice", "newbie"]
    *members, alice, newbie = users(*names)
    removed_member = members[1]

    async def scenario():
        a = await ChatClient.connect(stack, 1, alice, device="a1")
        await a.synced()
        _, conv = await create_group(a, "Hundred", members)
        ids = []
        for i in range(IN_FLIGHT):
            ids.append(await a.send_conv(conv, f"m{i}"))
            if i == IN_FLIGHT // 4:
                await a.sent(ids[0])
                stack.kill("relay-svc")
            if i == IN_FLIGHT // 2:
                add = await change(a, "group_add", conv, [newbie])
                remove = await change(a, "group_remove", conv, [removed_member])
        await asyncio.get_running_loop().run_in_executor(None, stack.restart, "relay-svc")
        await answered(a, ids)
        sent = {f["msg"] for f in a.of_type("sent") if f["id"] in set(ids)}
        assert len(sent) == IN_FLIGHT, "relay-svc being down does not stop `sent` (the broker has the records)"
        added, removed = await outcome(a, add, 120), await outcome(a, remove, 120)
        assert added["event"] == "added" and removed["event"] == "removed"
        await a.wait_for(lambda fs: {e.get("msg") for e in a.entries()} >= sent, 120, "alice: every message")
        everything = conversation_entries(await whole_stream(stack, 2, alice, "a-audit"), conv)
        cseqs = [cseq for _, cseq in everything]
        assert cseqs == list(range(1, len(cseqs) + 1)), "one entry per cseq, no gaps, in cseq order"
        assert len(everything) == IN_FLIGHT + 3, "created, 200 messages, added, removed"

        async def audit(user):
            if user == newbie:
                expected = [e for e in everything if e[1] >= added["cseq"]]
            elif user == removed_member:
                expected = [e for e in everything if e[1] <= removed["cseq"]]
            else:
                expected = everything
            # Alice's stream being whole says nothing of other members' partitions: wait until this
            # member's stream holds as many entries (a fresh user has no others), then compare.
            await eventually(lambda: int((stack.redis("HGET", f"user:{{{user}}}:meta", "h") or ["0"])[0]) >= len(expected),
                             120, f"{user}'s stream has {len(expected)} entries")
            got = conversation_entries(await whole_stream(stack, 1, user, "audit"), conv)
            assert got == expected, f"{user}: {len(got)} entries, expected {len(expected)}; first difference near " \
                                    f"{next((x for x in zip(got, expected) if x[0] != x[1]), None)}"

        everyone = members + [newbie]
        for i in range(0, len(everyone), 10):
            await asyncio.gather(*(audit(u) for u in everyone[i:i + 10]))
        await a.close()

    run(scenario())
