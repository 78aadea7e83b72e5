import Foundation
import Hummingbird
import Logging
import ParleyKafka
import ParleyProtocol
import ParleyServiceKit
import ServiceLifecycle

/// Builds ws-edge: the topics it needs, its producer and consumers, the public HTTP/WebSocket
/// server, the admin server (health, readiness, metrics, the server API) and the lifecycle
/// pieces, ordered so the ServiceGroup (which stops in reverse) first closes the sessions, then
/// stops the servers and consumers, then flushes the producer. `onServerRunning` gets the public
/// port, `onAdminRunning` the admin port.
public func buildEdge(_ configuration: EdgeConfiguration, logger baseLogger: Logger,
                      onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in },
                      onAdminRunning: @escaping @Sendable (Int) async -> Void = { _ in }) async throws -> [any Service] {
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
                                    sink: MeteredSink(name: "edge.deliver", DeliverSink(hub: edge.hub, answers: edge.answers, traces: publisher.traces,
                                                                                        logger: logger, dropped: dropped)),
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
    router.middlewares.add(PublicRequestRules())
    EdgeRoutes.add(to: router, edge: edge)
    if !configuration.webRoot.isEmpty {
        router.middlewares.add(FileMiddleware(configuration.webRoot, searchForIndexHtml: true, logger: logger))
    }
    if configuration.devLogin, !configuration.servesSeedRead {
        logger.notice("GET /read is off: the edge does not listen on loopback", metadata: ["parley.host": "\(configuration.httpHost)"])
    }
    let app = Application(
        router: router,
        server: .edge(edge),
        configuration: .init(address: .hostname(configuration.httpHost, port: configuration.httpPort), serverName: nil),
        onServerRunning: { channel in
            logger.info("ready", metadata: ["parley.port": "\(channel.localAddress?.port ?? 0)"])
            await onServerRunning(channel.localAddress?.port ?? 0)
        },
        logger: logger)

    // The server API exists only with a key; its Kafka admin client lists the edges for a disconnect.
    let serverAPI = try configuration.apiKey.map { key in
        ServerAPI(edge: edge, key: key, kafkaAdmin: try KafkaAdmin(configuration: common.kafka.background, logger: logger))
    }
    let admin = OperationalServer.application(configuration: common, readiness: readiness, logger: logger,
                                              routes: { router in serverAPI.map { ServerAPIRoutes.add(to: router, api: $0) } },
                                              onServerRunning: onAdminRunning)

    return [producer, publisher] + (serverAPI.map { [$0.kafkaAdmin] } ?? []) + [
        deliver,
        changes,
        app,
        admin,
        SessionKeepAlive(edge: edge),
        EdgeLifecycle(edge: edge, logger: logger),
    ] + [authority.refresher].compactMap { $0 }
}
