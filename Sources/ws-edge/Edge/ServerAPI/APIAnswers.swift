import Foundation
import ParleyProtocol
import Synchronization

/// Server API requests waiting for their answer on this edge's deliver topic. A request asks
/// like a session does (a query, a presence query) under a session id of its own (`api-…`);
/// the answer comes back addressed to that id.
final class APIAnswers: Sendable {
    private enum Slot {
        /// Asked; nobody waits yet.
        case pending
        case waiting(CheckedContinuation<DeliverEnvelope?, Never>)
        /// Answered before anybody waited.
        case answered(DeliverEnvelope)
    }

    static let idPrefix = "api-"
    private let slots = Mutex<[String: Slot]>([:])

    /// A new request id, registered before the question goes out (so no answer is missed).
    func open() -> String {
        let id = Self.idPrefix + UUID().uuidString.lowercased()
        slots.withLock { $0[id] = .pending }
        return id
    }

    /// The answer to request `id`, or nil after `timeout` (or when the question never went out:
    /// ``cancel(_:)``).
    func answer(_ id: String, timeout: Duration) async -> DeliverEnvelope? {
        let timer = Task {
            try await Task.sleep(for: timeout)
            self.resolve(id, nil)
        }
        defer { timer.cancel() }
        return await withCheckedContinuation { (waiter: CheckedContinuation<DeliverEnvelope?, Never>) in
            let ready = slots.withLock { slots -> DeliverEnvelope?? in
                switch slots[id] {
                case .pending?:
                    slots[id] = .waiting(waiter)
                    return nil
                case .answered(let envelope)?:
                    slots[id] = nil
                    return .some(envelope)
                case .waiting?, nil:
                    return .some(nil)
                }
            }
            if let ready { waiter.resume(returning: ready) }
        }
    }

    /// Gives up request `id` (its question could not be sent).
    func cancel(_ id: String) { resolve(id, nil) }

    /// Hands the envelopes addressed to waiting requests to them (consumer thread; a quick look
    /// when nothing waits).
    func receive(_ envelopes: [DeliverEnvelope]) {
        for envelope in envelopes {
            for id in envelope.sessions ?? [] where id.hasPrefix(Self.idPrefix) { resolve(id, envelope) }
        }
    }

    private func resolve(_ id: String, _ envelope: DeliverEnvelope?) {
        let waiter = slots.withLock { slots -> CheckedContinuation<DeliverEnvelope?, Never>? in
            switch slots[id] {
            case .waiting(let waiter)?:
                slots[id] = nil
                return waiter
            case .pending?:
                slots[id] = envelope.map { .answered($0) }
                return nil
            case .answered?, nil:
                return nil
            }
        }
        waiter?.resume(returning: envelope)
    }
}
