import Logging
import Metrics
import ParleyBackend
import ParleyChat
import ParleyKafka
import ParleyProtocol
import ParleyRedis
import ParleyServiceKit

/// Relays `chat.signals` (typing) to the other current members' sessions: nothing is stored,
/// nothing gets a `seq`. Per batch: signals older than ``maxAge`` are dropped (a consumer that
/// lagged, or a replay, would show typing that ended long ago); the conversations' members are
/// read (``TypingAudience``), then the recipients' sessions (`presence:{user}`, presence-svc's
/// hash) in one pipeline; one ``TypingNotice`` goes to each (recipient, edge). A typer that is
/// not a member gets `not_member` on the session it typed in; groups over `--typing-max-members`
/// and dms with a block get no typing (dropped and counted).
public struct TypingRelay: Sendable {
    /// Signals older than this (by their edge's clock) are dropped, in milliseconds.
    public static let maxAge: UInt64 = 5000

    let topics: Topics
    let redis: RedisClient
    let producer: KafkaProducer
    let maxMembers: Int

    private let metrics: any MetricsFactory
    private let relayed: Counter
    private let malformed: DroppedRecords

    /// `maxMembers`: the largest group typing is relayed in; `metrics` makes the relay's metrics
    /// (tests pass their own).
    public init(topics: Topics, redis: RedisClient, producer: KafkaProducer, maxMembers: Int, logger: Logger,
                metrics: any MetricsFactory = MetricsSystem.factory) {
        self.topics = topics
        self.redis = redis
        self.producer = producer
        self.maxMembers = maxMembers
        self.metrics = metrics
        relayed = Counter(label: "parley_typing_relayed_total", factory: metrics)
        malformed = DroppedRecords(service: "relay-svc", logger: logger, metrics: metrics)
    }

    /// Relays a batch of `chat.signals` records; returns once the deliveries are acknowledged.
    public func relay(_ records: [KafkaRecord]) async throws {
        let now = UnixTime.nowMilliseconds
        var typers = Typers()
        for record in records {
            guard let signal = signal(of: record) else { continue }
            guard signal.ts >= now || now - signal.ts <= Self.maxAge else {
                dropped("stale")
                continue
            }
            typers.add(signal)
        }
        guard !typers.isEmpty else { return }
        let audience = try await TypingAudience.read(typers.byGroup, directs: typers.directs, maxMembers: maxMembers, redis: redis)

        var deliveries = EdgeDeliveries()
        var notices: [(notice: TypingNotice, recipients: [String])] = []
        for typer in typers.all {
            switch audience.outcome(conv: typer.conv, typer: typer.user, maxMembers: maxMembers) {
            case .members(let recipients):
                notices.append((TypingNotice(conv: typer.conv, user: typer.user), recipients))
            case .notMember:
                dropped("not_member")
                for origin in typer.origins {
                    deliveries.add(DeliverEnvelope(user: typer.user, sessions: [origin.session],
                                                   error: ProtocolError(.notMember, "not a member of \(typer.conv)")), edge: origin.edge)
                }
            case .tooLarge:
                dropped("too_large")
            case .blocked:
                dropped("blocked")
            }
        }
        let sessions = try await SessionEdges.of(Set(notices.flatMap(\.recipients)), on: redis)
        for (notice, recipients) in notices {
            for recipient in recipients {
                for edge in sessions[recipient] ?? [] {
                    deliveries.add(DeliverEnvelope(user: recipient, typing: notice), edge: edge)
                    relayed.increment()
                }
            }
        }
        guard !deliveries.isEmpty else { return }
        _ = try await producer.send(batch: deliveries.records(topics))
    }

    /// The signal of a well-formed record; nil (logged and counted) for anything else (the
    /// reader refuses malformed ids).
    private func signal(of record: KafkaRecord) -> SignalEnvelope? {
        do {
            return try Envelope.decode(SignalEnvelope.self, from: record.value)
        } catch {
            malformed.drop(record, error)
            return nil
        }
    }

    private func dropped(_ reason: String) {
        Counter(label: "parley_typing_dropped_total", dimensions: [("reason", reason)], factory: metrics).increment()
    }
}

/// The typers of a batch: each (conversation, user) once, in first-seen order, with the sessions
/// it typed in (where a `not_member` answer goes).
private struct Typers {
    struct Typer {
        let conv: String
        let user: String
        var origins: [(session: String, edge: String)]
    }

    private(set) var all: [Typer] = []
    private var index: [String: Int] = [:]

    var isEmpty: Bool { all.isEmpty }

    mutating func add(_ signal: SignalEnvelope) {
        let key = signal.conv + "\n" + signal.user
        if let known = index[key] {
            if !all[known].origins.contains(where: { $0.session == signal.session }) {
                all[known].origins.append((signal.session, signal.edge))
            }
        } else {
            index[key] = all.count
            all.append(Typer(conv: signal.conv, user: signal.user, origins: [(signal.session, signal.edge)]))
        }
    }

    /// The dms among the conversations (but notes to self).
    var directs: Set<String> {
        Set(all.compactMap { typer in
            Conversation.peer(in: typer.conv, of: typer.user).flatMap { $0 == typer.user ? nil : typer.conv }
        })
    }

    /// The groups among the conversations, each with its typers.
    var byGroup: [(conv: String, typers: [String])] {
        var groups: [(conv: String, typers: [String])] = []
        var position: [String: Int] = [:]
        for typer in all where typer.conv.hasPrefix("g:") {
            if let known = position[typer.conv] {
                groups[known].typers.append(typer.user)
            } else {
                position[typer.conv] = groups.count
                groups.append((typer.conv, [typer.user]))
            }
        }
        return groups
    }
}
