import Logging
import ParleyChat
import ParleyKafka
import ParleyProtocol
import ParleyServiceKit
import ServiceLifecycle
import Synchronization
import Tracing

/// Everything the edge produces (sends, group changes, cursor moves, queries, signals, presence
/// events) goes through one queue that is enqueued into the producer in order, a batch at a time
/// with a few batches in flight: a session's records keep their order, and under load many sends share one broker
/// round trip. Each record's completion runs when the broker acknowledged its batch, or failed.
/// Cursor moves (`chat.acks`) and queries (`chat.queries`) are coalesced at each flush into one
/// batched record per user, keyed by the user: one partition per user keeps a session's pulls
/// and its unsubscribe in order.
final class EdgePublisher: Service, Sendable {
    /// Learns whether the broker acknowledged a record; runs on the producer's thread, so it
    /// must be quick and must not block: it hands the outcome to the session's ``LoopOutbox``,
    /// where the reply is encoded.
    typealias Completion = @Sendable (Result<Void, any Error>) -> Void

    private struct Pending {
        let record: KafkaOutgoingRecord
        let completion: Completion?
    }

    private struct State {
        var queue: [Pending] = []
        var cursors: [CursorMove] = []
        /// While tracing is on: the trace each user's next `chat.acks` record continues.
        var cursorTraces: [String: ServiceContext] = [:]
        var queries: [QueryEnvelope] = []
        var queryCompletions: [Completion] = []
        var stopping = false

        var isEmpty: Bool { queue.isEmpty && cursors.isEmpty && queries.isEmpty }
    }

    /// What one flush takes from the state.
    private struct Flush {
        var batch: [Pending]
        var cursors: [CursorMove]
        var cursorTraces: [String: ServiceContext]
        var queries: [QueryEnvelope]
        var queryCompletions: [Completion]
    }

    private let producer: KafkaProducer
    private let edgeID: String
    private let topics: Topics
    private let maxBatch: Int
    private let maxInFlight = 4
    private let logger: Logger
    private let state = Mutex(State())
    private let wakeups: AsyncStream<Void>
    private let wake: AsyncStream<Void>.Continuation
    /// What each user was last delivered, for the trace of their acks.
    let traces = EdgeTraces()

    init(producer: KafkaProducer, edgeID: String, topics: Topics, maxBatch: Int = 1000, logger: Logger) {
        self.producer = producer
        self.edgeID = edgeID
        self.topics = topics
        self.maxBatch = maxBatch
        self.logger = logger
        (wakeups, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Queues a send for `chat.inbound` (keyed by its conversation); `completion` learns whether
    /// the broker acknowledged it.
    /// With tracing on, the send starts a message's trace: a span `edge.accept` until the broker
    /// acknowledged it, whose `traceparent` the record carries.
    func publishSend(_ envelope: InboundEnvelope, completion: Completion? = nil) {
        logger.debug("accepted", metadata: ["parley.msg": "\(envelope.message?.msg ?? "")", "parley.conv": "\(envelope.conv)"])
        guard let span = ParleyTracing.startSpan("edge.accept") else {
            return publish(envelope, key: envelope.conv, topic: topics.inbound, completion: completion)
        }
        span.attributes["parley.msg"] = envelope.message?.msg ?? ""
        span.attributes["parley.conv"] = envelope.conv
        publish(envelope, key: envelope.conv, topic: topics.inbound, headers: ParleyTracing.headers(for: span.context)) { result in
            span.end()
            completion?(result)
        }
    }

    /// Queues an ephemeral signal (typing) for `chat.signals`, keyed by its conversation. A lost
    /// one is not worth a retry: the client signals again while the user types.
    func publishSignal(_ signal: SignalEnvelope) {
        publish(signal, key: signal.conv, topic: topics.signals)
    }

    /// Queues a presence event. Keyed by edge id so an edge's events stay in order
    /// (edge_started before the sessions of that run).
    func publishPresence(_ kind: PresenceEvent.Kind, user: String? = nil, session: String? = nil, users: [String]? = nil) {
        let event = PresenceEvent(kind: kind, edge: edgeID, user: user, session: session, users: users, ts: UnixTime.nowMilliseconds)
        publish(event, key: edgeID, topic: topics.presenceEvents)
    }

    /// Queues a deliver envelope for another edge's (or this edge's) deliver topic `topic`, as the
    /// one-item batch edges read there (the server API's disconnect).
    func publishDeliver(_ envelope: DeliverEnvelope, topic: String, completion: Completion?) {
        enqueue(KafkaOutgoingRecord(topic: topic, key: Array(envelope.user.utf8),
                                    value: Envelope.encodeBatches([envelope], maxBytes: BatchedRecords.maxBytes)[0]),
                completion: completion)
    }

    private func publish<T: WireObject>(_ envelope: T, key: String, topic: String, headers: [KafkaHeader] = [],
                                        completion: Completion? = nil) {
        enqueue(KafkaOutgoingRecord(topic: topic, key: Array(key.utf8), value: Envelope.encode(envelope), headers: headers),
                completion: completion)
    }

    private func enqueue(_ record: KafkaOutgoingRecord, completion: Completion?) {
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

    /// Queues a cursor move (an ack or a read) for `chat.acks`. Moves are idempotent and an ack
    /// that is lost only means entries are replayed once more, so no completion. With tracing on,
    /// an ack continues the trace of what its user was last delivered (span `edge.ack`).
    func publishCursor(_ move: CursorMove) {
        logger.debug("cursor", metadata: ["parley.user": "\(move.user)", "parley.seq": "\(move.seq ?? 0)",
                                          "parley.conv": "\(move.conv ?? "")", "parley.kind": "\(move.kind.rawValue)"])
        let trace = move.kind == .ack ? traces.take(move.user).flatMap { parent in
            ParleyTracing.startSpan("edge.ack", parent: parent).map { span in
                span.attributes["parley.seq"] = Int(move.seq ?? 0)
                span.end()
                return span.context
            }
        } : nil
        let accepted = state.withLock { state -> Bool in
            guard !state.stopping else { return false }
            state.cursors.append(move)
            if let trace { state.cursorTraces[move.user] = trace }
            return true
        }
        if accepted { wake.yield() }
    }

    /// Queues a query (a sync pull, history, the conversation list, an unsubscribe) for
    /// `chat.queries`; `completion` learns whether the broker acknowledged it.
    func publishQuery(_ query: QueryEnvelope, completion: Completion?) {
        let accepted = state.withLock { state -> Bool in
            guard !state.stopping else { return false }
            state.queries.append(query)
            if let completion { state.queryCompletions.append(completion) }
            return true
        }
        if accepted {
            wake.yield()
        } else {
            completion?(.failure(EdgeError.shuttingDown))
        }
    }

    /// Flushes batches until graceful shutdown, then flushes what is left and returns once every
    /// batch in flight is settled.
    func run() async throws {
        var window = InFlightWindow(limit: maxInFlight)
        await withGracefulShutdownHandler {
            for await _ in wakeups {
                await flush(window: &window)
                if state.withLock({ $0.stopping && $0.isEmpty }) { break }
            }
        } onGracefulShutdown: {
            self.state.withLock { $0.stopping = true }
            self.wake.yield()
        }
        await flush(window: &window)
        await window.waitForAll()
        wake.finish()
    }

    /// Enqueues everything queued, in order, without waiting for the broker between batches (the
    /// producer keeps their order), but with at most `maxInFlight` batches unacknowledged: under
    /// load the queue then grows and batches get larger instead of more numerous. A batch's
    /// completions run on the producer's thread when the broker acknowledged it (they only
    /// hand the outcome to the sessions' loops).
    private func flush(window: inout InFlightWindow) async {
        while true {
            await window.waitForRoom()
            let flush = state.withLock { state -> Flush in
                let count = min(maxBatch, state.queue.count)
                defer {
                    state.queue.removeFirst(count)
                    state.cursors.removeAll()
                    state.cursorTraces.removeAll()
                    state.queries.removeAll()
                    state.queryCompletions.removeAll()
                }
                return Flush(batch: Array(state.queue.prefix(count)), cursors: state.cursors, cursorTraces: state.cursorTraces,
                             queries: state.queries,
                             queryCompletions: state.queryCompletions)
            }
            let records = flush.batch.map(\.record)
                + Self.recordsPerUser(flush.cursors, topic: topics.acks, user: \.user, traces: flush.cursorTraces)
                + Self.recordsPerUser(flush.queries, topic: topics.queries, user: \.user)
            guard !records.isEmpty else { return }
            let pending = await producer.enqueue(batch: records)
            window.opened()
            let completed = window.completed
            pending.onSettled { [logger] outcome in
                let result = outcome.map { _ in () }
                if case .failure(let error) = outcome {
                    logger.error("produce failed", metadata: ["parley.records": "\(records.count)", "parley.error": "\(error)"])
                }
                for item in flush.batch { item.completion?(result) }
                for completion in flush.queryCompletions { completion(result) }
                completed.yield()
            }
        }
    }

    /// One batched record (``EnvelopeBatch``) per user, keyed by the user, users in first-seen
    /// order and each user's items in order; a user's record carries the `traceparent` of its trace.
    private static func recordsPerUser<T: WireObject>(_ items: [T], topic: String, user: (T) -> String,
                                                      traces: [String: ServiceContext] = [:]) -> [KafkaOutgoingRecord] {
        var users: [String] = []
        var byUser: [String: [T]] = [:]
        for item in items {
            let key = user(item)
            if byUser[key] == nil { users.append(key) }
            byUser[key, default: []].append(item)
        }
        return users.flatMap { key in
            let headers = traces[key].map(ParleyTracing.headers(for:)) ?? []
            return Envelope.encodeBatches(byUser[key] ?? [], maxBytes: BatchedRecords.maxBytes).map {
                KafkaOutgoingRecord(topic: topic, key: Array(key.utf8), value: $0, headers: headers)
            }
        }
    }
}

/// What sessions send to the rest of Parley on their own: their sync pulls, acks and
/// unsubscribe, and every session again when presence-svc asks for a resync.
protocol SessionReports: Sendable {
    func publishCursor(_ move: CursorMove)
    func publishQuery(_ query: QueryEnvelope, completion: EdgePublisher.Completion?)
    func publishPresence(_ kind: PresenceEvent.Kind, user: String?, session: String?, users: [String]?)
}

extension EdgePublisher: SessionReports {}
