"""The fanout scenario's pure parts (`.venv/bin/python -m pytest bench`)."""
import collections
import json

from fanout_ledger import (FanoutLedger, create_frame, edge_of, group_of, group_users, send_offset,
                           sender_of)


def test_members_alternate_between_the_edges():
    for members in (10, 11, 1000):
        for g in range(3):
            per_edge = collections.Counter(edge_of(g, j, 2) for j in range(members))
            assert abs(per_edge[0] - per_edge[1]) <= 1
    assert {edge_of(g, 0, 2) for g in range(2)} == {0, 1}


def test_a_thousand_member_create_fits_the_edges_frame_limit():
    users = group_users("ab12", 15, 1000)[14]
    frame = create_frame("create14", "bench group 14", users[1:])
    assert len(frame.encode()) <= 16384
    assert json.loads(frame) == {"type": "group_create", "id": "create14", "title": "bench group 14",
                                 "members": users[1:]}
    assert len(set(users)) == 1000


def test_each_group_gets_its_rate_from_rotating_senders():
    groups, members, rate = 4, 3, 2.0
    total = int(10 * rate) * groups
    due = [send_offset(k, groups, rate) for k in range(total)]
    assert due == sorted(due) and due[-1] < 10
    per_group = collections.defaultdict(list)
    for k in range(total):
        per_group[group_of(k, groups)].append(k)
    for g, ks in per_group.items():
        assert len(ks) == 20
        assert [sender_of(k, groups, members) for k in ks[:6]] == [0, 1, 2, 0, 1, 2]


def ledger(groups=2, members=3, messages=4):
    got = []
    led = FanoutLedger(groups, members, messages, got.append)
    for k in range(messages):
        led.sent(k, 1000 * k)
    return led, got


def test_every_member_once_is_complete_with_the_last_members_latency():
    led, got = ledger()
    for k in range(4):
        for j in range(3):
            led.receive(k, j, 1000 * k + 10 + j, cseq=k // 2 + 1, msg=f"m{k}")
    last = []
    s = led.summary(last.append)
    assert s["deliveries"] == s["expected_deliveries"] == 8 and s["lost"] == 0 and s["lost_never"] == 0
    assert s["own_copies"] == 4 and s["own_copies_missing"] == 0 and s["dups"] == 0
    assert s["complete_messages"] == 4 and s["order_mismatches"] == 0
    assert len(got) == 8
    # message 1 (group 1, sender 0) reached members 1 and 2 at +11 and +12 µs: the last is +12
    assert last == [12, 12, 12, 12]


def test_a_second_copy_is_a_duplicate_and_not_a_delivery():
    led, got = ledger()
    assert led.receive(0, 1, 5, 1, "m0") == "delivery"
    assert led.receive(0, 1, 6, 1, "m0") == "dup"
    assert led.receive(0, 0, 7, 1, "m0") == "own"
    assert led.receive(0, 0, 8, 1, "m0") == "dup"
    assert led.dups == 2 and led.deliveries == 1 and got == [5]


def test_missing_and_late_copies_are_lost_and_the_message_incomplete():
    led, _ = ledger()
    led.deadline_us = 100
    led.receive(0, 1, 50, 1, "m0")
    assert led.receive(0, 2, 150, 1, "m0") == "late"
    s = led.summary(lambda us: None)
    assert s["lost"] == 7 and s["lost_late"] == 1 and s["lost_never"] == 6
    assert s["own_copies_missing"] == 4 and s["complete_messages"] == 0
    assert led.missing(group_users("p", 2, 3), limit=3) == ["0->p0m0", "1->p1m0", "1->p1m1"]


def test_members_disagreeing_on_cseq_or_msg_are_counted():
    led, _ = ledger()
    led.receive(0, 0, 1, 1, "m0")
    led.receive(0, 1, 2, 2, "m0")
    led.receive(0, 2, 3, 1, "other")
    assert led.mismatched == 2


def test_a_copy_of_a_message_never_sent_is_not_counted():
    led, got = ledger(messages=4)
    assert led.receive(4, 0, 1) == "unsent" and led.receive(-1, 0, 1) == "unsent"
    assert got == [] and led.deliveries == 0
