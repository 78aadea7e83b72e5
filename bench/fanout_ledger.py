"""The pure parts of parley_bench.py's `fanout` scenario: who is in which group, who sends which
message when, and the ledger that checks every member got every message exactly once.

Message k of a phase goes to group k % groups, is sent t0 + k / (groups * rate) seconds after the
phase starts (each group gets `rate` messages a second, the groups staggered evenly), by member
(k // groups) % members of that group (the senders rotate). Every other member must receive it
exactly once (a delivery) and the sender its own copy exactly once (v2 devices get their own
messages back as stream entries).
"""
import json
from array import array


def group_users(prefix, groups, members):
    """The users of each group: member j of group g is `<prefix><g>m<j>`; member 0 creates it.
    Short names, so a 1,000-member `group_create` fits the edge's frame limit (16 KB)."""
    return [[f"{prefix}{g}m{j}" for j in range(members)] for g in range(groups)]


def edge_of(group, member, edges):
    """The --url index a member's session connects to: a group's members alternate between the
    edges, and so do the creators of consecutive groups."""
    return (group + member) % edges


def create_frame(cid, title, members):
    """The `group_create` frame (the creator is not in `members`)."""
    return json.dumps({"type": "group_create", "id": cid, "title": title, "members": members},
                      separators=(",", ":"))


def group_of(k, groups):
    return k % groups


def sender_of(k, groups, members):
    return (k // groups) % members


def send_offset(k, groups, rate):
    """Seconds after the phase start at which message k is due."""
    return k / (groups * rate)


class FanoutLedger:
    """Which member got which message of one phase, and when (times in µs of one clock).

    `record_delivery(µs)` gets the latency of every delivery within the deadline;
    `summary(record_last)` gives `record_last(µs)` the latency to the last member of every message
    that reached all its other members within the deadline, and returns the counts."""

    def __init__(self, groups, members, total, record_delivery):
        if members < 2:
            raise ValueError("a group needs at least 2 members")
        self.groups, self.members, self.total = groups, members, total
        self.record_delivery = record_delivery
        self.got = bytearray(total * members)          # 1: arrived (in time), 2: arrived late
        self.in_time = array("H", bytes(2 * total))     # other members reached within the deadline
        self.last_us = array("q", bytes(8 * total))
        self.send_us = array("q", bytes(8 * total))
        self.cseq = array("q", bytes(8 * total))        # the cseq the first copy carried
        self.msg = [None] * total                       # the msg id the first copy carried
        self.deadline_us = 1 << 62
        self.sends = self.deliveries = self.own_copies = self.late = self.dups = self.mismatched = 0

    def sent(self, k, t_us):
        self.send_us[k] = t_us
        self.sends += 1

    def receive(self, k, member, now_us, cseq=None, msg=None):
        """One copy of message k at `member`'s session: "delivery", "own" (the sender's own
        copy, counted whenever it comes), "late" (a delivery after the deadline), "dup" (this
        member had it already) or "unsent"."""
        if not 0 <= k < self.sends:
            return "unsent"
        slot = k * self.members + member
        if self.got[slot]:
            self.dups += 1
            return "dup"
        self._same_order(k, cseq, msg)
        if member == sender_of(k, self.groups, self.members):
            self.got[slot] = 1
            self.own_copies += 1
            return "own"
        if now_us > self.deadline_us:
            self.got[slot] = 2
            self.late += 1
            return "late"
        self.got[slot] = 1
        self.deliveries += 1
        self.in_time[k] += 1
        self.last_us[k] = max(self.last_us[k], now_us)
        self.record_delivery(max(1, now_us - self.send_us[k]))
        return "delivery"

    def _same_order(self, k, cseq, msg):
        """Every member must see a message under one msg id at one cseq."""
        if self.msg[k] is None:
            self.msg[k], self.cseq[k] = msg, cseq or 0
        elif self.msg[k] != msg or self.cseq[k] != (cseq or 0):
            self.mismatched += 1

    def summary(self, record_last):
        others = self.members - 1
        complete = 0
        for k in range(self.sends):
            if self.in_time[k] == others:
                complete += 1
                record_last(max(1, self.last_us[k] - self.send_us[k]))
        expected = self.sends * others
        sender_missing = sum(1 for k in range(self.sends)
                             if not self.got[k * self.members + sender_of(k, self.groups, self.members)])
        never = sum(1 for k in range(self.sends) for j in range(self.members) if not self.got[k * self.members + j])
        return {"messages": self.sends, "expected_deliveries": expected, "deliveries": self.deliveries,
                "lost": expected - self.deliveries, "lost_late": self.late, "lost_never": never - sender_missing,
                "dups": self.dups, "own_copies": self.own_copies, "own_copies_missing": sender_missing,
                "complete_messages": complete, "incomplete_messages": self.sends - complete,
                "order_mismatches": self.mismatched}

    def missing(self, names, limit=20):
        """Up to `limit` (message, member) pairs that never arrived, to trace in the logs."""
        out = []
        for k in range(self.sends):
            for j in range(self.members):
                if not self.got[k * self.members + j]:
                    out.append(f"{k}->{names[group_of(k, self.groups)][j]}")
                    if len(out) >= limit:
                        return out
        return out
