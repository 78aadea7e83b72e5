"""web/reconnect.js: when the web client reconnects after its session ended (docs/web-client.md,
"Reconnecting"), run in headless Chromium from web/ served as static files: no Parley server."""

import pytest

from test_client_logic import js

RUNS = 40  # jittered delays: every run must stay inside the documented band


@pytest.fixture(scope="module")
def page(static_browser):
    return static_browser


def delays(page, code, reason, attempt):
    return [js(page, "reconnect", "retryDelay", code, reason, attempt) for _ in range(RUNS)]


def test_ordinary_closes_back_off_exponentially_with_jitter(page):
    for code in (1000, 1001, 1006, 1011, 1012):
        for attempt, base in ((0, 500), (3, 4000), (6, 30_000), (12, 30_000)):
            got = delays(page, code, "", attempt)
            assert all(0.7 * base <= d <= 1.3 * base for d in got), (code, attempt, got)
    spread = set(delays(page, 1006, "", 4))
    assert len(spread) > 1, "jitter spreads reconnects"


def test_policy_closes_wait_at_least_30_s_and_grow_to_5_min(page):
    for code, reason in ((1008, "too many frames"), (1008, "too slow: outbound queue full"), (1009, "")):
        assert all(0.7 * 30_000 <= d <= 1.3 * 30_000 for d in delays(page, code, reason, 0)), (code, reason)
        assert all(0.7 * 300_000 <= d <= 1.3 * 300_000 for d in delays(page, code, reason, 10)), (code, reason)


def test_busy_server_is_not_retried_within_5_s(page):
    assert all(d >= 5000 for d in delays(page, 1013, "backend unavailable, reconnect", 0))


def test_a_replaced_session_does_not_reconnect_on_its_own(page):
    reason = "replaced: the user opened a newer session beyond the session limit"
    assert js(page, "reconnect", "retryDelay", 1008, reason, 0) is None
    assert js(page, "reconnect", "retryDelay", 1008, reason, 5) is None
    # Only a policy close says "replaced"; any other close with that text is retried.
    assert js(page, "reconnect", "retryDelay", 1001, reason, 0) is not None
