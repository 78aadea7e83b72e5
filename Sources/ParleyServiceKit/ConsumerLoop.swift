import Logging
import Metrics
import ParleyKafka
import ServiceLifecycle

/// Consumes batches, hands each to `handle` (in a span named after the consumer when tracing is
/// on), and commits the batch only after `handle` returned, so every output of a record is
/// acknowledged before its offset is committed (at-least-once); that commit overlaps with
/// handling the next batch. A failing batch is retried with backoff, never skipped; records that
/// can never be handled (malformed) are the handler's to log and drop. Consumers of manually assigned partitions read from the end
/// (`commits: false`) and commit nothing.
public struct ConsumerLoop: Service {
    public typealias Handler = @Sendable ([KafkaRecord]) async throws -> Void

    private let name: String
    private let consumer: KafkaConsumer
    private let maxBatch: Int
    private let commits: Bool
    private let logger: Logger
    private let handle: Handler
    private let metrics: ConsumerMetrics
    private let failures: Counter
    private let commitFailures: Counter

    public init(name: String, consumer: KafkaConsumer, maxBatch: Int = 500, commits: Bool = true, logger: Logger,
                handle: @escaping Handler) {
        self.name = name
        self.consumer = consumer
        self.maxBatch = maxBatch
        self.commits = commits
        self.logger = logger
        self.handle = handle
        metrics = ConsumerMetrics(name: name)
        failures = Counter(label: "parley_batch_failures_total", dimensions: [("consumer", name)])
        commitFailures = Counter(label: "parley_commit_failures_total", dimensions: [("consumer", name)])
    }

    /// Consumes until the consumer ends. The consumer runs as a child service: graceful
    /// shutdown (or cancellation) of this loop shuts it down, which ends its batches.
    public func run() async throws {
        let consumer = self.consumer
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { await consumer.run() }
            try await consumeBatches()
        }
    }

    private func consumeBatches() async throws {
        // A batch's commit runs while the next batch is handled (commits stay in batch order:
        // each waits for the one before). Handling waits for nothing but the broker's acks of
        // its own outputs.
        try await withThrowingTaskGroup(of: Void.self) { commitsInFlight in
            while let batch = try await consumer.nextBatch(maxCount: maxBatch) {
                guard !batch.isEmpty else { continue }
                guard await handleRetrying(batch) else { break }
                if commits {
                    try await commitsInFlight.next()  // the previous batch's commit, if any
                    commitsInFlight.addTask { await commit(batch) }
                }
                metrics.handled(batch.count, status: consumer.status)
            }
        }
    }

    /// Hands `batch` to the handler until it succeeds, with backoff; false when the loop is
    /// cancelled or shutting down meanwhile.
    private func handleRetrying(_ batch: [KafkaRecord]) async -> Bool {
        var delay = Duration.milliseconds(100)
        while true {
            do {
                try await metrics.batchDuration.measure {
                    try await ParleyTracing.withBatchSpan(name, records: batch) { try await handle(batch) }
                }
                return true
            } catch {
                if Task.isCancelled || Task.isShuttingDownGracefully { return false }
                failures.increment()
                logger.error("batch failed, retrying", metadata: [
                    "parley.consumer": "\(name)", "parley.records": "\(batch.count)", "parley.error": "\(error)",
                ])
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(5))
            }
        }
    }

    /// Commits a handled batch. A failed commit (e.g. the partition was revoked meanwhile) loses
    /// nothing: the next commit of the same partitions covers it, or its records are delivered
    /// again after the rebalance or a restart (at-least-once).
    private func commit(_ batch: [KafkaRecord]) async {
        do {
            try await consumer.commit(batch)
        } catch {
            commitFailures.increment()
            logger.warning("commit failed; these records may be handled again", metadata: [
                "parley.consumer": "\(name)", "parley.records": "\(batch.count)", "parley.error": "\(error)",
            ])
        }
    }
}
