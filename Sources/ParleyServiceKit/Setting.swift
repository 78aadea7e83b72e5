/// One configuration setting: a command-line flag and a `PARLEY_*` environment variable with
/// the same name, a default, a help line and a kind that validates the value at start-up.
///
/// The flag wins over the environment, the environment over the default. Every executable
/// lists its settings once (``ServiceConfiguration/settings``); `--help`, validation and the
/// deployment checks all read that list.
public struct Setting: Sendable, Hashable {
    /// What a value must look like.
    public enum Kind: Sendable, Hashable {
        case string
        /// Non-empty text.
        case nonEmpty
        case integer(ClosedRange<Int>)
        /// `true/false/1/0/yes/no/on/off`.
        case boolean
        /// Milliseconds (`250ms`), seconds (`15s`, `15`), minutes (`5m`) or hours (`2h`).
        case duration
        /// A user or edge id: 1–64 characters of `[A-Za-z0-9_.-]`.
        case identifier
    }

    /// How a value is shown where it is logged (the effective configuration at start).
    public enum Redaction: Sendable, Hashable {
        /// As it is.
        case none
        /// Never shown (secrets): `<redacted>` when set.
        case whole
        /// A URL whose user info (`user:password@`) is replaced by `<redacted>@`.
        case urlCredentials
    }

    /// The name without dashes' prefix, e.g. `kafka-brokers`.
    public let name: String
    public let kind: Kind
    /// The default as it would be written on the command line; `nil` when the setting is required.
    public let defaultValue: String?
    public let help: String
    public let redaction: Redaction

    public init(_ name: String, _ kind: Kind, default defaultValue: String?, help: String, redaction: Redaction = .none) {
        self.name = name
        self.kind = kind
        self.defaultValue = defaultValue
        self.help = help
        self.redaction = redaction
    }

    /// `value` as it may be logged.
    public func shown(_ value: String) -> String {
        switch redaction {
        case .none:
            return value
        case .whole:
            return value.isEmpty ? "" : "<redacted>"
        case .urlCredentials:
            guard let scheme = value.range(of: "://"), let at = value[scheme.upperBound...].lastIndex(of: "@") else { return value }
            return String(value[..<scheme.upperBound]) + "<redacted>" + String(value[at...])
        }
    }

    /// `--kafka-brokers`
    public var flag: String { "--\(name)" }
    /// `PARLEY_KAFKA_BROKERS`
    public var environmentVariable: String {
        "PARLEY_" + name.uppercased().replacingOccurrences(of: "-", with: "_")
    }
}

extension String {
    fileprivate func replacingOccurrences(of target: Character, with replacement: Character) -> String {
        String(map { $0 == target ? replacement : $0 })
    }
}
