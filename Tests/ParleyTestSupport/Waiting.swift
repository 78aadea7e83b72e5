import Synchronization

/// The one set of waiting helpers every suite uses: tests wait on the condition that proves their
/// claim, with a generous deadline, never on a sleep.

public struct TestTimeout: Error, CustomStringConvertible {
    public let what: String
    public init(what: String) { self.what = what }
    public var description: String { "timed out waiting for \(what)" }
}

/// How long a test waits for any one condition before it fails (generous: two shared cores).
public let conditionTimeout: Duration = .seconds(20)

/// Polls `check` until it returns a value; fails with ``TestTimeout`` after `timeout`.
public func eventually<T: Sendable>(_ what: String, timeout: Duration = conditionTimeout, interval: Duration = .milliseconds(25),
                                    _ check: @Sendable () async throws -> T?) async throws -> T {
    let deadline = ContinuousClock.now + timeout
    while true {
        if let value = try await check() { return value }
        guard ContinuousClock.now < deadline else { throw TestTimeout(what: what) }
        try await Task.sleep(for: interval)
    }
}

/// Polls until `condition` holds.
public func waitUntil(_ what: String, timeout: Duration = conditionTimeout, interval: Duration = .milliseconds(25),
                      _ condition: @Sendable () async throws -> Bool) async throws {
    _ = try await eventually(what, timeout: timeout, interval: interval) { try await condition() ? true : nil }
}

/// Runs `body` and fails with ``TestTimeout`` if it has not finished within `timeout`. Unlike
/// a task group, this returns at the deadline even when `body` awaits something that ignores
/// cancellation (such as another task's value): `body` is cancelled and left to finish alone.
public func withTimeout<T: Sendable>(_ timeout: Duration, _ what: String, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    let outcome = FirstOutcome<T>()
    return try await withCheckedThrowingContinuation { continuation in
        outcome.set(continuation)
        let work = Task {
            do { outcome.resume(with: .success(try await body())) } catch { outcome.resume(with: .failure(error)) }
        }
        Task {
            try? await Task.sleep(for: timeout)
            if outcome.resume(with: .failure(TestTimeout(what: what))) { work.cancel() }
        }
    }
}

/// Resumes a continuation once, with whichever outcome comes first.
private final class FirstOutcome<T: Sendable>: Sendable {
    private let state = Mutex<(continuation: CheckedContinuation<T, any Error>?, early: Result<T, any Error>?)>((nil, nil))

    func set(_ continuation: CheckedContinuation<T, any Error>) {
        let early = state.withLock { state -> Result<T, any Error>? in
            if let early = state.early { return early }
            state.continuation = continuation
            return nil
        }
        if let early { continuation.resume(with: early) }
    }

    /// True when this outcome was the first.
    @discardableResult
    func resume(with result: Result<T, any Error>) -> Bool {
        let (first, continuation) = state.withLock { state -> (Bool, CheckedContinuation<T, any Error>?) in
            if let continuation = state.continuation {
                state.continuation = nil
                state.early = result
                return (true, continuation)
            }
            if state.early != nil { return (false, nil) }
            state.early = result
            return (true, nil)
        }
        continuation?.resume(with: result)
        return first
    }
}
