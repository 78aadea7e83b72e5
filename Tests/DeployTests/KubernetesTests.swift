import Foundation
import ParleyProtocol
import Testing

/// Static checks of deploy/k8s/*.yaml: they parse, run the four executables with settings the
/// code accepts, probe /readyz and /healthz on the admin port, reference objects that exist in
/// the set, and route the Ingress to ws-edge's public port only.
@Suite("Kubernetes manifests")
struct KubernetesTests {
    static let folder = "deploy/k8s"

    struct Object {
        let file: String
        let value: YAMLValue
        var kind: String { value["kind"]?.string ?? "" }
        var name: String { value["metadata"]?["name"]?.string ?? "" }
    }

    let objects: [Object]

    init() throws {
        var objects: [Object] = []
        for file in Repo.yamlFiles(in: Self.folder) {
            for document in try YAMLValue.parseAll(try Repo.read(file)) where document.map?.isEmpty == false {
                objects.append(Object(file: file, value: document))
            }
        }
        self.objects = objects
    }

    func objects(_ kind: String) -> [Object] { objects.filter { $0.kind == kind } }

    /// A container's environment: ConfigMap envFrom first, then `env` (which wins). Secret and
    /// downward-API values get stand-ins: a test secret and a pod-like name.
    func environment(of container: YAMLValue, file: String) -> [String: String] {
        var environment: [String: String] = [:]
        for source in container["envFrom"]?.list ?? [] {
            if let name = source["configMapRef"]?["name"]?.string {
                guard let map = objects("ConfigMap").first(where: { $0.name == name }) else {
                    Issue.record("\(file): envFrom ConfigMap \(name) is not in \(Self.folder)")
                    continue
                }
                environment.merge(map.value["data"]?.map?.compactMapValues(\.string) ?? [:]) { _, new in new }
            }
        }
        for entry in container["env"]?.list ?? [] {
            guard let name = entry["name"]?.string else { continue }
            if let value = entry["value"]?.string {
                environment[name] = value
            } else if let secret = entry["valueFrom"]?["secretKeyRef"] {
                let secretName = secret["name"]?.string ?? ""
                let key = secret["key"]?.string ?? ""
                let object = objects("Secret").first { $0.name == secretName }
                #expect(object != nil, "\(file): \(name) reads Secret \(secretName), which no manifest in \(Self.folder) describes")
                #expect(object?.value["stringData"]?[key] != nil || object?.value["data"]?[key] != nil, "\(file): Secret \(secretName) has no key \(key)")
                environment[name] = testJWTSecret
            } else if entry["valueFrom"]?["fieldRef"]?["fieldPath"]?.string == "metadata.name" {
                environment[name] = "ws-edge-7d9f8c6b5-x2k4p"
            } else {
                environment[name] = "value-from-cluster"
            }
        }
        return environment
    }

    /// Every (deployment, container, executable) of the set.
    var parleyContainers: [(deployment: Object, container: YAMLValue, executable: Executable)] {
        objects("Deployment").flatMap { deployment in
            (deployment.value["spec"]?["template"]?["spec"]?["containers"]?.list ?? []).compactMap { container in
                container["command"]?.words.first.flatMap(Executable.named).map { (deployment, container, $0) }
            }
        }
    }

    @Test("every manifest parses; objects are named and namespace-less; kustomization lists existing files")
    func manifestsParse() throws {
        #expect(!objects.isEmpty, "no manifests in \(Self.folder)")
        for object in objects {
            #expect(object.value["apiVersion"]?.string?.isEmpty == false, "\(object.file): apiVersion")
            #expect(!object.kind.isEmpty, "\(object.file): kind")
            if object.kind != "Kustomization" {
                #expect(!object.name.isEmpty, "\(object.file): \(object.kind) without metadata.name")
                #expect(object.value["metadata"]?["namespace"] == nil, "\(object.file): \(object.kind) \(object.name) must not set a namespace")
            }
        }
        for kustomization in objects("Kustomization") {
            for resource in kustomization.value["resources"]?.list?.compactMap(\.string) ?? [] {
                #expect(Repo.exists("\(Self.folder)/\(resource)"), "\(kustomization.file): resource \(resource) does not exist")
            }
        }
    }

    @Test("a Deployment runs each of the four executables, with PARLEY_* settings it accepts and loads")
    func deploymentsUseAcceptedSettings() throws {
        for executable in Executable.all {
            #expect(parleyContainers.contains { $0.executable.name == executable.name }, "no Deployment runs \(executable.name)")
        }
        let secrets = try SecretMounts()
        defer { secrets.remove() }
        for (deployment, container, executable) in parleyContainers {
            let environment = secrets.mounted(environment(of: container, file: deployment.file))
            for variable in environment.keys where variable.hasPrefix("PARLEY_") {
                #expect(executable.variables.contains(variable), "\(deployment.file): \(variable) is not a setting of \(executable.name)")
            }
            #expect(throws: Never.self, "\(deployment.file): \(executable.name) refuses its settings") { try executable.load(environment) }
            #expect(environment["PARLEY_ADMIN_HOST"] == "0.0.0.0", "\(deployment.file): \(executable.name)'s admin port must listen on 0.0.0.0")
            if executable.httpPort(environment) != nil {
                #expect(environment["PARLEY_HTTP_HOST"] == "0.0.0.0", "\(deployment.file): \(executable.name) must listen on 0.0.0.0")
            }
            if executable.name == "ws-edge" {
                #expect(environment["PARLEY_JWT_SECRET"] == testJWTSecret, "\(deployment.file): PARLEY_JWT_SECRET must come from a Secret")
                #expect(!["true", "1", "yes", "on"].contains(environment["PARLEY_DEV_LOGIN"]?.lowercased() ?? ""), "\(deployment.file): dev login must be off")
            }
        }
        // Other containers (the topic job) may only use settings some executable knows.
        for object in objects where object.kind == "Job" || object.kind == "CronJob" {
            for container in object.value["spec"]?["template"]?["spec"]?["containers"]?.list ?? [] {
                for variable in environment(of: container, file: object.file).keys where variable.hasPrefix("PARLEY_") {
                    #expect(Executable.anyVariables.contains(variable), "\(object.file): \(variable) is no Parley setting")
                }
            }
        }
    }

    @Test("every process logs in to Kafka (SASL over TLS) and Redis as its own user; the password files are on its mounted Secret")
    func credentials() throws {
        var users: [String] = []
        for (deployment, container, executable) in parleyContainers {
            let environment = environment(of: container, file: deployment.file)
            #expect(environment["PARLEY_KAFKA_SECURITY_PROTOCOL"] == "sasl_ssl", "\(deployment.file)")
            guard let user = environment["PARLEY_KAFKA_SASL_USERNAME"] else {
                Issue.record("\(deployment.file): no Kafka user")
                continue
            }
            users.append(user)
            var files = [environment["PARLEY_KAFKA_SASL_PASSWORD_FILE"]]
            if executable.usesRedis {
                #expect(environment["PARLEY_REDIS_USER"] == user, "\(deployment.file): Redis user")
                files.append(environment["PARLEY_REDIS_PASSWORD_FILE"])
            }
            let mounts = container["volumeMounts"]?.list ?? []
            let volumes = deployment.value["spec"]?["template"]?["spec"]?["volumes"]?.list ?? []
            for file in files {
                let file = try #require(file, "\(deployment.file): a password file setting is missing")
                let mount = mounts.first { file.hasPrefix(($0["mountPath"]?.string ?? "-") + "/") }
                let volume = volumes.first { $0["name"]?.string != nil && $0["name"]?.string == mount?["name"]?.string }
                #expect(volume?["secret"]?["secretName"]?.string == "parley-\(user)-credentials",
                        "\(deployment.file): \(file) must be on a mounted Secret parley-\(user)-credentials")
            }
        }
        #expect(Set(users).count == users.count, "every process has its own Kafka user: \(users)")
    }

    @Test("readiness probes GET /readyz and liveness probes GET /healthz on the executable's admin port")
    func probes() throws {
        for (deployment, container, executable) in parleyContainers {
            let port = try #require(executable.adminPort(environment(of: container, file: deployment.file)))
            let ports = container["ports"]?.list ?? []
            func resolve(_ port: String?) -> Int? {
                guard let port else { return nil }
                if let number = Int(port) { return number }
                return ports.first { $0["name"]?.string == port }?["containerPort"]?.string.flatMap(Int.init)
            }
            for (probe, path) in [("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")] {
                let get = container[probe]?["httpGet"]
                #expect(get?["path"]?.string == path, "\(deployment.file): \(executable.name) \(probe) must GET \(path)")
                #expect(resolve(get?["port"]?.string) == port, "\(deployment.file): \(executable.name) \(probe) must use port \(port)")
            }
            let context = deployment.value["spec"]?["template"]?["spec"]?["securityContext"]
            #expect(context?["runAsNonRoot"]?.string == "true", "\(deployment.file): runAsNonRoot")
        }
    }

    @Test("Services select their Deployments; the Ingress routes to ws-edge's Service")
    func servicesAndIngress() throws {
        for service in objects("Service") {
            let selector = service.value["spec"]?["selector"]?.map?.compactMapValues(\.string) ?? [:]
            let matched = objects("Deployment").first { deployment in
                let labels = deployment.value["spec"]?["template"]?["metadata"]?["labels"]?.map?.compactMapValues(\.string) ?? [:]
                return !selector.isEmpty && selector.allSatisfy { labels[$0.key] == $0.value }
            }
            #expect(matched != nil, "\(service.file): Service \(service.name) selects no Deployment")
        }
        let edge = try #require(parleyContainers.first { $0.executable.name == "ws-edge" })
        let edgeLabels = edge.deployment.value["spec"]?["template"]?["metadata"]?["labels"]?.map?.compactMapValues(\.string) ?? [:]
        let ingresses = objects("Ingress")
        #expect(!ingresses.isEmpty, "an Ingress for the web client and /ws")
        for ingress in ingresses {
            for rule in ingress.value["spec"]?["rules"]?.list ?? [] {
                for path in rule["http"]?["paths"]?.list ?? [] {
                    let backend = path["backend"]?["service"]
                    let name = backend?["name"]?.string ?? ""
                    let service = objects("Service").first { $0.name == name }
                    #expect(service != nil, "\(ingress.file): backend Service \(name) does not exist")
                    let selector = service?.value["spec"]?["selector"]?.map?.compactMapValues(\.string) ?? [:]
                    #expect(selector.allSatisfy { edgeLabels[$0.key] == $0.value } && !selector.isEmpty, "\(ingress.file): the Ingress must route to ws-edge")
                    let ports = service?.value["spec"]?["ports"]?.list ?? []
                    let portName = backend?["port"]?["name"]?.string
                    let portNumber = backend?["port"]?["number"]?.string
                    let known = ports.contains { port in
                        (portName != nil && port["name"]?.string == portName) || (portNumber != nil && port["port"]?.string == portNumber)
                    }
                    #expect(known, "\(ingress.file): backend port is not a port of Service \(name)")
                    let edgeEnvironment = environment(of: edge.container, file: edge.deployment.file)
                    let publicPort = try #require(edge.executable.httpPort(edgeEnvironment))
                    let adminPort = try #require(edge.executable.adminPort(edgeEnvironment))
                    let containerPorts = edge.container["ports"]?.list ?? []
                    func containerPort(_ target: String?) -> Int? {
                        guard let target else { return nil }
                        return Int(target) ?? containerPorts.first { $0["name"]?.string == target }?["containerPort"]?.string.flatMap(Int.init)
                    }
                    // Every port of a Service the Ingress names must lead to the public port: an
                    // admin port there would be one path rule away from the internet.
                    for port in ports {
                        let target = containerPort(port["targetPort"]?.string ?? port["port"]?.string)
                        #expect(target == publicPort && target != adminPort,
                                "\(ingress.file): Service \(name) exposes container port \(target.map(String.init) ?? "?"), not only ws-edge's public port \(publicPort)")
                    }
                }
            }
            let timeout = ingress.value["metadata"]?["annotations"]?["nginx.ingress.kubernetes.io/proxy-read-timeout"]?.string.flatMap(Int.init) ?? 0
            #expect(timeout >= 3600, "\(ingress.file): WebSockets need proxy-read-timeout >= 3600")
        }
    }

    @Test("the topic Job creates every shared topic")
    func topicJob() throws {
        let jobs = objects("Job")
        #expect(!jobs.isEmpty, "a Job that creates the shared topics")
        for job in jobs {
            let script = (job.value["spec"]?["template"]?["spec"]?["containers"]?.list ?? [])
                .flatMap { ($0["command"]?.words ?? []) + ($0["args"]?.list?.compactMap(\.string) ?? []) }.joined(separator: " ")
            for topic in Topics(prefix: "").shared {
                #expect(script.contains(topic), "\(job.file): does not create \(topic)")
            }
        }
    }
}
