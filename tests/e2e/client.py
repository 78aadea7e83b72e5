"""A small WebSocket chat client for the end-to-end tests (Parley's client protocol)."""

import asyncio
import json
import uuid

import websockets


class ChatClient:
    """Reads every frame in the background; tests wait for frames matching a condition."""

    def __init__(self, ws, welcome):
        self.ws = ws
        self.welcome = welcome
        self.frames = []
        self.closed = asyncio.Event()
        self.close_code = None
        self._changed = asyncio.Event()
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def connect(cls, stack, edge, user, path="ws", device=None, since=None, epoch=None):
        """A v1 session without `device`; a v2 session of that device with it (and `since`/`epoch`
        to resume from a cache)."""
        token = stack.login(edge, user)
        query = f"token={token}"
        for key, value in (("device", device), ("since", since), ("epoch", epoch)):
            if value is not None:
                query += f"&{key}={value}"
        ws = await websockets.connect(f"ws://127.0.0.1:{stack.ports[f'ws-edge-{edge}']}/{path}?{query}",
                                      max_size=None, ping_interval=None)
        welcome = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert welcome["type"] == "welcome" and welcome["user"] == user, welcome
        assert welcome.get("device") == device, welcome
        return cls(ws, welcome)

    async def _read(self):
        try:
            async for raw in self.ws:
                self.frames.append(json.loads(raw) if isinstance(raw, str) and raw.startswith("{") else raw)
                self._changed.set()
        except websockets.ConnectionClosed:
            pass
        finally:
            self.close_code = self.ws.close_code
            self.closed.set()
            self._changed.set()

    async def wait_for(self, predicate, timeout=20, what="frames"):
        """Waits until predicate(frames) is truthy and returns its value."""
        async def loop():
            while True:
                result = predicate(self.frames)
                if result:
                    return result
                if self.closed.is_set():
                    raise AssertionError(f"connection closed ({self.close_code}) while waiting for {what}")
                self._changed.clear()
                await self._changed.wait()
        return await asyncio.wait_for(loop(), timeout)

    async def send_json(self, obj):
        await self.ws.send(json.dumps(obj))

    async def send(self, to, body, client_id=None):
        client_id = client_id or str(uuid.uuid4())
        await self.send_json({"type": "send", "id": client_id, "to": to, "body": body})
        return client_id

    async def send_conv(self, conv, body, client_id=None):
        client_id = client_id or str(uuid.uuid4())
        await self.send_json({"type": "send", "id": client_id, "conv": conv, "body": body})
        return client_id

    async def sent(self, client_id, timeout=20):
        """The `sent` frame for a client id."""
        return await self.wait_for(lambda fs: next((f for f in fs if isinstance(f, dict) and f.get("type") == "sent"
                                                    and f.get("id") == client_id), None), timeout, f"sent {client_id}")

    def of_type(self, kind):
        return [f for f in self.frames if isinstance(f, dict) and f.get("type") == kind]

    def messages(self):
        return self.of_type("message")

    def unique_messages(self):
        seen, out = set(), []
        for m in self.messages():
            if m["msg"] not in seen:
                seen.add(m["msg"])
                out.append(m)
        return out

    async def ack(self, msgs):
        await self.send_json({"type": "ack", "msgs": list(msgs)})

    async def ack_all(self):
        ids = [m["msg"] for m in self.unique_messages()]
        for i in range(0, len(ids), 200):
            await self.ack(ids[i:i + 200])

    # -- v2: stream entries --------------------------------------------------------------------

    def entries(self):
        """Every stream entry received (frames with a `seq`), in arrival order."""
        return [f for f in self.frames if isinstance(f, dict) and "seq" in f and f.get("type") != "synced"]

    def synced_frames(self):
        return self.of_type("synced")

    async def synced(self, count=1, timeout=30):
        """Waits for the `count`-th `synced` frame and returns it."""
        frames = await self.wait_for(lambda fs: len(self.synced_frames()) >= count and self.synced_frames(), timeout,
                                     f"synced #{count}")
        return frames[count - 1]

    def last_seq(self):
        return max((e["seq"] for e in self.entries()), default=0)

    async def ack_seq(self, seq):
        await self.send_json({"type": "ack", "seq": seq})

    async def close(self):
        await self.ws.close()
        self._reader.cancel()


def dm(a, b):
    """The direct conversation of two users (ids in order)."""
    return f"dm:{min(a, b)}:{max(a, b)}"


def of(client, kind, **match):
    """The frames of `kind` the client received whose fields equal `match`."""
    return [f for f in client.of_type(kind) if all(f.get(k) == v for k, v in match.items())]


async def query(client, frame, kind, what):
    """Sends a query frame and returns the next answer of `kind` (or an `error`)."""
    before = len(client.frames)
    await client.send_json(frame)
    return await client.wait_for(
        lambda fs: next((f for f in fs[before:] if isinstance(f, dict) and f.get("type") in (kind, "error")), None), 20, what)
