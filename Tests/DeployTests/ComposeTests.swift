import Foundation
import ParleyProtocol
import Testing

/// Static checks of compose/compose.yaml and its dev-login override (no Docker engine needed).
@Suite("compose deployment")
struct ComposeTests {
    let compose: ComposeFile
    let services: [String: ComposeService]

    init() throws {
        compose = try ComposeFile(ComposeFile.mainPath)
        services = compose.services
    }

    @Test("Compose Specification file: no version key, every part present")
    func shape() throws {
        let raw = try ComposeFile(ComposeFile.mainPath, interpolate: false)
        #expect(raw.root["version"] == nil, "compose.yaml must not have the obsolete `version:` key")
        for executable in Executable.all {
            let runners = compose.parleyServices.filter { $0.executable.name == executable.name }
            #expect(runners.count == 1, "exactly one service must run \(executable.name), found \(runners.map(\.service.name))")
        }
        #expect(services.values.contains { $0.image?.hasPrefix("apache/kafka:") == true && !$0.isOneShot }, "a Kafka broker service (apache/kafka)")
        #expect(services.values.contains { $0.image?.hasPrefix("redis:") == true }, "a Redis service")
        #expect(services.values.contains { $0.image?.hasPrefix("nginx") == true }, "an nginx load balancer")
        #expect(services.values.contains { $0.isOneShot }, "a one-shot topic-creation job")
    }

    @Test("every service has an image or a build context whose Dockerfile exists; bind-mount sources exist")
    func imagesAndBuildContexts() {
        for service in services.values {
            #expect(service.image != nil || service.build != nil, "\(service.name): neither image nor build")
            if let build = service.build {
                let context = Repo.normalize("\(compose.folder)/\(build.context)")
                #expect(Repo.isDirectory(context), "\(service.name): build context \(context) does not exist")
                let dockerfile = Repo.normalize("\(context)/\(build.dockerfile)")
                #expect(Repo.exists(dockerfile), "\(service.name): Dockerfile \(dockerfile) does not exist")
            }
            if service.build == nil, let image = service.image {
                #expect(image.contains(":") && !image.hasSuffix(":latest"), "\(service.name): pin the image tag (\(image))")
            }
            for volume in service.volumes where volume.source.hasPrefix(".") || volume.source.hasPrefix("/") {
                let source = Repo.normalize("\(compose.folder)/\(volume.source)")
                #expect(Repo.exists(source), "\(service.name): bind-mount source \(volume.source) does not exist")
            }
        }
    }

    @Test("every service that builds the Parley image runs one of the four executables")
    func parleyImageRunsAnExecutable() {
        for service in services.values where service.build?.dockerfile.hasSuffix("compose/Dockerfile") == true {
            #expect(service.executable != nil,
                    "\(service.name): command \(service.command) is not one of \(Executable.all.map(\.name))")
        }
    }

    @Test("every PARLEY_* variable and --flag a service sets is one its executable accepts")
    func variablesAreAccepted() throws {
        let override = try ComposeFile(ComposeFile.devLoginPath)
        for file in [compose, override] {
            for service in file.services.values {
                let executable = services[service.name]?.executable
                let parleyVariables = service.environment.keys.filter { $0.hasPrefix("PARLEY_") }
                for variable in parleyVariables {
                    if let executable {
                        #expect(executable.variables.contains(variable),
                                "\(file.path): \(service.name) sets \(variable), which \(executable.name) does not accept")
                    } else {
                        #expect(Executable.anyVariables.contains(variable),
                                "\(file.path): \(service.name) sets \(variable), which no Parley executable knows")
                    }
                }
                if let executable {
                    for flag in service.command.dropFirst() where flag.hasPrefix("--") {
                        let name = String(flag.split(separator: "=").first!)
                        #expect(executable.flags.contains(name), "\(file.path): \(service.name) passes \(name), which \(executable.name) does not accept")
                    }
                }
            }
        }
    }

    @Test("each executable loads its configuration from the compose environment (+ the image's ENV)")
    func configurationsLoad() throws {
        let imageEnvironment = try Dockerfile("compose/Dockerfile").runtime?.environment ?? [:]
        let override = try ComposeFile(ComposeFile.devLoginPath)
        let secrets = try SecretMounts()
        defer { secrets.remove() }
        for (service, executable) in compose.parleyServices {
            let environment = secrets.mounted(imageEnvironment.merging(service.environment) { _, new in new })
            #expect(throws: Never.self, "\(service.name) refuses the compose settings") { try executable.load(environment) }
            #expect(environment["PARLEY_ADMIN_HOST"] == "0.0.0.0", "\(service.name)'s admin port must listen on 0.0.0.0 in a container")
            if executable.httpPort(environment) != nil {
                #expect(environment["PARLEY_HTTP_HOST"] == "0.0.0.0", "\(service.name) must listen on 0.0.0.0 in a container")
            }
            if let extra = override.services[service.name] {
                let merged = environment.merging(extra.environment) { _, new in new }
                #expect(throws: Never.self, "\(service.name) refuses the dev-login settings") { try executable.load(merged) }
            }
        }
    }

    @Test("PARLEY_JWT_SECRET is required; dev login is off unless the override turns it on")
    func secretsAndDevLogin() throws {
        #expect(throws: ComposeInterpolation.MissingVariable.self, "compose.yaml must fail without PARLEY_JWT_SECRET") {
            _ = try ComposeFile(ComposeFile.mainPath, environment: [:])
        }
        let edge = try #require(compose.parleyServices.first { $0.executable.name == "ws-edge" }?.service)
        #expect(edge.environment["PARLEY_JWT_SECRET"] == testJWTSecret, "ws-edge must take PARLEY_JWT_SECRET from the environment")
        #expect(["false", "0", "no", "off", nil].contains(edge.environment["PARLEY_DEV_LOGIN"]?.lowercased()), "dev login must be off in compose.yaml")
        let override = try ComposeFile(ComposeFile.devLoginPath)
        for name in override.services.keys {
            #expect(services[name] != nil, "compose.dev-login.yaml overrides unknown service \(name)")
        }
        #expect(["true", "1", "yes", "on"].contains(override.services[edge.name]?.environment["PARLEY_DEV_LOGIN"]?.lowercased()),
                "compose.dev-login.yaml must set PARLEY_DEV_LOGIN=true on \(edge.name)")
    }

    @Test("every long-running service has a healthcheck; Parley services check /readyz on their admin port")
    func healthchecks() throws {
        let runtimePackages = try Dockerfile("compose/Dockerfile").runtime?.aptPackages ?? []
        for service in services.values where !service.isOneShot {
            guard let check = service.healthcheck else {
                Issue.record("\(service.name): no healthcheck")
                continue
            }
            guard let executable = service.executable else { continue }
            let joined = check.joined(separator: " ")
            let port = try #require(executable.adminPort(service.environment))
            #expect(joined.contains(":\(port)/readyz"), "\(service.name): healthcheck must GET /readyz on admin port \(port): \(joined)")
            let tool = check.first == "sh" || check.first == "bash" ? "" : check.first ?? ""
            if tool == "curl" || tool == "wget" {
                #expect(runtimePackages.contains(tool), "\(service.name): healthcheck uses \(tool), which the runtime image does not install")
            }
        }
    }

    @Test("depends_on: conditions present, matching healthchecks and one-shot jobs, in dependency order")
    func dependencies() throws {
        for service in services.values {
            for (dependency, condition) in service.dependsOn {
                guard let target = services[dependency] else {
                    Issue.record("\(service.name) depends on unknown service \(dependency)")
                    continue
                }
                switch condition {
                case "service_healthy":
                    #expect(target.healthcheck != nil, "\(service.name) waits for \(dependency) to be healthy, but it has no healthcheck")
                case "service_completed_successfully":
                    #expect(target.isOneShot, "\(service.name) waits for \(dependency) to complete, but it is not a one-shot job")
                default:
                    Issue.record("\(service.name) → \(dependency): use condition service_healthy or service_completed_successfully, not \(condition)")
                }
            }
        }
        let kafka = try #require(services.values.first { $0.image?.hasPrefix("apache/kafka:") == true && !$0.isOneShot })
        let redis = try #require(services.values.first { $0.image?.hasPrefix("redis:") == true })
        let topicJob = try #require(services.values.first { $0.isOneShot })
        #expect(topicJob.dependsOn[kafka.name] == "service_healthy", "\(topicJob.name) must wait for a healthy \(kafka.name)")
        for (service, executable) in compose.parleyServices {
            #expect(service.dependsOn[topicJob.name] == "service_completed_successfully", "\(service.name) must wait for \(topicJob.name)")
            #expect(closure(of: service.name).contains(kafka.name), "\(service.name) must (transitively) wait for \(kafka.name)")
            if executable.usesRedis {
                #expect(service.dependsOn[redis.name] == "service_healthy", "\(service.name) uses Redis and must wait for a healthy \(redis.name)")
            }
        }
        let edge = try #require(compose.parleyServices.first { $0.executable.name == "ws-edge" }?.service)
        for (service, _) in compose.parleyServices where service.name != edge.name {
            #expect(edge.dependsOn[service.name] == "service_healthy", "\(edge.name) must start after \(service.name) is healthy")
        }
        let balancer = try #require(services.values.first { $0.image?.hasPrefix("nginx") == true })
        #expect(balancer.dependsOn[edge.name] == "service_healthy", "the load balancer must wait for a healthy \(edge.name)")
        for name in services.keys {
            #expect(!closure(of: name).contains(name), "dependency cycle through \(name)")
        }
    }

    /// Every service `name` waits for, directly or through others.
    private func closure(of name: String) -> Set<String> {
        var seen: Set<String> = []
        var queue = services[name].map { Array($0.dependsOn.keys) } ?? []
        while let next = queue.popLast() {
            guard seen.insert(next).inserted else { continue }
            queue.append(contentsOf: services[next]?.dependsOn.keys.map { $0 } ?? [])
        }
        return seen
    }

    @Test("published host ports do not collide; Kafka and Redis are on 127.0.0.1 for `swift run`")
    func publishedPorts() throws {
        var owners: [Int: String] = [:]
        for service in services.values {
            for port in service.publishedPorts {
                if let owner = owners[port.published] {
                    Issue.record("host port \(port.published) is published by both \(owner) and \(service.name)")
                }
                owners[port.published] = service.name
            }
        }
        let kafka = try #require(services.values.first { $0.image?.hasPrefix("apache/kafka:") == true && !$0.isOneShot })
        #expect(kafka.publishedPorts.contains { $0.host == "127.0.0.1" && $0.published == 9092 }, "Kafka's host listener must be published on 127.0.0.1:9092")
        let redis = try #require(services.values.first { $0.image?.hasPrefix("redis:") == true })
        #expect(redis.publishedPorts.contains { $0.host == "127.0.0.1" && $0.published == 6379 }, "Redis must be published on 127.0.0.1:6379")
    }

    @Test("the Parley services scale: no host port, no container_name, no fixed hostname or edge id")
    func scalable() {
        for (service, executable) in compose.parleyServices {
            #expect(service.publishedPorts.isEmpty, "\(service.name) publishes a host port: `--scale \(service.name)=N` would collide")
            #expect(service.containerName == nil, "\(service.name) sets container_name: it could not be scaled")
            #expect(service.value["hostname"] == nil, "\(service.name) sets a hostname: replicas would share it")
            if executable.name == "ws-edge" {
                #expect(service.environment["PARLEY_EDGE_ID"] == nil, "ws-edge replicas need distinct edge ids: leave PARLEY_EDGE_ID unset (derived from the hostname)")
            }
        }
    }

    @Test("Kafka: KRaft, no ZooKeeper, a librdkafka-2.3-compatible version, listeners the services use")
    func kafka() throws {
        let kafka = try #require(services.values.first { $0.image?.hasPrefix("apache/kafka:") == true && !$0.isOneShot })
        let version = String(kafka.image!.dropFirst("apache/kafka:".count)).split(separator: ".").compactMap { Int($0) }
        let supported = version.count >= 2 && ((version[0] == 3 && version[1] == 9) || (version[0] == 4 && version[1] >= 1) || version[0] > 4)
        #expect(supported, "Kafka \(kafka.image!): use 3.9.x (librdkafka 2.3 cannot join groups on 4.0.0) or >= 4.1")
        #expect(!services.keys.contains { $0.lowercased().contains("zookeeper") }, "no ZooKeeper")
        let environment = kafka.environment
        #expect(environment.keys.allSatisfy { !$0.contains("ZOOKEEPER") }, "no ZooKeeper settings")
        #expect(environment["KAFKA_PROCESS_ROLES"]?.contains("controller") == true, "KRaft: KAFKA_PROCESS_ROLES must include controller")
        #expect(environment["CLUSTER_ID"]?.isEmpty == false, "KRaft in apache/kafka needs CLUSTER_ID")
        #expect(environment["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false", "topics must be created explicitly")
        let advertised = (environment["KAFKA_ADVERTISED_LISTENERS"] ?? "").split(separator: ",").map { $0.split(separator: "/").last.map(String.init) ?? "" }
        #expect(advertised.contains("127.0.0.1:9092"), "the host listener must advertise 127.0.0.1:9092")
        for (service, _) in compose.parleyServices {
            for broker in (service.environment["PARLEY_KAFKA_BROKERS"] ?? "").split(separator: ",") {
                #expect(advertised.contains(String(broker)), "\(service.name) uses broker \(broker), which Kafka does not advertise (\(advertised))")
            }
        }
        if let volume = kafka.volumes.first(where: { $0.target == environment["KAFKA_LOG_DIRS"] }) {
            #expect(compose.root["volumes"]?[volume.source] != nil, "Kafka's data must be on a declared named volume")
        } else {
            Issue.record("Kafka's KAFKA_LOG_DIRS must be on a volume")
        }
    }

    @Test("Redis 7 with AOF persistence on a named volume, reachable at the services' PARLEY_REDIS_URL")
    func redis() throws {
        let redis = try #require(services.values.first { $0.image?.hasPrefix("redis:") == true })
        #expect(redis.image?.hasPrefix("redis:7") == true, "Redis 7 (\(redis.image ?? ""))")
        let command = redis.command
        let appendOnly = command.firstIndex(of: "--appendonly").map { command.indices.contains($0 + 1) && command[$0 + 1] == "yes" } ?? false
        #expect(appendOnly, "Redis must run with --appendonly yes")
        let data = try #require(redis.volumes.first { $0.target == "/data" }, "Redis /data must be on a volume")
        #expect(compose.root["volumes"]?[data.source] != nil, "Redis /data must be a declared named volume, not \(data.source)")
        for (service, executable) in compose.parleyServices where executable.usesRedis {
            let url = service.environment["PARLEY_REDIS_URL"] ?? ""
            #expect(url.hasPrefix("redis://\(redis.name):") || url == "redis://\(redis.name)", "\(service.name) must reach Redis at redis://\(redis.name):6379, not \(url)")
        }
    }

    @Test("the topic job creates every shared topic with the prefix, partitions and a retention")
    func topicJob() throws {
        let job = try #require(services.values.first { $0.isOneShot })
        let script = try #require(job.volumes.first { $0.source.hasSuffix(".sh") }, "the topic job must mount its script")
        #expect(job.command.contains(script.target), "the topic job must run \(script.target)")
        let scriptPath = Repo.normalize("\(compose.folder)/\(script.source)")

        let folder = try temporaryFolder("topics")
        defer { try? FileManager.default.removeItem(at: folder) }
        let log = folder.appendingPathComponent("calls.log")
        let fake = folder.appendingPathComponent("kafka-topics.sh")
        try "#!/usr/bin/env bash\necho \"$*\" >> \"\(log.path)\"\n".write(to: fake, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: fake.path)
        let environment = ["PATH": "/usr/bin:/bin", "KAFKA_TOPICS": fake.path, "PARLEY_KAFKA_BROKERS": "broker:1234",
                           "PARLEY_TOPIC_PREFIX": "p1.", "PARLEY_TOPIC_PARTITIONS": "7"]
        let result = try runProcess("/bin/bash", [Repo.url(scriptPath).path], environment: environment)
        #expect(result.status == 0, "\(scriptPath) failed: \(result.output)")
        let calls = (try? String(contentsOf: log, encoding: .utf8))?.split(separator: "\n").map(String.init) ?? []
        for topic in Topics(prefix: "p1.").shared {
            let call = calls.first { $0.contains("--topic \(topic) ") }
            #expect(call != nil, "\(scriptPath) does not create \(topic)")
            guard let call else { continue }
            #expect(call.contains("--create") && call.contains("--if-not-exists"), "\(topic): must be an idempotent create")
            #expect(call.contains("--partitions 7"), "\(topic): must use PARLEY_TOPIC_PARTITIONS")
            #expect(call.contains("--bootstrap-server broker:1234"), "\(topic): must use PARLEY_KAFKA_BROKERS")
            #expect(call.contains("retention.ms="), "\(topic): must set a retention")
        }
        #expect(job.environment["PARLEY_TOPIC_PREFIX"] == services.values.first { $0.executable != nil }?.environment["PARLEY_TOPIC_PREFIX"],
                "the topic job and the services must use the same PARLEY_TOPIC_PREFIX")
    }
}
