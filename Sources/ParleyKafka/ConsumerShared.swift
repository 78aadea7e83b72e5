import Synchronization

/// What a consumer's callers and its thread share besides the records (``ConsumerBuffer``):
/// the assignment, lag and gap counts the thread publishes, and the commits callers wait for.
/// One lock; the thread's own state lives in ``ConsumerWorker``.
final class ConsumerShared: Sendable {
    private struct State: ~Copyable {
        var assigned = false
        var partitions: Set<TopicPartition> = []
        var lag: Int64?
        var gaps = (found: 0, skipped: 0)
        var commits = PromiseTable<Void>()
        /// The consumer failed or was closed: it will never be assigned again.
        var ended = false
        var assignmentWatchers: [UInt64: AsyncStream<Void>.Continuation] = [:]
        var nextWatcherID: UInt64 = 0
    }

    private let state = Mutex(State())

    // MARK: Read by callers

    var isAssigned: Bool { state.withLock { $0.assigned } }
    var partitions: Set<TopicPartition> { state.withLock { $0.partitions } }
    var lag: Int64? { state.withLock { $0.lag } }
    var offsetGaps: (found: Int, skipped: Int) { state.withLock { $0.gaps } }
    var status: KafkaConsumerStatus { state.withLock { KafkaConsumerStatus(lag: $0.lag, offsetGaps: $0.gaps) } }

    /// Returns once the consumer is assigned; throws ``KafkaError/Code/shutDown`` if it ends
    /// first, `CancellationError` if the task is cancelled.
    func untilAssigned() async throws {
        let (changes, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        let id = state.withLock { state in
            state.nextWatcherID += 1
            state.assignmentWatchers[state.nextWatcherID] = continuation
            return state.nextWatcherID
        }
        defer { _ = state.withLock { $0.assignmentWatchers.removeValue(forKey: id) } }
        var iterator = changes.makeAsyncIterator()
        repeat {
            let (assigned, ended) = state.withLock { ($0.assigned, $0.ended) }
            if assigned { return }
            if ended { throw KafkaError.shutDown("waitUntilAssigned") }
        } while await iterator.next() != nil
        throw CancellationError()  // the stream ends only when the task is cancelled
    }

    // MARK: Commits

    /// Registers a commit whose result the thread will report under the returned id.
    func registerCommit() -> (UInt, KafkaPromise<Void>) { state.withLock { $0.commits.register() } }

    /// Takes a commit's promise back (it was never handed to librdkafka, or its result arrived).
    func removeCommit(_ id: UInt) -> Settler<Void>? { state.withLock { $0.commits.remove(id) } }

    // MARK: Written by the consumer thread

    func publishAssignment(_ partitions: Set<TopicPartition>, assigned: Bool) {
        let watchers = state.withLock { state in
            state.partitions = partitions
            state.assigned = assigned
            return assigned ? Array(state.assignmentWatchers.values) : []
        }
        for watcher in watchers { watcher.yield() }
    }

    func publishLag(_ lag: Int64?) { state.withLock { $0.lag = lag } }

    func countGap(skipped: Bool) {
        state.withLock { state in
            if skipped { state.gaps.skipped += 1 } else { state.gaps.found += 1 }
        }
    }

    /// The consumer failed or is closing: ``untilAssigned()`` stops waiting.
    func end() {
        let watchers = state.withLock { state in
            state.ended = true
            return Array(state.assignmentWatchers.values)
        }
        for watcher in watchers { watcher.yield() }
    }

    /// The consumer is closing: no assignment, no lag, and pending commits fail.
    func close() {
        let pending = state.withLock { state in
            state.partitions = []
            state.assigned = false
            state.lag = nil
            return state.commits.removeAll()
        }
        for settler in pending { settler.fulfill(.failure(.shutDown("commit"))) }
        end()
    }
}
