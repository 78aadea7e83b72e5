import Logging
import Synchronization

/// Process-wide logging set-up: one line per event on stderr, with the level from settings.
public enum ParleyLogging {
    private static let bootstrapped = Mutex(false)

    /// Bootstraps swift-log once per process (later calls only return a logger).
    public static func bootstrap(level: LogLevelSetting, label: String) -> Logger {
        let first = bootstrapped.withLock { done in
            defer { done = true }
            return !done
        }
        if first {
            LoggingSystem.bootstrap { label in
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = level.swiftLogLevel
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
