/// Where a consumer made with ``KafkaConsumer/init(configuration:assignments:sink:logger:)``
/// hands its records: on the consumer's own thread, each gap-free batch as it is fetched, with
/// no task hop and no buffer in between. `receive` must return quickly and never block (it holds
/// up the consumer's thread); there is no back-pressure, so it suits consumers whose work per
/// record is a hand-over (e.g. to event loops), not handlers that await outputs.
public protocol KafkaRecordSink: Sendable {
    func receive(_ records: [KafkaRecord], status: KafkaConsumerStatus)
}

/// What a sink learns of its consumer with each batch (for metrics).
public struct KafkaConsumerStatus: Sendable {
    /// As ``KafkaConsumer/lag``.
    public let lag: Int64?
    /// As ``KafkaConsumer/offsetGaps``.
    public let offsetGaps: (found: Int, skipped: Int)
}
