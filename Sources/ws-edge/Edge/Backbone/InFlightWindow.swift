/// Counts produce batches in flight; completed batches report through an unbounded stream.
struct InFlightWindow {
    let limit: Int
    /// Where a settled batch reports (from any thread).
    let completed: AsyncStream<Void>.Continuation
    private var completions: AsyncStream<Void>.Iterator
    private var open = 0

    init(limit: Int) {
        self.limit = limit
        let (stream, continuation) = AsyncStream.makeStream(of: Void.self)
        completions = stream.makeAsyncIterator()
        completed = continuation
    }

    mutating func opened() { open += 1 }

    /// Waits until fewer than `limit` batches are in flight.
    mutating func waitForRoom() async { await waitUntilOpen(below: limit) }

    /// Waits until every batch has settled.
    mutating func waitForAll() async { await waitUntilOpen(below: 1) }

    private mutating func waitUntilOpen(below bound: Int) async {
        while open >= bound, await completions.next() != nil { open -= 1 }
    }
}
