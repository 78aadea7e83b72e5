import ParleyKafka
@testable import ParleyServiceKit
import Testing

@Suite("Tracing off")
struct TracingTests {
    @Test("without an endpoint nothing is bootstrapped, no span starts and producers stamp nothing")
    func offByDefault() async throws {
        #expect(try ParleyTracing.bootstrap(endpoint: "", serviceName: "sample-svc", logger: .init(label: "test")) == nil)
        #expect(!ParleyTracing.isEnabled)
        #expect(ParleyTracing.recordHeaders == nil)
        #expect(ParleyTracing.startSpan("edge.accept") == nil)
        let record = KafkaRecord(topic: "t", partition: 0, offset: 0, key: nil, value: [], timestamp: nil,
                                 headers: [KafkaHeader(name: "traceparent", value: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")])
        let ran = ParleyTracing.withBatchSpan("relay.inbound", records: [record]) { 42 }
        #expect(ran == 42)
    }

    @Test("the collector URL gets the OTLP traces path once")
    func tracesURL() {
        #expect(ParleyTracing.tracesURL("http://collector:4318") == "http://collector:4318/v1/traces")
        #expect(ParleyTracing.tracesURL("http://collector:4318/") == "http://collector:4318/v1/traces")
        #expect(ParleyTracing.tracesURL("https://c.example/otlp/v1/traces") == "https://c.example/otlp/v1/traces")
    }
}
