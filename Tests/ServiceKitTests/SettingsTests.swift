import ParleyServiceKit
import Testing

/// A small configuration that exercises every kind of setting.
struct SampleConfiguration: ServiceConfiguration {
    static let serviceName = "sample-svc"
    static let summary = "a sample"
    static let port = Setting("port", .integer(0...65535), default: "8080", help: "port")
    static let secret = Setting("secret", .nonEmpty, default: nil, help: "a required secret")
    static let verbose = Setting("verbose", .boolean, default: "false", help: "talk more")
    static let timeout = Setting("timeout", .duration, default: "15s", help: "how long")
    static let owner = Setting("owner", .identifier, default: "edge-1", help: "an id")
    static var settings: [Setting] { CommonSettings.kafka + CommonSettings.process(adminPort: 9999) + [port, secret, verbose, timeout, owner] }

    var common: CommonConfiguration
    let values: SettingValues

    init(values: SettingValues) throws {
        common = try CommonConfiguration(values: values, clientID: "sample")
        self.values = values
    }
}

@Suite("Settings")
struct SettingsTests {
    func load(_ arguments: [String], _ environment: [String: String] = ["PARLEY_SECRET": "s"]) throws -> SampleConfiguration {
        guard case .run(let configuration) = try SampleConfiguration.load(arguments: arguments, environment: environment) else {
            Issue.record("expected a configuration")
            throw ConfigurationError("help")
        }
        return configuration
    }

    func failure(_ arguments: [String], _ environment: [String: String] = ["PARLEY_SECRET": "s"]) -> String? {
        do {
            _ = try SampleConfiguration.load(arguments: arguments, environment: environment)
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test func namesFlagsAndVariablesAlike() {
        #expect(CommonSettings.kafkaBrokers.flag == "--kafka-brokers")
        #expect(CommonSettings.kafkaBrokers.environmentVariable == "PARLEY_KAFKA_BROKERS")
    }

    @Test func flagBeatsEnvironmentBeatsDefault() throws {
        #expect(try load([]).values.int(SampleConfiguration.port) == 8080)
        #expect(try load([], ["PARLEY_SECRET": "s", "PARLEY_PORT": "81"]).values.int(SampleConfiguration.port) == 81)
        #expect(try load(["--port", "82"], ["PARLEY_SECRET": "s", "PARLEY_PORT": "81"]).values.int(SampleConfiguration.port) == 82)
        #expect(try load(["--port=83"]).values.int(SampleConfiguration.port) == 83)
        #expect(try load(["--verbose"]).values.bool(SampleConfiguration.verbose))
        #expect(try load(["--timeout", "250ms"]).values.duration(SampleConfiguration.timeout) == .milliseconds(250))
        #expect(try load(["--timeout", "2m"]).values.duration(SampleConfiguration.timeout) == .seconds(120))
        #expect(try load(["--kafka-properties", "a=1, b = 2"]).common.kafka.properties == ["a": "1", "b": "2"])
        #expect(try load(["--log-format", "json"]).common.logFormat == .json)
        #expect(try load([]).common.otelEndpoint == "")
        #expect(try load(["--otel-endpoint", "http://127.0.0.1:4318"]).common.otelEndpoint == "http://127.0.0.1:4318")
        let shown = try load(["--kafka-properties", "sasl.password=p"]).common.shownSettings
        #expect(shown.map(\.name) == SampleConfiguration.settings.map(\.name), "every setting, in declaration order")
        #expect(shown.first { $0.name == "kafka-properties" }?.value == "<redacted>")
    }

    @Test func badValuesStopWithOneLineNamingTheSetting() throws {
        let cases: [([String], [String: String], String)] = [
            (["--port", "http"], ["PARLEY_SECRET": "s"], "--port"),
            ([], ["PARLEY_SECRET": "s", "PARLEY_PORT": "70000"], "PARLEY_PORT"),
            ([], [:], "PARLEY_SECRET"),
            (["--verbose", "maybe"], ["PARLEY_SECRET": "s"], "--verbose"),
            (["--timeout", "soon"], ["PARLEY_SECRET": "s"], "--timeout"),
            (["--owner", "a b"], ["PARLEY_SECRET": "s"], "--owner"),
            (["--log-level", "loud"], ["PARLEY_SECRET": "s"], "PARLEY_LOG_LEVEL"),
            (["--log-format", "xml"], ["PARLEY_SECRET": "s"], "PARLEY_LOG_FORMAT"),
            (["--kafka-properties", "novalue"], ["PARLEY_SECRET": "s"], "PARLEY_KAFKA_PROPERTIES"),
            (["--otel-endpoint", "collector:4318"], ["PARLEY_SECRET": "s"], "PARLEY_OTEL_ENDPOINT"),
            (["--bogus", "1"], ["PARLEY_SECRET": "s"], "--bogus"),
            (["--port"], ["PARLEY_SECRET": "s"], "--port"),
        ]
        for (arguments, environment, named) in cases {
            let message = try #require(failure(arguments, environment), "\(arguments) \(environment) should fail")
            #expect(message.hasPrefix("sample-svc: "))
            #expect(message.contains(named), "\(message) should name \(named)")
            #expect(!message.contains("\n"))
        }
    }

    @Test func helpListsEverySettingWithItsVariable() throws {
        guard case .help(let text) = try SampleConfiguration.load(arguments: ["--help"], environment: [:]) else {
            Issue.record("expected help")
            return
        }
        for setting in SampleConfiguration.settings {
            #expect(text.contains(setting.flag))
            #expect(text.contains(setting.environmentVariable))
        }
    }
}
