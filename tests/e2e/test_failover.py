"""Redis Cluster failover under load (cluster pass only, PARLEY_TEST_REDIS=cluster): kill -9 the
primary that owns the recipient's slot; its replica takes over, and the promise holds."""

import asyncio
import os

import pytest

from client import ChatClient, dm
from parley_stack import eventually
from redis_cluster import Cluster, cli, cut_off, replica_cli, resume
from test_crash import IN_FLIGHT, Device, answered, run

pytestmark = pytest.mark.skipif(os.environ.get("PARLEY_TEST_REDIS") != "cluster", reason="needs PARLEY_TEST_REDIS=cluster")


async def fail_over(stack, cluster, primary, name, stopped_replica=None):
    """kill -9 `primary` (resuming its cut-off replica, if any), waits until another node serves
    its slots, starts it again (it rejoins as a replica) and waits until the cluster is whole."""
    slot = primary.slots[0].start
    config = cluster.kill(primary)
    if stopped_replica:
        resume(stopped_replica)

    def promoted():
        return any(n.role == "primary" and n.id != primary.id and any(slot in r for r in n.slots) for n in cluster.nodes())
    await eventually(promoted, 30, "a replica promoted")
    cluster.restart(name, config)
    await eventually(cluster.healthy, 30, "the cluster whole again, every primary with a replica")


def test_the_recipients_primary_killed_with_200_messages_in_flight_loses_nothing(stack, users):
    alice, bob = users("alice", "bob")
    conv = dm(alice, bob)
    cluster = Cluster(stack)

    async def scenario():
        a1, a2 = Device(stack, alice, "a1"), Device(stack, alice, "a2")
        b1, b2 = Device(stack, bob, "b1"), Device(stack, bob, "b2")
        for device in (a2, b2):
            await device.connect(1)
            await device.close()
        sender = await a1.connect(1)
        await b1.connect(2)
        victim = cluster.primary_of(f"user:{{{bob}}}:stream")
        # Bob's stream exists on the replica too: the in-flight messages are what the failover tests.
        replica = cluster.replica_of(victim)
        await eventually(lambda: replica_cli(replica.port, "HLEN", f"user:{{{bob}}}:devices") == "2", 20,
                         "bob's devices on the replica")
        ids = []
        for i in range(IN_FLIGHT):
            ids.append(await sender.send_conv(conv, f"m{i}"))
            if i == IN_FLIGHT // 4:
                await sender.sent(ids[0])
                failover = asyncio.create_task(fail_over(stack, cluster, victim, "redis-failed-1"))
        await failover
        sent = await answered(sender, ids)
        assert len(sent) == IN_FLIGHT, "the edge answers sent from Kafka alone"
        for device in (a1, a2, b1, b2):
            await device.receive(sent, edge=1)
            device.check(conv)
            await device.close()

    run(scenario())


def split_users(cluster, users, alice):
    """A bob whose slot is on another primary than the conversation with alice's, so only bob's
    stream waits for a cut-off replica; and that primary and its replica."""
    bob = next(b for b in users(*(f"bob{i}" for i in range(40)))
               if cluster.primary_of(f"user:{{{b}}}:stream").id != cluster.primary_of(f"conv:{{{dm(alice, b)}}}:log").id)
    primary = cluster.primary_of(f"user:{{{bob}}}:stream")
    return bob, primary, cluster.replica_of(primary)


def test_a_primary_killed_right_after_an_append_loses_nothing_a_device_saw(stack, users):
    """Bob's stream exists on primary and replica; then the replica is cut off, so the
    primary's next append is not replicated, and the primary is killed right after it. WAIT kept
    offline-svc from delivering that append, so no device saw the seq the failover takes back: the
    retried batch appends the message again on the promoted replica, and bob gets it and the
    next one in order, each seq once (without WAIT bob would have seen seq 1 twice, with two
    different messages, and dropped the second)."""
    cluster = Cluster(stack)
    alice = users("alice")[0]
    bob, primary, replica = split_users(cluster, users, alice)
    conv = dm(alice, bob)

    async def scenario():
        a = await ChatClient.connect(stack, 1, alice, device="a1")
        await a.synced()
        b = await ChatClient.connect(stack, 2, bob, device="b1")
        first = await b.synced()
        await eventually(lambda: replica_cli(replica.port, "HLEN", f"user:{{{bob}}}:subs") == "1", 20,
                         "bob's subscription on the replica")
        replica_pid = cut_off(primary, replica)
        try:
            unreplicated = (await a.sent(await a.send_conv(conv, "appended-then-the-primary-died")))["msg"]
            await eventually(lambda: cli(primary.port, "HGET", f"user:{{{bob}}}:meta", "h").strip() == "1", 30,
                             "the append on the primary")
            assert not b.entries(), "nothing is delivered before a replica has it"
        finally:
            failing = asyncio.create_task(fail_over(stack, cluster, primary, "redis-failed-2", stopped_replica=replica_pid))
        await failing
        later = (await a.sent(await a.send_conv(conv, "after-the-failover")))["msg"]
        await b.wait_for(lambda fs: {e.get("msg") for e in b.entries()} >= {unreplicated, later}, 60, "both messages")
        assert [(e["msg"], e["seq"]) for e in b.entries()] == [(unreplicated, 1), (later, 2)]
        assert len(b.synced_frames()) == 1 or b.synced_frames()[-1]["epoch"] == first["epoch"], "the stream kept its epoch"
        await a.close()
        await b.close()

    run(scenario())


def test_stream_state_lost_with_a_primary_gives_a_new_epoch_and_resynced_sessions(stack, users):
    """Bob connects while the replica is cut off, so his stream's meta, his subscription and his
    presence exist only on the primary, which is then killed. The next append finds no meta and
    starts a new epoch (never seq 1 of the old one again); presence-svc sees the slot map change
    and asks the edges to resync, so bob is online again and his session, subscribed again, is
    told `reset` with the new epoch and then gets what follows live."""
    cluster = Cluster(stack)
    alice = users("alice")[0]
    bob, primary, replica = split_users(cluster, users, alice)
    conv = dm(alice, bob)

    async def scenario():
        a = await ChatClient.connect(stack, 1, alice, device="a1")
        await a.synced()
        replica_pid = cut_off(primary, replica)
        try:
            b = await ChatClient.connect(stack, 2, bob, device="b1")
            first = await b.synced()
            await eventually(lambda: cli(primary.port, "HLEN", f"user:{{{bob}}}:subs").strip() == "1", 20, "bob subscribed")
            await eventually(lambda: cli(primary.port, "HLEN", f"presence:{{{bob}}}").strip() == "1", 20, "bob online")
        finally:
            failing = asyncio.create_task(fail_over(stack, cluster, primary, "redis-failed-3", stopped_replica=replica_pid))
        await failing
        await eventually(lambda: stack.redis("HLEN", f"presence:{{{bob}}}") == ["1"], 30, "bob's presence resynced")
        reset = await b.synced(count=2, timeout=60)
        assert reset.get("reset") is True and reset["epoch"] != first["epoch"], reset
        after = (await a.sent(await a.send_conv(conv, "after-the-failover")))["msg"]
        entry = await b.wait_for(lambda fs: next((e for e in b.entries() if e.get("msg") == after), None), 60,
                                 "the next message")
        assert entry["seq"] == 1, "the first entry of the new epoch"
        await a.close()
        await b.close()

    run(scenario())
