import Foundation
import ParleyProtocol
import Testing

/// Secrets as compose and Kubernetes mount them (`/run/secrets/...`), for loading configurations
/// on the test host: each mounted path becomes a temporary file holding a password.
struct SecretMounts {
    let folder: URL

    init() throws { folder = try temporaryFolder("secrets") }

    /// `environment` with every `/run/secrets/<name>` value pointing at a file of this folder.
    func mounted(_ environment: [String: String]) -> [String: String] {
        environment.mapValues { value in
            guard value.hasPrefix("/run/secrets/") else { return value }
            let file = folder.appendingPathComponent(String(value.dropFirst("/run/secrets/".count)))
            try? FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            try? "test-password\n".write(to: file, atomically: true, encoding: .utf8)
            return file.path
        }
    }

    func remove() { try? FileManager.default.removeItem(at: folder) }
}

/// Trust inside the network in compose/compose.yaml: two networks, one Kafka (SASL/SCRAM) and one
/// Redis (ACL) user per service, every password a secret file.
@Suite("compose: networks and credentials")
struct ComposeTrustTests {
    let compose: ComposeFile
    let services: [String: ComposeService]

    init() throws {
        compose = try ComposeFile(ComposeFile.mainPath)
        services = compose.services
    }

    @Test("nginx and ws-edge alone on the edge network; ws-edge, Kafka, Redis, the services and the job on the backend network")
    func networks() throws {
        let declared = try #require(compose.root["networks"]?.map, "compose.yaml must declare its networks")
        #expect(Set(declared.keys) == ["edge", "backend"])
        for service in services.values {
            #expect(!service.networks.isEmpty, "\(service.name) must name its networks (the default network would join everything)")
            let isLoadBalancer = service.image?.hasPrefix("nginx") == true
            let isEdge = service.executable?.name == "ws-edge"
            let expected: Set<String> = isLoadBalancer ? ["edge"] : isEdge ? ["edge", "backend"] : ["backend"]
            #expect(Set(service.networks) == expected, "\(service.name) is on \(service.networks), expected \(expected.sorted())")
        }
        #expect(services.values.filter { $0.networks.contains("edge") }.count == 2, "only nginx and ws-edge on the edge network")
    }

    @Test("every Parley service authenticates to Kafka with SASL/SCRAM as its own user, the password a secret it mounts")
    func kafkaUsers() throws {
        let kafka = try #require(services.values.first { $0.image?.hasPrefix("apache/kafka:") == true && !$0.isOneShot })
        let protocols = (kafka.environment["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"] ?? "").split(separator: ",")
            .reduce(into: [String: String]()) { map, pair in
                let parts = pair.split(separator: ":").map(String.init)
                if parts.count == 2 { map[parts[0]] = parts[1] }
            }
        #expect(protocols["INTERNAL"] == "SASL_PLAINTEXT" && protocols["HOST"] == "SASL_PLAINTEXT", "\(protocols)")
        #expect(kafka.environment["KAFKA_LISTENERS"]?.contains("CONTROLLER://127.0.0.1:") == true, "the controller listener is loopback only")
        let mechanism = try #require(kafka.environment["KAFKA_SASL_ENABLED_MECHANISMS"])
        let job = try #require(services.values.first { $0.isOneShot })
        let created = Set((job.environment["KAFKA_SCRAM_USERS"] ?? "").split(separator: " ").map(String.init))
        var users: [String] = []
        for (service, _) in compose.parleyServices {
            let environment = service.environment
            #expect(environment["PARLEY_KAFKA_SECURITY_PROTOCOL"] == "sasl_plaintext", "\(service.name)")
            #expect(environment["PARLEY_KAFKA_SASL_MECHANISM"] == mechanism, "\(service.name) must use the broker's \(mechanism)")
            let user = try #require(environment["PARLEY_KAFKA_SASL_USERNAME"], "\(service.name) has no Kafka user")
            users.append(user)
            #expect(created.contains(user), "the kafka-topics job does not create Kafka user \(user)")
            #expect(environment["PARLEY_KAFKA_SASL_PASSWORD_FILE"] == "/run/secrets/kafka-\(user)", "\(service.name)")
            #expect(service.secrets.contains("kafka-\(user)"), "\(service.name) must mount secret kafka-\(user)")
            #expect(job.secrets.contains("kafka-\(user)"), "the kafka-topics job must mount secret kafka-\(user)")
        }
        #expect(Set(users).count == users.count, "every service has its own Kafka user: \(users)")
        #expect(kafka.secrets.contains("kafka-admin") && job.secrets.contains("kafka-admin"))
    }

    @Test("every Redis service logs in as its own ACL user of redis-users.acl; the default user can only PING")
    func redisUsers() throws {
        let redis = try #require(services.values.first { $0.image?.hasPrefix("redis:") == true })
        let rules = try Repo.read("compose/redis-users.acl").split(separator: "\n")
            .filter { !$0.hasPrefix("#") && !$0.trimmingCharacters(in: .whitespaces).isEmpty }
            .reduce(into: [String: [String]]()) { map, line in
                let words = line.split(separator: " ").map(String.init)
                map[words[0]] = Array(words.dropFirst())
            }
        #expect(rules["default"] == ["resetkeys", "-@all", "+ping"])
        var users: [String] = []
        for (service, executable) in compose.parleyServices where executable.usesRedis {
            let user = try #require(service.environment["PARLEY_REDIS_USER"], "\(service.name) has no Redis user")
            users.append(user)
            let userRules = try #require(rules[user], "redis-users.acl has no user \(user)")
            #expect(userRules.contains("-@dangerous") && userRules.contains("-@all") && userRules.allSatisfy { $0 != "~*" && $0 != "+@all" },
                    "\(user): \(userRules)")
            #expect(service.environment["PARLEY_REDIS_PASSWORD_FILE"] == "/run/secrets/redis-\(user)", "\(service.name)")
            #expect(service.secrets.contains("redis-\(user)") && redis.secrets.contains("redis-\(user)"), "secret redis-\(user)")
        }
        #expect(Set(users).count == users.count && Set(users) == Set(rules.keys).subtracting(["default"]), "\(users) vs \(rules.keys)")
        #expect(redis.command.first == "sh" && redis.command.contains("/parley/redis-start.sh"))
    }

    @Test("make-secrets.sh writes every declared secret file; compose reads them from ./secrets, which git ignores")
    func secretFiles() throws {
        let declared = try #require(compose.root["secrets"]?.map)
        let folder = try temporaryFolder("make-secrets")
        defer { try? FileManager.default.removeItem(at: folder) }
        let script = folder.appendingPathComponent("make-secrets.sh")
        try FileManager.default.copyItem(at: Repo.url("compose/make-secrets.sh"), to: script)
        let result = try runProcess("/bin/bash", [script.path], environment: ["PATH": "/usr/bin:/bin"])
        #expect(result.status == 0, "\(result.output)")
        for (name, secret) in declared {
            #expect(secret["file"]?.string == "./secrets/\(name)", "secret \(name)")
            let written = try String(contentsOf: folder.appendingPathComponent("secrets/\(name)"), encoding: .utf8)
            #expect(written.count >= 32, "make-secrets.sh must write a random password for \(name)")
        }
        let used = Set(services.values.flatMap(\.secrets))
        #expect(used == Set(declared.keys), "declared secrets \(declared.keys.sorted()) vs used \(used.sorted())")
        #expect(try Repo.read("compose/secrets/.gitignore").contains("*"))
    }

    @Test("the topic job logs in as admin and gives every service user its SCRAM credential from the secrets")
    func scramUsers() throws {
        let folder = try temporaryFolder("scram")
        defer { try? FileManager.default.removeItem(at: folder) }
        let log = folder.appendingPathComponent("calls.log")
        for tool in ["kafka-topics.sh", "kafka-configs.sh"] {
            let fake = folder.appendingPathComponent(tool)
            try "#!/usr/bin/env bash\necho \"\(tool) $*\" >> \"\(log.path)\"\nfor a in \"$@\"; do [ \"$p\" = --command-config ] && cat \"$a\" >> \"\(log.path)\"; p=$a; done\n"
                .write(to: fake, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: fake.path)
        }
        for (name, password) in [("admin", "pw-admin"), ("relay", "pw-relay"), ("edge", "pw-edge")] {
            try "\(password)\n".write(to: folder.appendingPathComponent("kafka-\(name)"), atomically: true, encoding: .utf8)
        }
        let environment = ["PATH": "/usr/bin:/bin", "KAFKA_TOPICS": folder.appendingPathComponent("kafka-topics.sh").path,
                           "KAFKA_CONFIGS": folder.appendingPathComponent("kafka-configs.sh").path, "KAFKA_SECRETS": folder.path,
                           "KAFKA_SCRAM_USERS": "relay edge", "PARLEY_KAFKA_BROKERS": "broker:1234"]
        let result = try runProcess("/bin/bash", [Repo.url("compose/create-topics.sh").path], environment: environment)
        #expect(result.status == 0, "\(result.output)")
        let calls = try String(contentsOf: log, encoding: .utf8).split(separator: "\n").map(String.init)
        for (user, password) in [("relay", "pw-relay"), ("edge", "pw-edge")] {
            #expect(calls.contains { $0.hasPrefix("kafka-configs.sh") && $0.contains("--entity-type users --entity-name \(user) ")
                && $0.contains("--add-config SCRAM-SHA-512=[password=\(password)]") }, "no SCRAM credential for \(user): \(calls)")
        }
        let topicCalls = calls.filter { $0.hasPrefix("kafka-topics.sh") }
        #expect(!topicCalls.isEmpty && topicCalls.allSatisfy { $0.contains("--command-config") })
        #expect(calls.contains { $0.contains(#"username="admin" password="pw-admin";"#) }, "the admin logs in with its secret")
        #expect(!result.output.contains("pw-"), "no password in the job's output")
    }
}
