import Logging
import ParleyChat
import ParleyKafka
import ParleyProtocol
import ParleyServiceKit
import ServiceLifecycle
import Synchronization

/// Everything the edge produces (sends, acks, presence events) goes through one queue that is
/// enqueued into the producer in order, a batch at a time with a few batches in flight: a
/// session's records keep their order, and under load many sends share one broker round trip.
/// Each record's completion runs when the broker acknowledged its batch, or failed. Acks of all
/// sessions are coalesced into batched `chat.acks` records at each flush.
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
        var acks: [AckEnvelope] = []
        var stopping = false
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

    init(producer: KafkaProducer, edgeID: String, topics: Topics, maxBatch: Int = 1000, logger: Logger) {
        self.producer = producer
        self.edgeID = edgeID
        self.topics = topics
        self.maxBatch = maxBatch
        self.logger = logger
        (wakeups, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Queues a send for `chat.inbound` (keyed by the recipient); `completion` learns whether the
    /// broker acknowledged it.
    func publishSend(_ envelope: InboundEnvelope, completion: Completion? = nil) {
        publish(envelope, key: envelope.message.conv, topic: topics.inbound, completion: completion)
    }

    /// Queues a presence event. Keyed by edge id so an edge's events stay in order
    /// (edge_started before the sessions of that run).
    func publishPresence(_ kind: PresenceEvent.Kind, user: String? = nil, session: String? = nil, users: [String]? = nil) {
        let event = PresenceEvent(kind: kind, edge: edgeID, user: user, session: session, users: users, ts: UnixTime.nowMilliseconds)
        publish(event, key: edgeID, topic: topics.presenceEvents)
    }

    private func publish<T: WireObject>(_ envelope: T, key: String, topic: String, completion: Completion? = nil) {
        let record = KafkaOutgoingRecord(topic: topic, key: Array(key.utf8), value: Envelope.encode(envelope))
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

    /// Queues an ack; acks go out in batched records with the next flush. A lost ack only means
    /// the message is replayed once more, so no completion.
    func publishAck(_ envelope: AckEnvelope) {
        let accepted = state.withLock { state -> Bool in
            guard !state.stopping else { return false }
            state.acks.append(envelope)
            return true
        }
        if accepted { wake.yield() }
    }

    /// Flushes batches until graceful shutdown, then flushes what is left and returns once every
    /// batch in flight is settled.
    func run() async throws {
        var window = InFlightWindow(limit: maxInFlight)
        await withGracefulShutdownHandler {
            for await _ in wakeups {
                await flush(window: &window)
                if state.withLock({ $0.stopping && $0.queue.isEmpty && $0.acks.isEmpty }) { break }
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
            let (batch, acks) = state.withLock { state -> ([Pending], [AckEnvelope]) in
                let count = min(maxBatch, state.queue.count)
                defer {
                    state.queue.removeFirst(count)
                    state.acks.removeAll()
                }
                return (Array(state.queue.prefix(count)), state.acks)
            }
            guard !batch.isEmpty || !acks.isEmpty else { return }
            let pending = await producer.enqueue(batch: batch.map(\.record) + BatchedRecords.make(acks, topic: topics.acks))
            window.opened()
            let completed = window.completed
            pending.onSettled { [logger] outcome in
                let result = outcome.map { _ in () }
                if case .failure(let error) = outcome {
                    logger.error("produce failed", metadata: ["parley.records": "\(batch.count)", "parley.error": "\(error)"])
                }
                for item in batch { item.completion?(result) }
                completed.yield()
            }
        }
    }
}

/// What a loop's sessions report to the rest of Parley without a reply: acks on behalf of
/// seed-mode sessions, and every session again when presence-svc asks for a resync.
protocol SessionReports: Sendable {
    func publishAck(_ envelope: AckEnvelope)
    func publishPresence(_ kind: PresenceEvent.Kind, user: String?, session: String?, users: [String]?)
}

extension EdgePublisher: SessionReports {}
