@testable import ParleyKafka
import Synchronization
import Testing

@Suite("Batch deliveries")
struct BatchDeliveriesTests {
    /// Collects what `onSettled` reports.
    final class Outcomes: Sendable {
        let seen = Mutex<[Result<[KafkaDelivery], any Error>]>([])
        func record(_ outcome: Result<[KafkaDelivery], any Error>) { seen.withLock { $0.append(outcome) } }
        var count: Int { seen.withLock { $0.count } }
        var deliveries: [KafkaDelivery]? { seen.withLock { try? $0.first?.get() } }
        var error: KafkaError? {
            seen.withLock { outcomes in
                guard case .failure(let error)? = outcomes.first else { return nil }
                return error as? KafkaError
            }
        }
    }

    func delivery(_ offset: Int64) -> KafkaDelivery { KafkaDelivery(topic: "t", partition: 0, offset: offset) }

    @Test("settles once, after the last report and the seal, with the deliveries in enqueue order")
    func settlesInOrder() {
        let batch = BatchDeliveries()
        let outcomes = Outcomes()
        batch.onSettled(outcomes.record)
        let first = batch.add(), second = batch.add()
        second.fulfill(.success(delivery(8)))  // reports may come in any order
        #expect(outcomes.count == 0)
        first.fulfill(.success(delivery(7)))
        #expect(outcomes.count == 0, "not sealed yet: more records may follow")
        batch.seal(enqueueError: nil)
        #expect(outcomes.deliveries == [delivery(7), delivery(8)])
        batch.onSettled(outcomes.record)  // a late waiter runs at once
        #expect(outcomes.count == 2)
    }

    @Test("a failed record fails the batch, but only once every record has completed")
    func failureWaitsForTheRest() {
        let batch = BatchDeliveries()
        let outcomes = Outcomes()
        batch.onSettled(outcomes.record)
        let first = batch.add(), second = batch.add()
        batch.seal(enqueueError: nil)
        first.fulfill(.failure(KafkaError(code: .messageTimedOut, message: "timed out")))
        #expect(outcomes.count == 0)
        second.fulfill(.success(delivery(1)))
        #expect(outcomes.error?.code == .messageTimedOut)
    }

    @Test("an enqueue failure is the batch's error; a withdrawn record is not waited for; an empty batch settles at once")
    func enqueueFailure() {
        let batch = BatchDeliveries()
        let outcomes = Outcomes()
        let first = batch.add()
        _ = batch.add()
        batch.withdrawLast()
        batch.seal(enqueueError: KafkaError(code: .queueFull, message: "full"))
        batch.onSettled(outcomes.record)
        #expect(outcomes.count == 0)
        first.fulfill(.failure(KafkaError(code: .messageTimedOut, message: "timed out")))
        #expect(outcomes.error?.code == .queueFull)

        let empty = BatchDeliveries()
        empty.seal(enqueueError: nil)
        empty.onSettled(outcomes.record)
        #expect(outcomes.count == 2)
    }
}
