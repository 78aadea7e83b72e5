import Foundation
import Hummingbird
import Logging
import ParleyKafka
import ParleyProtocol
import ParleyServiceKit
import ServiceLifecycle

/// Builds ws-edge: the topics it needs, its producer and consumers, the HTTP/WebSocket server
/// and the lifecycle pieces, ordered so the ServiceGroup (which stops in reverse) first closes
/// the sessions, then stops the server and consumers, then flushes the producer.
public func buildEdge(_ configuration: EdgeConfiguration, logger baseLogger: Logger,
                      onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }) async throws -> [any Service] {
    let logger = {
        var logger = baseLogger
        logger[metadataKey: "parley.edge"] = "\(configuration.edgeID)"
        return logger
    }()
    let common = configuration.common
    let topics = common.topics
    let changesPartitions = try await TopicSetup.ensure(
        TopicSetup.shared(topics, partitions: common.topicPartitions) + [TopicSetup.deliver(topics, edge: configuration.edgeID)],
        kafka: common.kafka, logger: logger, partitionsOf: topics.presenceChanges) ?? common.topicPartitions
    let producer = try KafkaProducer(configuration: common.kafka, logger: logger)
    let publisher = EdgePublisher(producer: producer, edgeID: configuration.edgeID, topics: topics, logger: logger)
    let authority = try await TokenAuthority(configuration.auth, logger: logger)
    let edge = EdgeContext(configuration: configuration, publisher: publisher, authority: authority)

    let dropped = DroppedRecords(service: "ws-edge", logger: logger)
    // Both consumers hand each batch, on their own thread, to a sink that only decodes it and
    // queues it for the event loops (one hop: consumer thread → loop).
    let deliver = try KafkaConsumer(configuration: common.kafka,
                                    assignments: [(topics.deliver(edge: edge.id), 0, .end)],
                                    sink: MeteredSink(name: "edge.deliver", DeliverSink(hub: edge.hub, traces: publisher.traces, logger: logger,
                                                                                        dropped: dropped)),
                                    logger: logger)
    let changes = try KafkaConsumer(configuration: common.kafka.background,
                                    assignments: (0..<changesPartitions).map { (topics.presenceChanges, $0, .end) },
                                    sink: MeteredSink(name: "edge.presence", PresenceChangesSink(hub: edge.hub, dropped: dropped)),
                                    logger: logger)
    // Sessions of an earlier run with this id are gone: presence-svc drops them on this event.
    publisher.publishPresence(.edgeStarted)

    let readiness = Readiness()
    readiness.add("deliver topic assigned") { deliver.isAssigned }
    readiness.add("presence.changes assigned") { changes.isAssigned }
    readiness.add("accepting sessions") { !edge.isShuttingDown }
    readiness.add("identity provider keys loaded") { authority.isReady }

    let router = Router(context: BasicRequestContext.self)
    router.middlewares.add(HTTPMetricsMiddleware())
    EdgeRoutes.add(to: router, edge: edge, readiness: readiness)
    if !configuration.webRoot.isEmpty {
        router.middlewares.add(FileMiddleware(configuration.webRoot, searchForIndexHtml: true, logger: logger))
    }
    let app = Application(
        router: router,
        server: .edge(edge),
        configuration: .init(address: .hostname(common.httpHost, port: common.httpPort), serverName: nil),
        onServerRunning: { channel in
            logger.info("ready", metadata: ["parley.port": "\(channel.localAddress?.port ?? 0)"])
            await onServerRunning(channel.localAddress?.port ?? 0)
        },
        logger: logger)

    return [
        producer,
        publisher,
        deliver,
        changes,
        app,
        SessionKeepAlive(edge: edge),
        EdgeLifecycle(edge: edge, logger: logger),
    ] + [authority.refresher].compactMap { $0 }
}
