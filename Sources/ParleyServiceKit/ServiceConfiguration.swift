import Logging
/// An executable's settings and how to build its typed configuration from them (``load(arguments:environment:)``).
public protocol SettingsConfiguration: Sendable {
    /// The executable's name, e.g. `relay-svc`.
    static var serviceName: String { get }
    /// One line for `--help`.
    static var summary: String { get }
    /// Every setting the executable accepts, common ones included.
    static var settings: [Setting] { get }
    /// Builds the configuration from validated values; throws ``ConfigurationError`` for
    /// problems that span settings (e.g. a JWT secret is required when dev login is off).
    init(values: SettingValues) throws
}

/// A service's configuration: its settings, the ones every service shares among them.
public protocol ServiceConfiguration: SettingsConfiguration {
    /// The settings every executable shares.
    var common: CommonConfiguration { get }
    /// Metadata on every log line of the process (e.g. `parley.edge`).
    var logMetadata: Logger.Metadata { get }
}

extension ServiceConfiguration {
    public var logMetadata: Logger.Metadata { [:] }
}

/// A bad setting: one line that names it.
public struct ConfigurationError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// What `ServiceConfiguration.load` found on the command line.
public enum ConfigurationRequest<Configuration: SettingsConfiguration>: Sendable {
    case run(Configuration)
    case help(String)
}

extension SettingsConfiguration {
    /// Reads flags (`--name value` or `--name=value`), then `PARLEY_*` variables, then defaults,
    /// validates each value and builds the configuration.
    public static func load(arguments: [String], environment: [String: String]) throws -> ConfigurationRequest<Self> {
        var given: [String: String] = [:]
        var index = 0
        let byFlag = Dictionary(uniqueKeysWithValues: settings.map { ($0.flag, $0) })
        while index < arguments.count {
            let argument = arguments[index]
            if argument == "--help" || argument == "-h" { return .help(helpText) }
            let (flag, inline) = split(argument)
            guard let setting = byFlag[flag] else {
                throw ConfigurationError("\(serviceName): unknown option \(argument) (see --help)")
            }
            if let inline {
                given[setting.name] = inline
            } else if setting.kind == .boolean, index + 1 >= arguments.count || arguments[index + 1].hasPrefix("--") {
                given[setting.name] = "true"
            } else {
                guard index + 1 < arguments.count else {
                    throw ConfigurationError("\(serviceName): \(flag) needs a value")
                }
                index += 1
                given[setting.name] = arguments[index]
            }
            index += 1
        }
        var values: [String: String] = [:]
        for setting in settings {
            let fromFlag = given[setting.name]
            let fromEnvironment = environment[setting.environmentVariable]
            guard let value = fromFlag ?? fromEnvironment ?? setting.defaultValue else {
                throw ConfigurationError("\(serviceName): \(setting.environmentVariable) (\(setting.flag)) is required: \(setting.help)")
            }
            if let problem = SettingParser.problem(with: value, kind: setting.kind) {
                let source = fromFlag != nil ? setting.flag : fromEnvironment != nil ? setting.environmentVariable : "default of \(setting.flag)"
                throw ConfigurationError("\(serviceName): invalid \(source)=\(value.debugDescription): \(problem)")
            }
            values[setting.name] = value
        }
        do {
            return .run(try Self(values: SettingValues(values: values, settings: settings)))
        } catch let error as ConfigurationError {
            throw ConfigurationError("\(serviceName): \(error.message)")
        }
    }

    /// `--help` text generated from ``settings``.
    public static var helpText: String {
        var lines = ["\(serviceName): \(summary)", "", "Usage: \(serviceName) [options]", "",
                     "Every option can also be set by its environment variable; the flag wins.", ""]
        for setting in settings {
            let value = setting.defaultValue.map { $0.isEmpty ? "(empty)" : $0 } ?? "(required)"
            lines.append("  \(setting.flag) <value>   [\(setting.environmentVariable)]  default: \(value)")
            lines.append("      \(setting.help)")
        }
        lines.append("  -h, --help   show this help")
        return lines.joined(separator: "\n")
    }

    private static func split(_ argument: String) -> (String, String?) {
        guard let equals = argument.firstIndex(of: "=") else { return (argument, nil) }
        return (String(argument[..<equals]), String(argument[argument.index(after: equals)...]))
    }
}
