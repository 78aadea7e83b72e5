import Metrics

/// `parley_redis_round_trip_seconds` by `kind`: a single command, a script call (`EVALSHA`) or
/// a pipeline, from sending the requests on a leased connection to reading every reply.
struct RoundTripTimers: Sendable {
    private let command = Timer(label: "parley_redis_round_trip_seconds", dimensions: [("kind", "command")])
    private let script = Timer(label: "parley_redis_round_trip_seconds", dimensions: [("kind", "script")])
    private let pipeline = Timer(label: "parley_redis_round_trip_seconds", dimensions: [("kind", "pipeline")])

    /// The timer for one exchange of `requests`.
    func timer(for requests: [RedisRequest]) -> Timer {
        if requests.count > 1 { return pipeline }
        return requests.first?.script == nil ? command : script
    }
}
