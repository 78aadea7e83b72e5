"""Seeds conversations for the browser tests through the client protocol (a plain WebSocket
client, not the web client), e.g. more messages than one history page holds."""

import json
import urllib.request
import uuid

from websockets.sync.client import connect


def login(edge_url, user):
    """A token from the edge's dev login."""
    req = urllib.request.Request(f"{edge_url}/api/login", data=json.dumps({"user": user}).encode(),
                                 method="POST", headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.load(r)["token"]


def send_all(edge_url, user, to, bodies, timeout):
    """`user` sends `bodies` to `to`, one after the other, each once the previous one got its
    `sent` (so their order in the conversation is the order of `bodies`)."""
    ws_url = edge_url.replace("http://", "ws://", 1).replace("https://", "wss://", 1)
    token = login(edge_url, user)
    with connect(f"{ws_url}/ws?token={token}&device=seed-{uuid.uuid4().hex[:8]}", open_timeout=timeout,
                 max_size=None) as ws:
        welcome = json.loads(ws.recv(timeout))
        assert welcome["type"] == "welcome" and welcome["user"] == user, welcome
        for body in bodies:
            cid = str(uuid.uuid4())
            ws.send(json.dumps({"type": "send", "id": cid, "to": to, "body": body}))
            while True:
                frame = json.loads(ws.recv(timeout))
                assert not (frame.get("type") == "error" and frame.get("id") == cid), frame
                if frame.get("type") == "sent" and frame.get("id") == cid:
                    break
