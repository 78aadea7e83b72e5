import ParleyProtocol
import Testing

@Suite("MessageID.Generator")
struct MessageIDGeneratorTests {
    @Test("ids are valid message ids of the given time, strictly increasing, also within one millisecond")
    func increasing() {
        var generator = MessageID.Generator()
        let ms: UInt64 = 1_800_000_000_000
        // More ids than the 12-bit counter holds in one millisecond: it moves on to the next.
        let ids = (0..<5000).map { _ in generator.make(unixMilliseconds: ms) }
        #expect(ids.allSatisfy(MessageID.isValid))
        #expect(zip(ids, ids.dropFirst()).allSatisfy { $0 < $1 })
        #expect(MessageID.unixMilliseconds(of: ids[0]) == ms)
        #expect(MessageID.lowerBound(unixMilliseconds: ms) <= ids[0])
        #expect(MessageID.unixMilliseconds(of: ids.last!)! > ms)
    }

    @Test("a clock that goes back does not make a smaller id")
    func monotonic() {
        var generator = MessageID.Generator()
        let first = generator.make(unixMilliseconds: 1_800_000_000_500)
        let second = generator.make(unixMilliseconds: 1_800_000_000_000)
        #expect(first < second)
    }
}
