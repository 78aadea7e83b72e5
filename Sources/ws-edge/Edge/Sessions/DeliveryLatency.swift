import Metrics
import ParleyProtocol

/// `parley_delivery_latency_seconds`: end to end, from a message's `ts` (its sender's edge took
/// it) to this edge writing it live to one of its recipients' sessions (replay pages are not
/// counted: they are as old as the client's absence). Compares two edges' clocks, so it is as
/// exact as their time sync.
struct DeliveryLatency {
    private let timer = Timer(label: "parley_delivery_latency_seconds")

    /// Records the age of each message among live `entries` written to one session.
    func record(_ entries: [StreamEntry]) {
        let now = UnixTime.nowMilliseconds
        for entry in entries where entry.kind == .message {
            if let ts = entry.ts, now >= ts { timer.recordMilliseconds(now - ts) }
        }
    }
}
