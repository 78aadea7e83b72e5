/// The `WAIT` a durable send appends to each node's round trip: it answers once `replicas`
/// replicas acknowledged every earlier write of that connection, or after the timeout with how
/// many did.
enum ReplicaWait {
    static func request(_ configuration: RedisConfiguration, replicas: Int) -> RedisRequest {
        let timeout = min(configuration.replicaTimeout, configuration.commandTimeout / 2)
        return RedisRequest(arguments: ["WAIT", RedisArgument(replicas), RedisArgument(max(1, timeout.redisMilliseconds))], script: nil)
    }

    /// Throws ``RedisError/Code/replication`` when `reply` counts fewer than `wanted` replicas.
    static func check(_ reply: RESPValue, wanted: Int, node: some CustomStringConvertible) throws(RedisError) {
        if let failure = reply.errorMessage { throw RedisError(code: .server, message: failure) }
        let acknowledged = try reply.asInteger()
        guard acknowledged >= wanted else {
            throw RedisError(code: .replication, message: "redis at \(node): writes reached \(acknowledged) of \(wanted) replicas in time")
        }
    }
}
