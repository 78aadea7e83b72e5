"""A message traced across every hop: a stack whose processes export spans (PARLEY_OTEL_ENDPOINT)
to a tiny OTLP/HTTP collector this test runs on 127.0.0.1; every hop's span carries the trace id
of the sender's `edge.accept` span, and the records of each topic on the message's path carry
that trace in a `traceparent` header."""

import asyncio
import base64
import json
import os
import pathlib
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from client import ChatClient
from parley_stack import Stack, eventually

# Span name → the process that makes it (docs/operations.md "Where is message X?").
HOPS = {
    "edge.accept": "ws-edge", "relay.inbound": "relay-svc", "offline.inbox": "offline-svc",
    "edge.deliver": "ws-edge", "edge.ack": "ws-edge", "offline.acks": "offline-svc",
}


class Collector:
    """OTLP/HTTP (JSON) on a free port: keeps (service, span name, trace id) of every span."""

    def __init__(self):
        self.spans = []
        self.lock = threading.Lock()
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with collector.lock:
                    for resource in body.get("resourceSpans", []):
                        attributes = resource.get("resource", {}).get("attributes", [])
                        service = next((a["value"].get("stringValue") for a in attributes if a["key"] == "service.name"), None)
                        for scope in resource.get("scopeSpans", []):
                            for span in scope.get("spans", []):
                                collector.spans.append((service, span["name"], hex_id(span["traceId"])))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def of_trace(self, trace_id):
        with self.lock:
            return {(name, service) for service, name, trace in self.spans if trace == trace_id}


def hex_id(value):
    """OTLP/JSON ids are hex; protobuf's JSON mapping writes bytes as base64: accept both."""
    try:
        int(value, 16)
        return value.lower()
    except ValueError:
        return base64.b64decode(value).hex()


def carries(brokers, topic, trace, timeout=20):
    """Whether a record of `topic` carries `trace` in its `traceparent` header (read from the
    oldest record until one does)."""
    consumer = Consumer({"bootstrap.servers": brokers, "group.id": f"trace-{uuid.uuid4().hex}",
                         "enable.auto.commit": False})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = consumer.poll(0.2)
            if message is None or message.error():
                continue
            if any(name == "traceparent" and value.decode().split("-")[1] == trace for name, value in message.headers() or []):
                return True
        return False
    finally:
        consumer.close()


@pytest.fixture(scope="module")
def traced(stack):
    """A second stack (the shared one lends its binaries), its processes exporting spans to a
    collector of its own."""
    collector = Collector()
    state = pathlib.Path(tempfile.mkdtemp(prefix="parley-trace-", dir=os.environ.get("PARLEY_E2E_STATE")))
    traced_stack = Stack(state, stack.bin)
    traced_stack.env.update({
        "PARLEY_OTEL_ENDPOINT": f"http://127.0.0.1:{collector.port}",
        # JSON so the collector needs no protobuf; spans leave every 100 ms.
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json",
        "OTEL_BSP_SCHEDULE_DELAY": "100",
    })
    try:
        traced_stack.start()
        yield traced_stack, collector
    finally:
        traced_stack.stop()
        collector.server.shutdown()


def test_every_hop_of_a_message_has_a_span_in_one_trace_and_its_records_carry_it(traced, users):
    stack, collector = traced
    alice, bob = users("alice", "bob")

    async def scenario():
        a = await ChatClient.connect(stack, 1, alice, device="phone")
        b = await ChatClient.connect(stack, 2, bob, device="laptop")
        await a.synced()
        await b.synced()
        await stack.online(bob, 1)
        sent = await a.sent(await a.send(bob, "follow me"))
        got = await b.wait_for(lambda fs: next((m for m in b.messages() if m["msg"] == sent["msg"]), None), what="message")
        await b.ack_seq(got["seq"])
        await a.wait_for(lambda fs: any(r.get("msg") == sent["msg"] and r["status"] == "delivered" for r in a.of_type("receipt")),
                         what="delivered receipt")
        # The sender's edge started the trace: its accept span is the root.
        def accepted():
            with collector.lock:
                return [t for s, n, t in collector.spans if n == "edge.accept" and s == "ws-edge"]
        await eventually(lambda: len(accepted()) == 1, 20, "the edge.accept span")
        trace = accepted()[0]
        try:
            await eventually(lambda: set(HOPS.items()) <= collector.of_trace(trace), 30, f"every hop's span in trace {trace}")
        except TimeoutError:
            with collector.lock:
                seen = sorted({(s, n, t == trace) for s, n, t in collector.spans})
            raise AssertionError(f"missing {sorted(set(HOPS.items()) - collector.of_trace(trace))}; spans seen: {seen}")
        await a.close()
        await b.close()
        return trace

    trace = asyncio.run(asyncio.wait_for(scenario(), 120))
    brokers = stack.env["PARLEY_KAFKA_BROKERS"]
    for topic in ("chat.inbound", "chat.inbox", "chat.acks", "chat.deliver.edge-1", "chat.deliver.edge-2"):
        assert carries(brokers, topic, trace), f"no record of {topic} carries trace {trace}"
