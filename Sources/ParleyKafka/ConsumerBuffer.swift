import Synchronization

/// Records fetched by the consumer thread, waiting for ``KafkaConsumer/nextBatch(maxCount:)``.
/// Bounded: when it holds `capacity` records the thread stops polling until a batch is taken.
final class ConsumerBuffer: Sendable {
    private struct Waiter {
        let id: UInt64
        let maxCount: Int
        let continuation: CheckedContinuation<[KafkaRecord]?, any Error>
    }

    private struct State {
        var records: [KafkaRecord] = []
        var head = 0
        var waiters: [Waiter] = []
        var cancelled: Set<UInt64> = []
        var nextWaiterID: UInt64 = 0
        var finished = false
        var failure: KafkaError?

        var count: Int { records.count - head }

        mutating func take(_ maxCount: Int) -> [KafkaRecord] {
            let n = min(maxCount, count)
            let batch = Array(records[head..<head + n])
            head += n
            if head == records.count {
                records.removeAll(keepingCapacity: true)
                head = 0
            } else if head > 1024, head * 2 > records.count {
                records.removeFirst(head)
                head = 0
            }
            return batch
        }
    }

    let capacity: Int
    private let state = Mutex(State())
    /// Called when a full buffer gets space (wakes the consumer thread).
    private let onSpace: @Sendable () -> Void

    init(capacity: Int, onSpace: @escaping @Sendable () -> Void) {
        self.capacity = max(1, capacity)
        self.onSpace = onSpace
    }

    /// How many more records fit before the consumer thread stops polling.
    var space: Int { state.withLock { max(0, capacity - $0.count) } }
    /// How many ``next(maxCount:)`` calls are parked waiting for records.
    var waiterCount: Int { state.withLock { $0.waiters.count } }

    /// Adds fetched records (consumer thread) and hands them to waiting callers.
    func push(_ batch: [KafkaRecord]) {
        guard !batch.isEmpty else { return }
        let ready = state.withLock { state -> [(Waiter, [KafkaRecord])] in
            guard !state.finished else { return [] }
            state.records.append(contentsOf: batch)
            var ready: [(Waiter, [KafkaRecord])] = []
            while state.count > 0, !state.waiters.isEmpty {
                let waiter = state.waiters.removeFirst()
                ready.append((waiter, state.take(waiter.maxCount)))
            }
            return ready
        }
        for (waiter, records) in ready { waiter.continuation.resume(returning: records) }
    }

    /// Drops buffered records of partitions this member no longer owns.
    func drop(_ partitions: Set<TopicPartition>) {
        state.withLock { state in
            let kept = state.records[state.head...].filter { !partitions.contains(TopicPartition(topic: $0.topic, partition: $0.partition)) }
            state.records = Array(kept)
            state.head = 0
        }
    }

    /// Buffered records per partition, for the lag metric.
    func countsByPartition() -> [TopicPartition: Int64] {
        state.withLock { state in
            var counts: [TopicPartition: Int64] = [:]
            for record in state.records[state.head...] {
                counts[TopicPartition(topic: record.topic, partition: record.partition), default: 0] += 1
            }
            return counts
        }
    }

    /// Ends the sequence: waiting and later callers get `nil` (or `failure`). Buffered records
    /// are discarded (they were not committed, so the group delivers them again).
    func finish(failure: KafkaError?) {
        let waiters = state.withLock { state -> [Waiter] in
            guard !state.finished else { return [] }
            state.finished = true
            state.failure = failure
            state.records.removeAll()
            state.head = 0
            defer { state.waiters.removeAll() }
            return state.waiters
        }
        for waiter in waiters {
            if let failure { waiter.continuation.resume(throwing: failure) } else { waiter.continuation.resume(returning: nil) }
        }
    }

    /// Waits for at least one record, then returns up to `maxCount` of those already fetched;
    /// `nil` once finished. Cancellation throws `CancellationError`.
    func next(maxCount: Int) async throws -> [KafkaRecord]? {
        let maxCount = max(1, maxCount)
        let id = state.withLock { state -> UInt64 in
            state.nextWaiterID += 1
            return state.nextWaiterID
        }
        defer { _ = state.withLock { $0.cancelled.remove(id) } }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<[KafkaRecord]?, any Error>) in
                enum Outcome { case records([KafkaRecord], wasFull: Bool), end(KafkaError?), cancelled, waiting }
                let outcome = state.withLock { state -> Outcome in
                    if state.cancelled.remove(id) != nil { return .cancelled }
                    if state.count > 0 {
                        let wasFull = state.count >= capacity
                        return .records(state.take(maxCount), wasFull: wasFull)
                    }
                    if state.finished { return .end(state.failure) }
                    state.waiters.append(Waiter(id: id, maxCount: maxCount, continuation: continuation))
                    return .waiting
                }
                switch outcome {
                case .records(let records, let wasFull):
                    if wasFull { onSpace() }
                    continuation.resume(returning: records)
                case .end(let failure?): continuation.resume(throwing: failure)
                case .end(nil): continuation.resume(returning: nil)
                case .cancelled: continuation.resume(throwing: CancellationError())
                case .waiting: break
                }
            }
        } onCancel: {
            let waiter = state.withLock { state -> Waiter? in
                if let index = state.waiters.firstIndex(where: { $0.id == id }) {
                    return state.waiters.remove(at: index)
                }
                state.cancelled.insert(id)
                return nil
            }
            waiter?.continuation.resume(throwing: CancellationError())
        }
    }
}
