import Metrics
import ParleyKafka
import Synchronization

/// One consumer's metrics, labelled `consumer=<name>`: records in, lag (in records), how long a
/// batch took to handle, offset gaps found and skipped. ``ConsumerLoop`` and ``MeteredSink`` both
/// report through it.
final class ConsumerMetrics: Sendable {
    private let recordsIn: Counter
    private let lag: Gauge
    /// One attempt at handling a batch (a failed attempt counts too).
    let batchDuration: Timer
    private let gapsFound: Counter
    private let gapsSkipped: Counter
    /// The consumer's gap totals at the last batch (the counters grow by the difference).
    private let gapsSeen = Mutex<(found: Int, skipped: Int)>((0, 0))

    init(name: String) {
        recordsIn = Counter(label: "parley_records_in_total", dimensions: [("consumer", name)])
        lag = Gauge(label: "parley_consumer_lag_records", dimensions: [("consumer", name)])
        batchDuration = Timer(label: "parley_consumer_batch_seconds", dimensions: [("consumer", name)])
        gapsFound = Counter(label: "parley_kafka_offset_gaps_total", dimensions: [("consumer", name), ("outcome", "found")])
        gapsSkipped = Counter(label: "parley_kafka_offset_gaps_total", dimensions: [("consumer", name), ("outcome", "skipped")])
    }

    /// A batch of `count` records was handled; `status` is the consumer's lag and gap totals now.
    func handled(_ count: Int, status: KafkaConsumerStatus) {
        recordsIn.increment(by: count)
        if let current = status.lag { lag.record(current) }
        let seen = gapsSeen.withLock { seen in
            defer { seen = status.offsetGaps }
            return seen
        }
        gapsFound.increment(by: status.offsetGaps.found - seen.found)
        gapsSkipped.increment(by: status.offsetGaps.skipped - seen.skipped)
    }
}

/// A ``KafkaRecordSink`` that passes each batch on, in a span when tracing is on, and counts it
/// in the consumer's metrics, for consumers that hand records over on their own thread instead
/// of running a ``ConsumerLoop``.
public struct MeteredSink: KafkaRecordSink {
    private let name: String
    private let inner: any KafkaRecordSink
    private let metrics: ConsumerMetrics

    /// Counts under `consumer=<name>` what `inner` receives.
    public init(name: String, _ inner: any KafkaRecordSink) {
        self.name = name
        self.inner = inner
        metrics = ConsumerMetrics(name: name)
    }

    public func receive(_ records: [KafkaRecord], status: KafkaConsumerStatus) {
        metrics.batchDuration.measure {
            ParleyTracing.withBatchSpan(name, records: records) { inner.receive(records, status: status) }
        }
        metrics.handled(records.count, status: status)
    }
}
