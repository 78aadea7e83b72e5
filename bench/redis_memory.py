"""Redis bytes per stored message and per idle user, measured on a real local stack.

Starts the stack of the end-to-end tests (tests/parley_stack.py: redis-server, Tansu and the four
services on free loopback ports), then:

- **per message**: alice sends N direct messages (100-byte bodies) to bob through ws-edge;
  once both streams hold N entries, the growth of Redis's `used_memory` divided by N, and the
  share of each key (MEMORY USAGE): the conversation log (the body, once), each member's stream
  entry, the logical-id index, the dedup keys of the client retries;
- **per idle user**: M users each connect one device and leave; the keys they leave behind.

    .venv/bin/python bench/redis_memory.py [--messages 10000] [--idle-users 200] [--bin .build/release]

Everything runs on 127.0.0.1 and stops by itself.
"""

import argparse
import asyncio
import json
import pathlib
import sys
import tempfile
import uuid

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "e2e"))

from client import ChatClient  # noqa: E402
from parley_stack import Stack, eventually  # noqa: E402


def used_memory(stack):
    info = stack.redis("INFO", "memory")
    return next(int(line.split(":")[1]) for line in info if line.startswith("used_memory:"))


def memory_usage(stack, key):
    out = stack.redis("MEMORY", "USAGE", key, "SAMPLES", "0")
    return int(out[0]) if out else 0


def keys(stack, pattern):
    return stack.redis("--scan", "--pattern", pattern)


async def per_message(stack, n, body_size):
    alice, bob = f"alice-{uuid.uuid4().hex[:6]}", f"bob-{uuid.uuid4().hex[:6]}"
    conv = f"dm:{min(alice, bob)}:{max(alice, bob)}"
    b = await ChatClient.connect(stack, 2, bob, device="b1")
    await b.synced()
    await b.close()
    before = used_memory(stack)
    senders = [await ChatClient.connect(stack, 1 + i % 2, alice) for i in range(8)]
    body = "x" * body_size

    async def send(client, count):
        for i in range(count):
            await client.send_conv(conv, body)
            if i % 40 == 39:
                await asyncio.sleep(1)  # below the edge's --send-rate
        await client.wait_for(lambda fs: len(client.of_type("sent")) >= count, 300, "every send answered")
    await asyncio.gather(*[send(c, n // len(senders)) for c in senders])
    total = n // len(senders) * len(senders)
    for user in (alice, bob):
        await eventually(lambda user=user: stack.redis("HGET", f"user:{{{user}}}:meta", "h") == [str(total)], 120,
                         f"{total} entries in {user}'s stream")
    for c in senders:
        await c.close()
    after = used_memory(stack)
    parts = {
        "conversation log (bodies, once)": memory_usage(stack, f"conv:{{{conv}}}:log"),
        "dedup keys (client retries, both)": sum(memory_usage(stack, k) for k in keys(stack, f"conv:{{{conv}}}:dd:*")),
        "alice's stream": memory_usage(stack, f"user:{{{alice}}}:stream"),
        "bob's stream": memory_usage(stack, f"user:{{{bob}}}:stream"),
        "logical-id indexes (both)": sum(memory_usage(stack, f"user:{{{u}}}:ids") for u in (alice, bob)),
    }
    return {"messages": total, "body_bytes": body_size, "used_memory_delta": after - before,
            "bytes_per_message": round((after - before) / total, 1),
            "per_message_by_key": {k: round(v / total, 1) for k, v in parts.items()}}


async def per_idle_user(stack, m):
    names = [f"idle-{uuid.uuid4().hex[:8]}" for _ in range(m)]
    before = used_memory(stack)
    for name in names:
        c = await ChatClient.connect(stack, 1, name, device="d1")
        await c.synced()
        await c.close()
    await eventually(lambda: all(not stack.redis("HKEYS", f"user:{{{n}}}:subs") for n in names[-5:]), 30, "subscriptions gone")
    after = used_memory(stack)
    sample = names[0]
    left = {k: memory_usage(stack, k) for k in keys(stack, f"*{{{sample}}}*")}
    return {"users": m, "bytes_per_idle_user": round((after - before) / m, 1), "keys_of_one_idle_user": left}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--messages", type=int, default=10000)
    p.add_argument("--body-size", type=int, default=100)
    p.add_argument("--idle-users", type=int, default=200)
    p.add_argument("--bin", default=str(ROOT / ".build" / "release"))
    a = p.parse_args()
    stack = Stack(tempfile.mkdtemp(prefix="parley-redis-memory-"), a.bin)
    stack.env["PARLEY_STREAM_MAX_ENTRIES"] = str(max(10000, a.messages * 2))
    try:
        stack.start()
        result = {"per_message": asyncio.run(per_message(stack, a.messages, a.body_size)),
                  "per_idle_user": asyncio.run(per_idle_user(stack, a.idle_users))}
    finally:
        stack.stop()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
