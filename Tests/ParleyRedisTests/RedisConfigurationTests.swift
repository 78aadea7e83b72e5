import ParleyRedis
import Testing

@Suite("RedisConfiguration URL parsing")
struct RedisConfigurationTests {
    @Test func defaults() throws {
        let config = try RedisConfiguration(url: "redis://127.0.0.1")
        #expect(config.host == "127.0.0.1")
        #expect(config.port == 6379)
        #expect(config.database == 0)
        #expect(config.password == nil)
        #expect(config.username == nil)
        #expect(config.poolSize == 8)
        #expect(config.connectTimeout == .seconds(2))
        #expect(config.commandTimeout == .seconds(5))
    }

    @Test func portAndDatabase() throws {
        let config = try RedisConfiguration(url: "redis://cache.internal:6380/3", poolSize: 2)
        #expect(config.host == "cache.internal")
        #expect(config.port == 6380)
        #expect(config.database == 3)
        #expect(config.poolSize == 2)
        #expect(try RedisConfiguration(url: "redis://h/").database == 0)
    }

    @Test func passwordOnly() throws {
        let config = try RedisConfiguration(url: "redis://:s3cret@10.0.0.5:7000/2")
        #expect(config.password == "s3cret")
        #expect(config.username == nil)
        #expect(config.host == "10.0.0.5")
        #expect(config.port == 7000)
        #expect(config.database == 2)
    }

    @Test func userAndPercentEncodedPassword() throws {
        let config = try RedisConfiguration(url: "redis://alice:p%40ss%3Aw%2Fd@redis:6379/1")
        #expect(config.username == "alice")
        #expect(config.password == "p@ss:w/d")
        #expect(config.host == "redis")
    }

    @Test func unencodedAtInPasswordUsesLastAt() throws {
        let config = try RedisConfiguration(url: "redis://:pa@ss@h")
        #expect(config.password == "pa@ss")
        #expect(config.host == "h")
    }

    @Test func ipv6Host() throws {
        let config = try RedisConfiguration(url: "redis://[::1]:7001/4")
        #expect(config.host == "::1")
        #expect(config.port == 7001)
        #expect(config.database == 4)
    }

    @Test func descriptionMasksPassword() throws {
        let config = try RedisConfiguration(url: "redis://alice:topsecret@h:1/2")
        #expect(config.description == "redis://alice:***@h:1/2")
        #expect(!config.description.contains("topsecret"))
    }

    @Test(arguments: [
        ("http://127.0.0.1:6379", "scheme"),
        ("127.0.0.1:6379", "expected redis://"),
        ("rediss://h:6379", "TLS"),
        ("redis://", "missing host"),
        ("redis://:6379", "missing host"),
        ("redis://h:abc", "port 'abc'"),
        ("redis://h:0", "port '0'"),
        ("redis://h:70000", "port '70000'"),
        ("redis://h/x", "database 'x'"),
        ("redis://h/-1", "database '-1'"),
        ("redis://h?db=1", "query"),
        ("redis://alice@h", "user without password"),
        ("redis://:p%zz@h", "percent-encoding"),
        ("redis://[::1:6379", "IPv6"),
    ])
    func badURL(url: String, mentions: String) throws {
        let error = #expect(throws: RedisError.self) { try RedisConfiguration(url: url) }
        #expect(error?.code == .invalidURL)
        #expect(error?.message.contains(mentions) == true, "\(error?.message ?? "")")
        #expect(error?.message.contains("\n") == false)
    }

    @Test func badURLNeverEchoesPassword() throws {
        let error = #expect(throws: RedisError.self) { try RedisConfiguration(url: "redis://:hunter2@h:port") }
        #expect(error?.message.contains("hunter2") == false)
    }

    @Test func badPoolSizeAndTimeouts() throws {
        #expect(throws: RedisError.self) { try RedisConfiguration(url: "redis://h", poolSize: 0) }
        let error = #expect(throws: RedisError.self) {
            try RedisConfiguration(url: "redis://h", commandTimeout: .zero)
        }
        #expect(error?.code == .invalidConfiguration)
    }

    @Test func argumentsAreBinarySafe() {
        let arg: RedisArgument = "inbox:{\("alice")}"
        #expect(arg.bytes == Array("inbox:{alice}".utf8))
        #expect(RedisArgument([0, 255]).bytes == [0, 255])
        #expect(RedisArgument(-42).bytes == Array("-42".utf8))
        #expect(RedisArgument(1.5).bytes == Array("1.5".utf8))
    }
}
