import ParleyProtocol

/// The validated values of a service's settings, read by name.
public struct SettingValues: Sendable {
    let values: [String: String]
    /// The service's settings, in declaration order (for ``shown``).
    let settings: [Setting]

    init(values: [String: String], settings: [Setting] = []) {
        self.values = values
        self.settings = settings
    }

    /// Every setting's effective value as it may be logged (secrets redacted), in declaration order.
    public var shown: [(name: String, value: String)] {
        settings.compactMap { setting in values[setting.name].map { (setting.name, setting.shown($0)) } }
    }

    /// The raw text of a setting (its default if it was not given).
    public func string(_ setting: Setting) -> String {
        guard let value = values[setting.name] else {
            preconditionFailure("setting \(setting.name) is not declared by this service")
        }
        return value
    }

    public func int(_ setting: Setting) -> Int { Int(string(setting))! }

    public func bool(_ setting: Setting) -> Bool { SettingParser.bool(string(setting))! }

    public func duration(_ setting: Setting) -> Duration { SettingParser.duration(string(setting))! }
}

/// Parses and validates setting values; every failure is one line naming the setting.
enum SettingParser {
    static func bool(_ text: String) -> Bool? {
        switch text.lowercased() {
        case "true", "1", "yes", "on": true
        case "false", "0", "no", "off": false
        default: nil
        }
    }

    static func duration(_ text: String) -> Duration? {
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            guard let number = Double(text.dropLast(suffix.count)), number >= 0 else { return nil }
            return .milliseconds(Int64((number * scale * 1000).rounded()))
        }
        guard let seconds = Double(text), seconds >= 0 else { return nil }
        return .milliseconds(Int64((seconds * 1000).rounded()))
    }

    static func keyValues(_ text: String) -> [String: String]? {
        var result: [String: String] = [:]
        for pair in text.split(separator: ",", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, !parts[0].isEmpty else { return nil }
            result[String(parts[0]).trimmed] = String(parts[1]).trimmed
        }
        return result
    }

    /// Why `text` is not a valid value of `kind`, or nil when it is.
    static func problem(with text: String, kind: Setting.Kind) -> String? {
        switch kind {
        case .string:
            return nil
        case .nonEmpty:
            return text.isEmpty ? "must not be empty" : nil
        case .integer(let range):
            guard let number = Int(text) else { return "expected a whole number" }
            return range.contains(number) ? nil : "expected \(range.lowerBound)...\(range.upperBound)"
        case .boolean:
            return bool(text) == nil ? "expected true or false" : nil
        case .duration:
            return duration(text) == nil ? "expected a duration like 250ms, 15s, 5m or 2h" : nil
        case .identifier:
            return Identifier.isValid(text) ? nil : "expected 1-64 characters of A-Z a-z 0-9 _ . -"
        }
    }
}

extension String {
    var trimmed: String {
        var s = Substring(self)
        while s.first?.isWhitespace == true { s.removeFirst() }
        while s.last?.isWhitespace == true { s.removeLast() }
        return String(s)
    }
}
