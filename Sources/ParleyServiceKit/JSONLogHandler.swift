#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging

/// A swift-log handler that writes one JSON object per event to stderr:
/// `{"ts":"2026-11-30T10:15:45.123Z","level":"info","service":"relay-svc","msg":"…",<metadata>}`,
/// the metadata keys as they are (`parley.user`), nested values as their description.
public struct JSONLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let service: String

    public init(service: String) { self.service = service }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { $1 } }
        if let event = event.metadata { merged.merge(event) { $1 } }
        var line = Self.line(ts: Date(), level: event.level, service: service, message: "\(event.message)", metadata: merged)
        line.append("\n")
        // One write(2) per line: lines of concurrent loggers do not interleave.
        line.withUTF8 { bytes in _ = write(STDERR_FILENO, bytes.baseAddress, bytes.count) }
    }

    /// The JSON line of one event (without the newline); keys in a stable order: `ts`, `level`,
    /// `service`, `msg`, then the metadata keys sorted.
    static func line(ts: Date, level: Logger.Level, service: String, message: String, metadata: Logger.Metadata) -> String {
        var out = "{\"ts\":\"\(timestamp(ts))\",\"level\":\"\(level.rawValue)\",\"service\":"
        appendString(service, to: &out)
        out += ",\"msg\":"
        appendString(message, to: &out)
        for key in metadata.keys.sorted() where !["ts", "level", "service", "msg"].contains(key) {
            out += ","
            appendString(key, to: &out)
            out += ":"
            appendString(text(metadata[key]!), to: &out)
        }
        out += "}"
        return out
    }

    private static func text(_ value: Logger.Metadata.Value) -> String {
        switch value {
        case .string(let string): string
        case .stringConvertible(let convertible): convertible.description
        case .array, .dictionary: value.description
        }
    }

    /// ISO 8601 in UTC with milliseconds.
    static func timestamp(_ date: Date) -> String {
        let milliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
        var seconds = time_t(milliseconds / 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ n: Int32, _ width: Int) -> String {
            let digits = String(n)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(Int32(milliseconds % 1000), 3))Z"
    }

    private static func appendString(_ string: String, to out: inout String) {
        out += "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F || scalar == "\u{2028}" || scalar == "\u{2029}":
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }
}
