import ParleyBackend
import ParleyProtocol
import ParleyRedis

/// Per-user send quotas, counted in deliveries (a message to a group of N members costs N − 1,
/// a dm 1), over fixed windows: the current minute and the current day (UTC). 0: no limit.
public struct SendQuotas: Sendable, Equatable {
    public enum Window: String, Sendable, Equatable {
        case minute, day
    }

    public var perMinute: Int
    public var perDay: Int

    public init(perMinute: Int, perDay: Int) {
        self.perMinute = perMinute
        self.perDay = perDay
    }

    /// No quota at all.
    public static let none = SendQuotas(perMinute: 0, perDay: 0)

    var isLimited: Bool { perMinute > 0 || perDay > 0 }

    /// The limit of `window`.
    func limit(of window: Window) -> Int { window == .minute ? perMinute : perDay }

    /// The step that charges one user's operations (their costs, in order) against the quotas:
    /// a Lua script on the user's slot (`RedisKeys.sendQuota`). An operation that would go over
    /// a window's limit is refused and charges nothing; the others are charged. Answers, per
    /// operation, nil (admitted) or the window it is over.
    func charge(_ user: String, costs: [Int], now: UInt64) -> RedisCommand<[Window?]> {
        var arguments = [RedisArgument(Int64(now)), RedisArgument(perMinute), RedisArgument(perDay)]
        arguments += costs.map { RedisArgument($0) }
        return Self.script.call(keys: [RedisKeys.sendQuota(user)], arguments: arguments)
    }

    private static let script = RedisScript(keys: 1, lua) { reply throws(RedisError) in
        try reply.asArray().map { item throws(RedisError) -> Window? in
            switch try item.asString() {
            case "ok": nil
            case "minute": .minute
            case "day": .day
            default: throw RedisError(code: .protocol, message: "unexpected quota reply: \(item)")
            }
        }
    }

    /// `ARGV` = now (unix ms), per minute, per day (0: none), then one cost per operation. The
    /// hash expires two days after its last charge, so an idle user's windows go away.
    static let lua = """
        local now, per_minute, per_day = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
        local minute, day = math.floor(now / 60000), math.floor(now / 86400000)
        local q = redis.call('HMGET', KEYS[1], 'm', 'mc', 'd', 'dc')
        local used_minute = tonumber(q[1]) == minute and tonumber(q[2]) or 0
        local used_day = tonumber(q[3]) == day and tonumber(q[4]) or 0
        local out = {}
        for i = 4, #ARGV do
          local cost = tonumber(ARGV[i])
          if per_minute > 0 and used_minute + cost > per_minute then
            out[#out + 1] = 'minute'
          elseif per_day > 0 and used_day + cost > per_day then
            out[#out + 1] = 'day'
          else
            used_minute, used_day = used_minute + cost, used_day + cost
            out[#out + 1] = 'ok'
          end
        end
        redis.call('HSET', KEYS[1], 'm', minute, 'mc', used_minute, 'd', day, 'dc', used_day)
        redis.call('PEXPIRE', KEYS[1], 172800000)
        return out
        """
}
