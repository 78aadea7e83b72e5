import Logging
import OTel
import ParleyKafka
import ServiceLifecycle
import Synchronization
import Tracing

/// Spans of a message's hops (swift-distributed-tracing), exported with OTLP/HTTP by swift-otel
/// when `--otel-endpoint` is set, and their W3C `traceparent` in Kafka record headers.
///
/// Off by default, and then free: every helper checks ``isEnabled`` first and neither starts a
/// span nor reads or writes a header.
public enum ParleyTracing {
    private static let enabled = Atomic<Bool>(false)

    /// Whether spans are exported (``bootstrap(endpoint:serviceName:logger:)`` found an endpoint).
    public static var isEnabled: Bool { enabled.load(ordering: .relaxed) }

    /// The W3C trace context header of every traced record.
    public static let headerName = "traceparent"

    /// With a collector URL (`http://collector:4318`), makes swift-otel the process's tracer and
    /// returns its exporter, to run beside the process's services (it flushes when shut down);
    /// nil and nothing changes when `endpoint` is empty. Once per process.
    public static func bootstrap(endpoint: String, serviceName: String, logger: Logger) throws -> (any Service)? {
        guard !endpoint.isEmpty else { return nil }
        var configuration = OTel.Configuration.default
        configuration.serviceName = serviceName
        configuration.diagnosticLogger = .custom(logger)
        configuration.metrics.enabled = false
        configuration.logs.enabled = false
        configuration.propagators = [.traceContext]
        configuration.traces.otlpExporter.endpoint = tracesURL(endpoint)
        configuration.traces.otlpExporter.`protocol` = .httpProtobuf
        let backend = try OTel.makeTracingBackend(configuration: configuration)
        InstrumentationSystem.bootstrap(backend.factory)
        enabled.store(true, ordering: .relaxed)
        return backend.service
    }

    /// The collector's traces path under a base URL (a URL already ending in it stays as it is).
    static func tracesURL(_ endpoint: String) -> String {
        if endpoint.hasSuffix("/v1/traces") { return endpoint }
        return (endpoint.hasSuffix("/") ? String(endpoint.dropLast()) : endpoint) + "/v1/traces"
    }

    /// For ``KafkaProducer``'s `headers`: stamps every record produced inside a span with that
    /// span's `traceparent`; nil (no stamping at all) while tracing is off.
    public static var recordHeaders: (@Sendable () -> [KafkaHeader])? {
        guard isEnabled else { return nil }
        return { ServiceContext.current.map(headers(for:)) ?? [] }
    }

    /// The `traceparent` header of a span's context.
    public static func headers(for context: ServiceContext) -> [KafkaHeader] {
        var headers: [KafkaHeader] = []
        InstrumentationSystem.instrument.inject(context, into: &headers, using: HeaderInjector())
        return headers
    }

    /// The trace context a record carries, if any.
    public static func context(of record: KafkaRecord) -> ServiceContext? {
        context(of: record.headers)
    }

    /// The trace context among `headers`, if any.
    public static func context(of headers: [KafkaHeader]) -> ServiceContext? {
        guard headers.contains(where: { $0.name == headerName }) else { return nil }
        var context = ServiceContext.topLevel
        InstrumentationSystem.instrument.extract(headers, into: &context, using: HeaderExtractor())
        return context
    }

    /// Runs `body` in a span named `name` that continues the trace of the first record with a
    /// trace context and links the others' (a batch mixes messages); records produced inside it
    /// carry its context. Just runs `body` while tracing is off.
    public static func withBatchSpan<T>(_ name: String, records: [KafkaRecord],
                                        _ body: () async throws -> T) async rethrows -> T {
        guard isEnabled else { return try await body() }
        let contexts = records.compactMap(context(of:))
        return try await withSpan(name, context: contexts.first ?? .topLevel, ofKind: .consumer) { span in
            annotate(span, contexts: contexts, records: records.count)
            return try await body()
        }
    }

    /// ``withBatchSpan(_:records:_:)`` for synchronous consumers (a ``KafkaRecordSink``).
    public static func withBatchSpan<T>(_ name: String, records: [KafkaRecord], _ body: () throws -> T) rethrows -> T {
        guard isEnabled else { return try body() }
        let contexts = records.compactMap(context(of:))
        return try withSpan(name, context: contexts.first ?? .topLevel, ofKind: .consumer) { span in
            annotate(span, contexts: contexts, records: records.count)
            return try body()
        }
    }

    /// Starts a span (ended by the caller) under `parent`, or a new trace; nil while tracing is off.
    public static func startSpan(_ name: String, parent: ServiceContext? = nil, kind: SpanKind = .producer) -> (any Span)? {
        guard isEnabled else { return nil }
        return Tracing.startSpan(name, context: parent ?? .topLevel, ofKind: kind)
    }

    /// At most this many links per batch span: enough to find the other traces of a batch
    /// without making a span of a large batch heavy.
    static let maxLinks = 32

    private static func annotate(_ span: any Span, contexts: [ServiceContext], records: Int) {
        span.attributes["messaging.batch.message_count"] = records
        for context in contexts.dropFirst().prefix(maxLinks) {
            span.addLink(SpanLink(context: context, attributes: [:]))
        }
    }
}

private struct HeaderInjector: Injector {
    func inject(_ value: String, forKey key: String, into carrier: inout [KafkaHeader]) {
        carrier.append(KafkaHeader(name: key, value: value))
    }
}

private struct HeaderExtractor: Extractor {
    func extract(key: String, from carrier: [KafkaHeader]) -> String? {
        carrier.first(named: key).map { String(decoding: $0, as: UTF8.self) }
    }
}
