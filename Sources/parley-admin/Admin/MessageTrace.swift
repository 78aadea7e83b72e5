import ParleyKafka
import ParleyProtocol

/// Where one message is: its send in `chat.inbound`, its place in its conversation, and each
/// member's stream entry with the devices that acked it and those it still waits for.
public struct MessageTrace: Sendable {
    /// The message's send as `chat.inbound` holds it.
    public struct Inbound: Sendable {
        public let partition: Int32
        public let offset: Int64
        public let message: ChatMessage
        /// The sender's device (nil: a v1 session).
        public let device: String?
        /// Whether the record carries a `traceparent` (tracing was on at the sender's edge).
        public let traced: Bool
    }

    /// One member's copy of the message.
    public struct Member: Sendable {
        public let user: String
        /// The entry's `seq` in the member's stream; nil when the stream has none (not appended
        /// yet, or older than the stream's index of recent entries).
        public let seq: UInt64?
        /// The stream's epoch and head.
        public let epoch: String?
        public let head: UInt64?
        /// Devices whose cursor reached ``seq``, and the others, sorted.
        public let acked: [String]
        public let pending: [String]
        /// Sessions subscribed to the stream now (they get new entries live).
        public let subscribed: Int
    }

    public let msg: String
    /// The topic searched (prefixed as configured).
    public let topic: String
    /// nil: no retained record of `chat.inbound` holds the message.
    public let inbound: Inbound?
    /// The message's `cseq`; nil when the conversation log has no entry for it (not routed yet,
    /// refused by relay-svc, or past the log's retention).
    public let cseq: UInt64?
    public let members: [Member]
}
