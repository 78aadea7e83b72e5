"""Histograms move when messages flow: every process's /metrics scraped before and after one
message goes from an edge through relay-svc and offline-svc to a recipient on another edge."""

import asyncio
import re
import urllib.request

from client import ChatClient
from parley_stack import eventually

SAMPLE = re.compile(r'^([a-z_]+)(\{[^}]*\})? (\S+)$')


def scrape(stack, name):
    """{(metric, labels): value} of one process's /metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{stack.admin_port(name)}/metrics", timeout=5) as response:
        text = response.read().decode()
    samples = {}
    for line in text.splitlines():
        match = SAMPLE.match(line)
        if match:
            samples[(match.group(1), match.group(2) or "")] = float(match.group(3))
    return samples


def total(samples, metric, **labels):
    """The sum of a metric's samples whose labels include `labels`."""
    wanted = [f'{key}="{value}"' for key, value in labels.items()]
    return sum(value for (name, found), value in samples.items() if name == metric and all(w in found for w in wanted))


# Which histogram (and labels) each process must have counted one more of after the message. The
# Redis round trips are summed over their kinds: whether a batch's steps went as one script call
# or a pipeline depends on how the records fell into batches.
MOVES = {
    "ws-edge-1": [("parley_kafka_produce_ack_seconds_count", {})],
    "relay-svc": [("parley_consumer_batch_seconds_count", {"consumer": "relay.inbound"}),
                  ("parley_redis_round_trip_seconds_count", {}),
                  ("parley_kafka_produce_ack_seconds_count", {})],
    "offline-svc": [("parley_consumer_batch_seconds_count", {"consumer": "offline.inbox"}),
                    ("parley_redis_round_trip_seconds_count", {}),
                    ("parley_kafka_produce_ack_seconds_count", {})],
    "ws-edge-2": [("parley_delivery_latency_seconds_count", {}),
                  ("parley_consumer_batch_seconds_count", {"consumer": "edge.deliver"})],
}


# What the logins of the two sessions move (before any message).
LOGIN_MOVES = [("parley_http_requests_total", {"route": "/api/login", "status": "200"}),
               ("parley_http_request_duration_seconds_count", {"route": "/api/login"})]


def test_histograms_move_when_a_message_flows(stack, users):
    alice, bob = users("alice", "bob")
    start = scrape(stack, "ws-edge-1")
    before = {}

    async def scenario():
        a = await ChatClient.connect(stack, 1, alice, device="phone")
        b = await ChatClient.connect(stack, 2, bob, device="laptop")
        await a.synced()
        await b.synced()
        await stack.online(bob, 1)
        logins = scrape(stack, "ws-edge-1")
        assert all(total(logins, metric, **labels) > total(start, metric, **labels) for metric, labels in LOGIN_MOVES), \
            "the login requests were counted"
        # From here on only the message moves them (the sessions are synced).
        before.update({name: scrape(stack, name) for name in MOVES})
        sent = await a.sent(await a.send(bob, "measured"))
        await b.wait_for(lambda fs: any(m["msg"] == sent["msg"] for m in b.messages()), what="the message")

        def unmoved():
            return [f"{name} {metric} {labels}" for name, checks in MOVES.items() for metric, labels in checks
                    if total(scrape(stack, name), metric, **labels) <= total(before[name], metric, **labels)]
        try:
            await eventually(lambda: not unmoved(), 20, "every histogram counted the message")
        except TimeoutError as error:
            raise AssertionError(f"not counted: {unmoved()}") from error
        await a.close()
        await b.close()

    asyncio.run(asyncio.wait_for(scenario(), 120))
    # The lag gauge names its unit.
    assert any(name == "parley_consumer_lag_records" for name, _ in scrape(stack, "relay-svc"))
    # Histogram buckets span chat latencies: a millisecond to ten seconds.
    buckets = {labels for name, labels in scrape(stack, "ws-edge-2") if name == "parley_delivery_latency_seconds_bucket"}
    assert any('le="0.001"' in labels for labels in buckets) and any('le="10.0"' in labels for labels in buckets), buckets
