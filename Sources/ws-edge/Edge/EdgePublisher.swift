import Logging
import ParleyKafka
import ServiceLifecycle
import Synchronization

/// Everything the edge produces (sends, acks, presence events) goes through one queue that is
/// flushed as one ordered produce batch at a time: a session's records keep their order, and
/// under load many sends share one broker round trip (group commit). Each record's completion
/// runs when the broker acknowledged its batch, or failed.
final class EdgePublisher: Service, Sendable {
    typealias Completion = @Sendable (Result<Void, any Error>) -> Void

    private struct Pending {
        let record: KafkaOutgoingRecord
        let completion: Completion?
    }

    private struct State {
        var queue: [Pending] = []
        var stopping = false
    }

    private let producer: KafkaProducer
    private let maxBatch: Int
    private let logger: Logger
    private let state = Mutex(State())
    private let wakeups: AsyncStream<Void>
    private let wake: AsyncStream<Void>.Continuation

    init(producer: KafkaProducer, maxBatch: Int = 1000, logger: Logger) {
        self.producer = producer
        self.maxBatch = maxBatch
        self.logger = logger
        (wakeups, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Queues a record; `completion` learns whether the broker acknowledged it.
    func publish(_ record: KafkaOutgoingRecord, completion: Completion? = nil) {
        let accepted = state.withLock { state -> Bool in
            guard !state.stopping else { return false }
            state.queue.append(Pending(record: record, completion: completion))
            return true
        }
        if accepted {
            wake.yield()
        } else {
            completion?(.failure(EdgeError.shuttingDown))
        }
    }

    /// Flushes batches until graceful shutdown, then flushes what is left and returns.
    func run() async throws {
        await withGracefulShutdownHandler {
            for await _ in wakeups {
                await flush()
                if state.withLock({ $0.stopping && $0.queue.isEmpty }) { break }
            }
        } onGracefulShutdown: {
            self.state.withLock { $0.stopping = true }
            self.wake.yield()
        }
        await flush()
        wake.finish()
    }

    private func flush() async {
        while true {
            let batch = state.withLock { state -> [Pending] in
                let count = min(maxBatch, state.queue.count)
                defer { state.queue.removeFirst(count) }
                return Array(state.queue.prefix(count))
            }
            guard !batch.isEmpty else { return }
            let result: Result<Void, any Error>
            do {
                _ = try await producer.send(batch: batch.map(\.record))
                result = .success(())
            } catch {
                logger.error("produce failed", metadata: ["parley.records": "\(batch.count)", "parley.error": "\(error)"])
                result = .failure(error)
            }
            for pending in batch { pending.completion?(result) }
        }
    }
}

/// Errors of the edge itself.
enum EdgeError: Error, CustomStringConvertible {
    case shuttingDown

    var description: String {
        switch self {
        case .shuttingDown: "the edge is shutting down"
        }
    }
}
