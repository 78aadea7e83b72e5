/// Records enqueued by ``KafkaProducer/enqueue(batch:)`` whose acknowledgements are pending.
public struct KafkaPendingBatch: Sendable {
    let batch: BatchDeliveries

    /// Waits for every enqueued record; throws the first failure (an enqueue failure first)
    /// after all have completed.
    public func deliveries() async throws -> [KafkaDelivery] {
        try await withCheckedThrowingContinuation { continuation in
            batch.onSettled { continuation.resume(with: $0) }
        }
    }

    /// Runs `body` with the outcome of ``deliveries()`` once every record completed: at once if
    /// they have, else on the producer's thread, so `body` must be quick and not block.
    public func onSettled(_ body: @escaping @Sendable (Result<[KafkaDelivery], any Error>) -> Void) {
        batch.onSettled(body)
    }
}
