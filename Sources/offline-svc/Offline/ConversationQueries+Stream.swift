import ParleyBackend
import ParleyProtocol
import ParleyRedis

extension ConversationQueries {
    /// A stream's `meta` (epoch, head, first retained `seq`) and device cursors, read in one
    /// round trip; a stream nothing touched yet has no epoch and head 0.
    func streamState(of user: String) async throws -> StreamState {
        guard Identifier.isValid(user) else { throw ProtocolError(.badRequest, "user is not an identifier") }
        let keys = RedisKeys.StreamKeys(user)
        var pipeline = RedisPipeline()
        let meta = pipeline.add(.hgetall(keys.meta))
        let devices = pipeline.add(.hgetall(keys.devices))
        let replies = try await redis.send(pipeline)
        let fields = try replies[meta]
        let cursors = try replies[devices].compactMap { device, cursor in UInt64(cursor).map { DeviceCursor(device: device, cursor: $0) } }
        return StreamState(user: user, epoch: fields["e"], head: fields["h"].flatMap { UInt64($0) } ?? 0,
                           first: fields["f"].flatMap { UInt64($0) } ?? 1,
                           devices: cursors.sorted { $0.device.utf8.lexicographicallyPrecedes($1.device.utf8) })
    }
}
