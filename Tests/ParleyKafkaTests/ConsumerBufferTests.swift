@testable import ParleyKafka
import Synchronization
import ParleyTestSupport
import Testing

@Suite("Consumer buffer (pure logic)")
struct ConsumerBufferTests {
    /// Counts the buffer's "space again" signals.
    final class SpaceSignals: Sendable {
        private let count = Mutex(0)
        func signal() { count.withLock { $0 += 1 } }
        var value: Int { count.withLock { $0 } }
    }

    func record(_ offset: Int64, partition: Int32 = 0) -> KafkaRecord {
        KafkaRecord(topic: "t", partition: partition, offset: offset, key: nil, value: [], timestamp: nil)
    }

    @Test("records come out in push order, at most maxCount at a time")
    func order() async throws {
        let buffer = ConsumerBuffer(capacity: 10) {}
        buffer.push((0..<5).map { record($0) })
        #expect(buffer.space == 5)
        #expect(try await buffer.next(maxCount: 3)?.map(\.offset) == [0, 1, 2])
        #expect(try await buffer.next(maxCount: 3)?.map(\.offset) == [3, 4])
        #expect(buffer.space == 10)
    }

    @Test("parked readers get the next push, in the order they arrived")
    func parkedReaders() async throws {
        let buffer = ConsumerBuffer(capacity: 10) {}
        let first = Task { try await buffer.next(maxCount: 2) }
        try await waitUntil("the first reader to park") { buffer.waiterCount == 1 }
        let second = Task { try await buffer.next(maxCount: 2) }
        try await waitUntil("the second reader to park") { buffer.waiterCount == 2 }
        buffer.push((0..<3).map { record($0) })
        #expect(try await first.value?.map(\.offset) == [0, 1])
        #expect(try await second.value?.map(\.offset) == [2])
        #expect(buffer.waiterCount == 0)
    }

    @Test("taking from a full buffer signals space; taking from one that is not full does not")
    func spaceSignal() async throws {
        let signals = SpaceSignals()
        let buffer = ConsumerBuffer(capacity: 3) { signals.signal() }
        buffer.push([record(0), record(1)])
        _ = try await buffer.next(maxCount: 1)
        #expect(signals.value == 0)
        buffer.push([record(2), record(3)])
        #expect(buffer.space == 0)
        _ = try await buffer.next(maxCount: 1)
        #expect(signals.value == 1)
        #expect(buffer.space == 1)
    }

    @Test("drop removes revoked partitions' records; countsByPartition counts the rest")
    func dropAndCounts() async throws {
        let buffer = ConsumerBuffer(capacity: 10) {}
        buffer.push([record(0, partition: 0), record(0, partition: 1), record(1, partition: 0), record(1, partition: 1)])
        _ = try await buffer.next(maxCount: 1)  // the head moved: drop works on what is left
        #expect(buffer.countsByPartition() == [TopicPartition(topic: "t", partition: 0): 1, TopicPartition(topic: "t", partition: 1): 2])
        buffer.drop([TopicPartition(topic: "t", partition: 1)])
        #expect(buffer.countsByPartition() == [TopicPartition(topic: "t", partition: 0): 1])
        #expect(try await buffer.next(maxCount: 10)?.map { [$0.partition, Int32($0.offset)] } == [[0, 1]])
    }

    @Test("finish ends the sequence: parked and later readers get nil, buffered and later records are discarded")
    func finish() async throws {
        let buffer = ConsumerBuffer(capacity: 10) {}
        let parked = Task { try await buffer.next(maxCount: 1) }
        try await waitUntil("a reader to park") { buffer.waiterCount == 1 }
        buffer.finish(failure: nil)
        #expect(try await parked.value == nil)

        let withRecords = ConsumerBuffer(capacity: 10) {}
        withRecords.push([record(0)])
        withRecords.finish(failure: nil)
        withRecords.push([record(1)])
        #expect(try await withRecords.next(maxCount: 10) == nil)
    }

    @Test("finish with a failure throws it to parked and later readers")
    func finishWithFailure() async throws {
        let buffer = ConsumerBuffer(capacity: 10) {}
        let parked = Task { try await buffer.next(maxCount: 1) }
        try await waitUntil("a reader to park") { buffer.waiterCount == 1 }
        buffer.finish(failure: KafkaError(code: .fatal, message: "boom"))
        buffer.finish(failure: nil)  // the first finish wins
        let error = await #expect(throws: KafkaError.self) { try await parked.value }
        #expect(error?.code == .fatal)
        let later = await #expect(throws: KafkaError.self) { try await buffer.next(maxCount: 1) }
        #expect(later?.code == .fatal)
    }

    @Test("cancelling a parked reader throws CancellationError and leaves the buffer working")
    func cancelParked() async throws {
        let buffer = ConsumerBuffer(capacity: 10) {}
        let parked = Task { try await buffer.next(maxCount: 1) }
        try await waitUntil("a reader to park") { buffer.waiterCount == 1 }
        parked.cancel()
        await #expect(throws: CancellationError.self) { try await parked.value }
        #expect(buffer.waiterCount == 0)
        buffer.push([record(0)])
        #expect(try await buffer.next(maxCount: 1)?.map(\.offset) == [0])
    }

    @Test("a reader cancelled before it parks throws CancellationError and takes nothing")
    func cancelBeforeParking() async throws {
        let buffer = ConsumerBuffer(capacity: 10) {}
        buffer.push([record(0)])
        let cancelled = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return try await buffer.next(maxCount: 1)
        }
        await #expect(throws: CancellationError.self) { try await cancelled.value }
        #expect(try await buffer.next(maxCount: 1)?.map(\.offset) == [0])
    }
}
