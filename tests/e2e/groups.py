"""Helpers of the group tests: creating a group, changing it, and reading what a device got."""

import uuid

from client import ChatClient


async def synced_devices(stack, *devices):
    """Connects each (edge, user, device) as a v2 session and waits for its `synced`."""
    clients = [await ChatClient.connect(stack, edge, user, device=device) for edge, user, device in devices]
    for client in clients:
        await client.synced()
    return clients


async def create_group(client, title, members, client_id=None):
    """Sends `group_create` and returns (its `sent` frame, the group's conv)."""
    client_id = client_id or str(uuid.uuid4())
    await client.send_json({"type": "group_create", "id": client_id, "title": title, "members": list(members)})
    sent = await client.sent(client_id)
    assert sent["conv"].startswith("g:"), sent
    return sent, sent["conv"]


async def change(client, kind, conv, members=None):
    """Sends `group_add` / `group_remove` / `group_leave` with a fresh id; returns the id after `sent`."""
    client_id = str(uuid.uuid4())
    frame = {"type": kind, "conv": conv, "id": client_id}
    if members is not None:
        frame["members"] = list(members)
    await client.send_json(frame)
    await client.sent(client_id)
    return client_id


async def outcome(client, client_id, timeout=30):
    """The `group` or `rejected` entry the change with `client_id` became in the requester's stream."""
    return await client.wait_for(lambda fs: next((f for f in fs if isinstance(f, dict) and f.get("id") == client_id
                                                  and f.get("type") in ("group", "rejected")), None), timeout,
                                 f"the outcome of {client_id}")


async def whole_stream(stack, edge, user, device):
    """Every entry of `user`'s stream, read by a fresh device from the start (`since=0`)."""
    client = await ChatClient.connect(stack, edge, user, device=device, since=0)
    synced = await client.synced(timeout=60)
    assert not synced.get("reset"), synced
    entries = client.entries()
    await client.close()
    return entries


def conversation_entries(entries, conv):
    """(type, cseq) of the message and group entries of `conv`, in seq order, checked gap-free in seq."""
    seqs = [e["seq"] for e in entries]
    assert seqs == list(range(1, len(seqs) + 1)), f"seqs have gaps: {seqs[:40]}"
    return [(e["type"], e["cseq"]) for e in entries if e.get("conv") == conv and e["type"] in ("message", "group")]
