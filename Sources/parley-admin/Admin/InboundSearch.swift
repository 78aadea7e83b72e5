import Logging
import ParleyKafka
import ParleyProtocol
import Synchronization

/// Reads every partition of `chat.inbound` from the oldest record still retained to its end and
/// returns the send of one message id.
struct InboundSearch {
    /// Where the send was found.
    struct Found: Sendable {
        let record: KafkaRecord
        let envelope: InboundEnvelope
    }

    let kafka: KafkaConfiguration
    let topic: String
    let logger: Logger
    /// How long reading to the end may take before the search gives up.
    var timeout: Duration = .seconds(60)

    /// The send of `msg`; nil when no retained record holds it.
    func find(_ msg: String) async throws -> Found? {
        let ends = try await endOffsets()
        guard ends.values.contains(where: { $0 > 0 }) else { return nil }
        let consumer = try KafkaConsumer(configuration: kafka, assignments: ends.keys.sorted().map { (topic, $0, .beginning) },
                                         logger: logger)
        let progress = SearchProgress()
        return try await withThrowingTaskGroup(of: Found?.self) { group in
            defer { group.cancelAll() }
            group.addTask {
                await consumer.run()
                return nil
            }
            group.addTask {
                while let batch = try await consumer.nextBatch(maxCount: 1000) {
                    progress.scanned(batch, found: batch.lazy.compactMap { Self.send(of: msg, in: $0) }.first)
                }
                return nil
            }
            // The answer: the send once scanned, or none once every partition was scanned to the
            // end the broker named and the consumer has nothing left (lag 0, which also covers
            // records past an end the broker named too low).
            group.addTask { [timeout] in
                let deadline = ContinuousClock.now + timeout
                while ContinuousClock.now < deadline {
                    switch progress.outcome(ends: ends, lag: consumer.lag) {
                    case .found(let found): return found
                    case .notFound: return nil
                    case .reading: try await Task.sleep(for: .milliseconds(50))
                    }
                }
                throw AdminError(.kafka, "reading \(topic) to its end took longer than \(timeout)")
            }
            var answer: Found?
            for try await result in group {
                answer = result
                break
            }
            await consumer.shutdown()
            return answer
        }
    }

    private func endOffsets() async throws -> [Int32: Int64] {
        let admin = try KafkaAdmin(configuration: kafka, logger: logger)
        do {
            let ends = try await admin.endOffsets(of: topic, timeout: .seconds(10))
            await admin.shutdown()
            return ends
        } catch {
            await admin.shutdown()
            throw AdminError(.kafka, "cannot read the end offsets of \(topic)", underlying: error)
        }
    }

    /// The send of `msg` in `record`, if it is one.
    static func send(of msg: String, in record: KafkaRecord) -> Found? {
        guard let envelope = try? Envelope.decode(InboundEnvelope.self, from: record.value), envelope.message?.msg == msg else {
            return nil
        }
        return Found(record: record, envelope: envelope)
    }
}

/// What the search's reader has scanned: per partition the next offset, and the send if seen.
private final class SearchProgress: Sendable {
    enum Outcome { case found(InboundSearch.Found), notFound, reading }

    private let state = Mutex<(next: [Int32: Int64], found: InboundSearch.Found?)>(([:], nil))

    func scanned(_ batch: [KafkaRecord], found: InboundSearch.Found?) {
        state.withLock { state in
            for record in batch { state.next[record.partition] = max(state.next[record.partition] ?? 0, record.offset + 1) }
            if let found, state.found == nil { state.found = found }
        }
    }

    func outcome(ends: [Int32: Int64], lag: Int64?) -> Outcome {
        state.withLock { state in
            if let found = state.found { return .found(found) }
            let atEnds = ends.allSatisfy { partition, end in (state.next[partition] ?? 0) >= end }
            return atEnds && lag == 0 ? .notFound : .reading
        }
    }
}
