"""`parley-admin trace <msg id>` against the running stack: a delivered message, a pending one and
an id that was never sent, each read from the real broker and Redis."""

import asyncio
import subprocess
import uuid

from client import ChatClient, dm
from parley_stack import eventually


def trace(stack, msg):
    """Runs the tool; returns (exit code, output lines)."""
    env = dict(stack.env)
    out = subprocess.run([str(stack.bin / "parley-admin"), "trace", msg], capture_output=True, text=True, timeout=120, env=env)
    return out.returncode, out.stdout.splitlines(), out.stderr


def line(lines, prefix):
    return next((l for l in lines if l.startswith(prefix)), None)


def test_trace_finds_a_delivered_message_with_every_device_acked(stack, users):
    alice, bob = users("alice", "bob")

    async def scenario():
        a = await ChatClient.connect(stack, 1, alice, device="phone")
        b = await ChatClient.connect(stack, 2, bob, device="laptop")
        await a.synced()
        await b.synced()
        sent = await a.sent(await a.send(bob, "where am I"))
        got = await b.wait_for(lambda fs: next((m for m in b.messages() if m["msg"] == sent["msg"]), None), what="message")
        mine = await a.wait_for(lambda fs: next((m for m in a.messages() if m["msg"] == sent["msg"]), None), what="own copy")
        await b.ack_seq(got["seq"])
        await a.ack_seq(mine["seq"])
        for user, device, seq in ((bob, "laptop", got["seq"]), (alice, "phone", mine["seq"])):
            await eventually(lambda: int((stack.redis("HGET", f"user:{{{user}}}:devices", device) or ["0"])[0]) >= seq, 20,
                             f"{user}'s {device} acked")
        await a.close()
        await b.close()
        return sent, got, mine

    sent, got, mine = asyncio.run(asyncio.wait_for(scenario(), 120))
    code, lines, err = trace(stack, sent["msg"])
    assert code == 0, (lines, err)
    assert line(lines, "inbound: ") and "offset" in line(lines, "inbound: "), lines
    assert line(lines, "sent: ").startswith(f"sent: by {alice} (device phone)") and dm(alice, bob) in line(lines, "sent: "), lines
    assert line(lines, "cseq: ") == f"cseq: {got['cseq']}", lines
    assert line(lines, f"member {bob}: ").startswith(f"member {bob}: seq {got['seq']} "), lines
    assert line(lines, f"member {alice}: ").startswith(f"member {alice}: seq {mine['seq']} "), lines
    assert lines.count("  acked: laptop") == 1 and lines.count("  acked: phone") == 1 and lines.count("  pending: none") == 2, lines
    assert lines[-1] == "status: delivered (every device acked it)", lines


def test_trace_finds_a_message_still_pending_on_an_offline_device(stack, users):
    alice, dave = users("alice", "dave")

    async def scenario():
        d = await ChatClient.connect(stack, 2, dave, device="tablet")
        await d.synced()
        await d.close()
        a = await ChatClient.connect(stack, 1, alice, device="phone")
        await a.synced()
        sent = await a.sent(await a.send(dave, "are you there"))
        await a.close()
        return sent

    sent = asyncio.run(asyncio.wait_for(scenario(), 120))
    # Appended to dave's stream (its only entry), never acked by his tablet.
    asyncio.run(eventually(lambda: int(stack.redis("HLEN", f"user:{{{dave}}}:ids")[0]) >= 1, 20, "appended to dave's stream"))
    code, lines, err = trace(stack, sent["msg"])
    assert code == 0, (lines, err)
    dave_line = line(lines, f"member {dave}: ")
    assert dave_line and dave_line.startswith(f"member {dave}: seq 1 "), lines
    assert lines[lines.index(dave_line) + 1] == "  acked: none", lines
    assert lines[lines.index(dave_line) + 2] == "  pending: tablet", lines
    assert lines[-1].startswith("status: pending"), lines


def test_trace_says_a_never_sent_id_is_not_found(stack):
    msg = "01" + uuid.uuid4().hex[:24].upper()
    code, lines, err = trace(stack, msg)
    assert code == 1, (lines, err)
    assert line(lines, "inbound: ") == "inbound: not found in chat.inbound (never sent, or past the topic's retention)", lines
    assert lines[-1] == "status: unknown", lines
