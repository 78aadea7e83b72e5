#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// The non-blocking pipe a client thread sleeps on. librdkafka writes to it when one of the
/// queues the thread serves gets an event (`rd_kafka_queue_io_event_enable`); the library writes
/// to it when the application needs the thread (a stop request, space in a full buffer, an
/// admin job). A wait ends only through a write or the deadline the thread chose: no thread
/// polls at an interval.
final class WakePipe: Sendable {
    /// Whether the thread is blocked in ``wait(until:)``, and until when.
    enum Sleep: UInt8, AtomicRepresentable {
        case awake, untilSignalled, untilDeadline
    }

    /// Why the last wait ended.
    enum Wakeup: UInt8, AtomicRepresentable {
        case none, signal, deadline
    }

    let writeFD: Int32
    private let readFD: Int32
    private let sleeping = Atomic<Sleep>(.awake)
    private let lastWakeup = Atomic<Wakeup>(.none)
    private let deadlineWakeups = Atomic<Int>(0)

    init() throws {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else {
            throw KafkaError(code: .state, message: "cannot create a wake-up pipe: errno \(errno)")
        }
        for fd in fds {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        readFD = fds[0]
        writeFD = fds[1]
    }

    /// Wakes the thread (never blocks; a full pipe already means "wake up").
    func signal() {
        var byte: UInt8 = 1
        _ = write(writeFD, &byte, 1)
    }

    /// Blocks the calling (client) thread until signalled or until `deadline` (nil: no
    /// deadline), then drains the pipe. True when it drained a signal.
    func wait(until deadline: ContinuousClock.Instant?) -> Bool {
        var pfd = pollfd(fd: readFD, events: Int16(POLLIN), revents: 0)
        sleeping.store(deadline == nil ? .untilSignalled : .untilDeadline, ordering: .relaxed)
        let ready = poll(&pfd, 1, deadline.map(Self.milliseconds(until:)) ?? -1)
        sleeping.store(.awake, ordering: .relaxed)
        if ready > 0 {
            lastWakeup.store(.signal, ordering: .relaxed)
        } else if ready == 0 {
            lastWakeup.store(.deadline, ordering: .relaxed)
            deadlineWakeups.add(1, ordering: .relaxed)
        }
        return drain()
    }

    /// Empties the pipe without blocking; true when there was a signal in it.
    func drain() -> Bool {
        var buffer = (UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        var drained = false
        while withUnsafeMutableBytes(of: &buffer, { read(readFD, $0.baseAddress, $0.count) }) > 0 { drained = true }
        return drained
    }

    // What the thread did, for tests that prove a wake-up came through the pipe.

    /// Whether the thread is blocked in ``wait(until:)``.
    var sleep: Sleep { sleeping.load(ordering: .relaxed) }
    /// Why the last wait ended.
    var lastWakeupCause: Wakeup { lastWakeup.load(ordering: .relaxed) }
    /// How many waits ended at their deadline.
    var wakeupsAtDeadline: Int { deadlineWakeups.load(ordering: .relaxed) }

    /// `poll`'s timeout for `deadline`: rounded up, so the thread does not wake just before it.
    private static func milliseconds(until deadline: ContinuousClock.Instant) -> Int32 {
        let remaining = ContinuousClock.now.duration(to: deadline)
        guard remaining > .zero else { return 0 }
        let (seconds, attoseconds) = remaining.components
        let ms = seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
        return Int32(clamping: ms)
    }

    deinit {
        close(readFD)
        close(writeFD)
    }
}
