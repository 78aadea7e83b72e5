import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Starts a dedicated OS thread. Every blocking librdkafka call (poll, flush, close, admin
/// waits, watermark queries) runs on such a thread, never on Swift's cooperative pool.
func startKafkaThread(name: String, _ body: @escaping @Sendable () -> Void) {
    let thread = Thread(block: body)
    thread.name = name
    thread.start()
}

/// A non-blocking pipe used to wake a client thread: librdkafka writes to it when one of its
/// queues becomes non-empty (`rd_kafka_queue_io_event_enable`), and the library writes to it
/// when the application needs the thread (space in the buffer, shutdown).
final class WakePipe: Sendable {
    let readFD: Int32
    let writeFD: Int32

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

    /// Blocks the calling (client) thread until signalled or `timeoutMS` passed, then drains.
    func wait(timeoutMS: Int32) {
        var pfd = pollfd(fd: readFD, events: Int16(POLLIN), revents: 0)
        _ = poll(&pfd, 1, timeoutMS)
        drain()
    }

    func drain() {
        var buffer = [UInt8](repeating: 0, count: 256)
        while read(readFD, &buffer, buffer.count) > 0 {}
    }

    deinit {
        close(readFD)
        close(writeFD)
    }
}
