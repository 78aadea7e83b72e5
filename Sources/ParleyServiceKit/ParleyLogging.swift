import Logging
import Synchronization

/// Process-wide logging set-up: one line per event on stderr (text or JSON), with the level
/// from settings and the process's metadata (e.g. `parley.edge`) on every line.
public enum ParleyLogging {
    private static let bootstrapped = Mutex(false)

    /// Bootstraps swift-log once per process (later calls only return a logger).
    public static func bootstrap(level: LogLevelSetting, format: LogFormat = .text, label: String,
                                 metadata: Logger.Metadata = [:]) -> Logger {
        let first = bootstrapped.withLock { done in
            defer { done = true }
            return !done
        }
        if first {
            LoggingSystem.bootstrap { name in
                var handler: any LogHandler = switch format {
                case .text: StreamLogHandler.standardError(label: name)
                case .json: JSONLogHandler(service: name)
                }
                handler.logLevel = level.swiftLogLevel
                for (key, value) in metadata { handler[metadataKey: key] = value }
                return handler
            }
        }
        var logger = Logger(label: label)
        logger.logLevel = level.swiftLogLevel
        return logger
    }
}

extension LogLevelSetting {
    var swiftLogLevel: Logger.Level {
        switch self {
        case .trace: .trace
        case .debug: .debug
        case .info: .info
        case .notice: .notice
        case .warning: .warning
        case .error: .error
        case .critical: .critical
        }
    }
}
