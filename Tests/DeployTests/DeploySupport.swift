import Edge
import Foundation
import Offline
import ParleyServiceKit
import ParleyTestSupport
import Presence
import Relay
import Yams

// Helpers of the deployment checks: the repository's files, the executables' settings (read from
// the code, never copied), a small YAML value tree with merge keys resolved, Compose variable
// interpolation, and a reader for the Dockerfile.

/// A failed expectation of a helper, with a message that says what is wrong.
struct DeployCheckError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Files of the repository.
enum Repo {
    static let root = TestEnvironment.projectRoot

    static func url(_ path: String) -> URL { root.appendingPathComponent(path) }

    static func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: url(path).path) }

    static func isDirectory(_ path: String) -> Bool {
        var directory: ObjCBool = false
        return FileManager.default.fileExists(atPath: url(path).path, isDirectory: &directory) && directory.boolValue
    }

    static func read(_ path: String) throws -> String {
        guard let text = try? String(contentsOf: url(path), encoding: .utf8) else {
            throw DeployCheckError("cannot read \(path) under \(root.path)")
        }
        return text
    }

    /// `a/b/../c` → `a/c`, relative to the repository root.
    static func normalize(_ path: String) -> String {
        var parts: [Substring] = []
        for part in path.split(separator: "/") {
            switch part {
            case ".": continue
            case "..": if !parts.isEmpty { parts.removeLast() }
            default: parts.append(part)
            }
        }
        return parts.joined(separator: "/")
    }

    /// The `*.yaml` files of a folder, sorted.
    static func yamlFiles(in folder: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: url(folder).path)) ?? []
        return names.filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted().map { "\(folder)/\($0)" }
    }
}

/// A Parley executable as a deployment sees it: its name and the settings its code declares.
struct Executable: Sendable {
    let name: String
    let settings: [Setting]
    /// Runs the executable's own configuration loading (validation included) on an environment.
    let load: @Sendable ([String: String]) throws -> Void

    init<Configuration: ServiceConfiguration>(_ type: Configuration.Type) {
        name = Configuration.serviceName
        settings = Configuration.settings
        load = { environment in _ = try Configuration.load(arguments: [], environment: environment) }
    }

    static let all: [Executable] = [
        Executable(EdgeConfiguration.self), Executable(RelayConfiguration.self),
        Executable(PresenceConfiguration.self), Executable(OfflineConfiguration.self),
    ]

    static func named(_ name: String) -> Executable? {
        let base = name.split(separator: "/").last.map(String.init) ?? name
        return all.first { $0.name == base }
    }

    var variables: Set<String> { Set(settings.map(\.environmentVariable)) }
    var flags: Set<String> { Set(settings.map(\.flag)) }
    var usesRedis: Bool { settings.contains { $0.name == "redis-url" } }

    /// The public HTTP port the executable listens on with this environment (ws-edge only).
    func httpPort(_ environment: [String: String]) -> Int? { port("http-port", environment) }

    /// The admin port (health, readiness, metrics) the executable listens on with this environment.
    func adminPort(_ environment: [String: String]) -> Int? { port("admin-port", environment) }

    private func port(_ name: String, _ environment: [String: String]) -> Int? {
        guard let setting = settings.first(where: { $0.name == name }) else { return nil }
        return Int(environment[setting.environmentVariable] ?? setting.defaultValue ?? "")
    }

    /// Variables every executable accepts.
    static var commonVariables: Set<String> {
        all.dropFirst().reduce(all[0].variables) { $0.intersection($1.variables) }
    }

    /// Variables at least one executable accepts.
    static var anyVariables: Set<String> { all.reduce(Set()) { $0.union($1.variables) } }
}

/// A JWT secret for loading configurations in tests (ws-edge wants >= 32 bytes).
let testJWTSecret = "deploy-tests-secret-0123456789abcdef"

// MARK: - YAML

/// A YAML value with merge keys (`<<`) resolved and aliases followed.
indirect enum YAMLValue: Sendable, Equatable {
    case scalar(String)
    case list([YAMLValue])
    case map([String: YAMLValue])

    /// Parses one YAML document.
    static func parse(_ text: String) throws -> YAMLValue {
        guard let node = try Yams.compose(yaml: text) else { return .map([:]) }
        return convert(node)
    }

    /// Parses every document of a YAML stream.
    static func parseAll(_ text: String) throws -> [YAMLValue] {
        var documents: [YAMLValue] = []
        var sequence = try Yams.compose_all(yaml: text)
        while let node = sequence.next() { documents.append(convert(node)) }
        if let error = sequence.error { throw error }
        return documents
    }

    private static func convert(_ node: Node) -> YAMLValue {
        switch node {
        case .scalar(let scalar):
            return .scalar(scalar.string)
        case .sequence(let sequence):
            return .list(sequence.map(convert))
        case .mapping(let mapping):
            var explicit: [String: YAMLValue] = [:]
            var merged: [String: YAMLValue] = [:]
            for (key, value) in mapping {
                let name = key.string ?? ""
                if name == "<<" {
                    // Earlier sources win over later ones; explicit keys win over all.
                    let sources: [Node] = value.sequence.map { Array($0) } ?? [value]
                    for source in sources.reversed() {
                        if case .map(let pairs) = convert(source) { merged.merge(pairs) { _, new in new } }
                    }
                } else {
                    explicit[name] = convert(value)
                }
            }
            return .map(merged.merging(explicit) { _, new in new })
        case .alias:
            return .scalar("")
        }
    }

    subscript(key: String) -> YAMLValue? {
        if case .map(let pairs) = self { return pairs[key] }
        return nil
    }

    var string: String? {
        if case .scalar(let text) = self { return text }
        return nil
    }

    var list: [YAMLValue]? {
        if case .list(let items) = self { return items }
        return nil
    }

    var map: [String: YAMLValue]? {
        if case .map(let pairs) = self { return pairs }
        return nil
    }

    /// A command-like value: a list of scalars, or a string split at whitespace.
    var words: [String] {
        switch self {
        case .scalar(let text): return text.split(whereSeparator: \.isWhitespace).map(String.init)
        case .list(let items): return items.compactMap(\.string)
        case .map: return []
        }
    }

    /// Applies `transform` to every scalar (Compose interpolates values, not keys).
    func mapScalars(_ transform: (String) throws -> String) rethrows -> YAMLValue {
        switch self {
        case .scalar(let text): return .scalar(try transform(text))
        case .list(let items): return .list(try items.map { try $0.mapScalars(transform) })
        case .map(let pairs): return .map(try pairs.mapValues { try $0.mapScalars(transform) })
        }
    }
}

// MARK: - Compose

/// Compose's variable interpolation: `$NAME`, `${NAME}`, `${NAME:-default}`, `${NAME-default}`,
/// `${NAME:?error}`, `${NAME?error}`, `${NAME:+alt}`, and `$$` for a literal `$`.
enum ComposeInterpolation {
    struct MissingVariable: Error, CustomStringConvertible {
        let name: String
        let message: String
        var description: String { "required variable \(name) is missing: \(message)" }
    }

    static func interpolate(_ text: String, environment: [String: String]) throws -> String {
        var output = ""
        var index = text.startIndex
        while index < text.endIndex {
            let character = text[index]
            guard character == "$" else { output.append(character); index = text.index(after: index); continue }
            let next = text.index(after: index)
            guard next < text.endIndex else { output.append("$"); break }
            if text[next] == "$" { output.append("$"); index = text.index(after: next); continue }
            if text[next] == "{" {
                guard let close = text[next...].firstIndex(of: "}") else { output.append(contentsOf: text[index...]); break }
                output += try expand(String(text[text.index(after: next)..<close]), environment: environment)
                index = text.index(after: close)
                continue
            }
            var end = next
            while end < text.endIndex, text[end].isLetter || text[end].isNumber || text[end] == "_" { end = text.index(after: end) }
            if end == next { output.append("$"); index = next; continue }
            output += environment[String(text[next..<end])] ?? ""
            index = end
        }
        return output
    }

    private static func expand(_ body: String, environment: [String: String]) throws -> String {
        let operators = [":-", ":?", ":+", "-", "?", "+"]
        guard let range = operators.compactMap({ body.range(of: $0) }).min(by: { $0.lowerBound < $1.lowerBound }) else {
            return environment[body] ?? ""
        }
        // Among operators starting at the same place, the two-character one wins.
        let start = range.lowerBound
        let op = operators.first { body[start...].hasPrefix($0) }!
        let name = String(body[..<start])
        let argument = try interpolate(String(body[body.index(start, offsetBy: op.count)...]), environment: environment)
        let value = environment[name]
        let unsetOrEmpty = value?.isEmpty ?? true
        switch op {
        case ":-": return unsetOrEmpty ? argument : value!
        case "-": return value ?? argument
        case ":?": if unsetOrEmpty { throw MissingVariable(name: name, message: argument) }; return value!
        case "?": guard let value else { throw MissingVariable(name: name, message: argument) }; return value
        case ":+": return unsetOrEmpty ? "" : argument
        default: return value == nil ? "" : argument
        }
    }
}

/// A parsed compose file.
struct ComposeFile {
    let path: String
    let root: YAMLValue

    /// Environment used to interpolate compose files in tests: the required secret is set.
    static let testEnvironment = ["PARLEY_JWT_SECRET": testJWTSecret]

    static let mainPath = "compose/compose.yaml"
    static let devLoginPath = "compose/compose.dev-login.yaml"

    init(_ path: String, environment: [String: String] = ComposeFile.testEnvironment, interpolate: Bool = true) throws {
        self.path = path
        let raw = try YAMLValue.parse(try Repo.read(path))
        root = interpolate ? try raw.mapScalars { try ComposeInterpolation.interpolate($0, environment: environment) } : raw
    }

    /// The folder relative paths in the file are resolved against.
    var folder: String { (path as NSString).deletingLastPathComponent }

    var services: [String: ComposeService] {
        (root["services"]?.map ?? [:]).reduce(into: [:]) { result, pair in
            result[pair.key] = ComposeService(name: pair.key, value: pair.value)
        }
    }

    /// The services that run a Parley executable, with it, by service name.
    var parleyServices: [(service: ComposeService, executable: Executable)] {
        services.values.compactMap { service in service.executable.map { (service, $0) } }.sorted { $0.service.name < $1.service.name }
    }
}

/// One service of a compose file.
struct ComposeService {
    let name: String
    let value: YAMLValue

    var image: String? { value["image"]?.string }

    /// Build context and Dockerfile, relative to the compose file's folder.
    var build: (context: String, dockerfile: String)? {
        guard let build = value["build"] else { return nil }
        if let context = build.string { return (context, "Dockerfile") }
        return (build["context"]?.string ?? ".", build["dockerfile"]?.string ?? "Dockerfile")
    }

    var command: [String] { value["command"]?.words ?? [] }

    /// The Parley executable this service runs, from its command.
    var executable: Executable? { command.first.flatMap(Executable.named) }

    var environment: [String: String] {
        switch value["environment"] {
        case .map(let pairs)?: return pairs.compactMapValues(\.string)
        case .list(let items)?:
            return items.compactMap(\.string).reduce(into: [:]) { result, item in
                let parts = item.split(separator: "=", maxSplits: 1)
                result[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
            }
        default: return [:]
        }
    }

    /// `depends_on` as dependency → condition (`service_started` for the short list form).
    var dependsOn: [String: String] {
        switch value["depends_on"] {
        case .list(let items)?: return items.compactMap(\.string).reduce(into: [:]) { $0[$1] = "service_started" }
        case .map(let pairs)?: return pairs.mapValues { $0["condition"]?.string ?? "service_started" }
        default: return [:]
        }
    }

    /// The healthcheck's command words (`CMD`/`CMD-SHELL` removed), nil when absent or disabled.
    var healthcheck: [String]? {
        guard let check = value["healthcheck"], check["disable"]?.string != "true" else { return nil }
        var words = check["test"]?.words ?? []
        if words.first == "NONE" { return nil }
        if words.first == "CMD" || words.first == "CMD-SHELL" { words.removeFirst() }
        return words.isEmpty ? nil : words
    }

    var restart: String? { value["restart"]?.string }

    /// The networks it joins (the list or the map form); none means compose's `default`.
    var networks: [String] {
        switch value["networks"] {
        case .list(let items)?: return items.compactMap(\.string)
        case .map(let pairs)?: return Array(pairs.keys)
        default: return []
        }
    }

    /// The secrets it mounts (short form: `/run/secrets/<name>`).
    var secrets: [String] { (value["secrets"]?.list ?? []).compactMap { $0.string ?? $0["source"]?.string } }

    /// A job that runs once and exits (restart "no" or on-failure).
    var isOneShot: Bool { restart == "no" || restart?.hasPrefix("on-failure") == true }

    var containerName: String? { value["container_name"]?.string }

    /// Host ports this service publishes: (host IP or "", host port, container port).
    var publishedPorts: [(host: String, published: Int, target: Int)] {
        (value["ports"]?.list ?? []).compactMap { entry in
            if let text = entry.string {
                let parts = text.split(separator: "/").first.map { $0.split(separator: ":").map(String.init) } ?? []
                switch parts.count {
                case 3: return Int(parts[1]).flatMap { published in Int(parts[2]).map { ("" + parts[0], published, $0) } }
                case 2: return Int(parts[0]).flatMap { published in Int(parts[1]).map { ("", published, $0) } }
                default: return nil // container port only: not published on a fixed host port
                }
            }
            guard let target = entry["target"]?.string.flatMap(Int.init),
                  let published = entry["published"]?.string.flatMap(Int.init) else { return nil }
            return (entry["host_ip"]?.string ?? "", published, target)
        }
    }

    /// `source:target[:mode]` bind mounts and named volumes: (source, target).
    var volumes: [(source: String, target: String)] {
        (value["volumes"]?.list ?? []).compactMap { entry in
            if let text = entry.string {
                let parts = text.split(separator: ":").map(String.init)
                return parts.count >= 2 ? (parts[0], parts[1]) : nil
            }
            guard let source = entry["source"]?.string, let target = entry["target"]?.string else { return nil }
            return (source, target)
        }
    }
}

// MARK: - Dockerfile

/// A Dockerfile read into stages of instructions (continuation lines joined, comments dropped).
struct Dockerfile {
    struct Instruction {
        let keyword: String
        let arguments: String
    }

    struct Stage {
        let image: String
        let name: String?
        var instructions: [Instruction] = []

        func all(_ keyword: String) -> [String] {
            instructions.filter { $0.keyword == keyword }.map(\.arguments)
        }

        /// Package names after `apt-get install` in this stage's RUN instructions.
        var aptPackages: [String] {
            all("RUN").flatMap { run -> [String] in
                run.components(separatedBy: "&&").flatMap { command -> [String] in
                    let words = command.split(whereSeparator: \.isWhitespace).map(String.init)
                    guard let install = words.firstIndex(of: "install"), words[..<install].contains(where: { $0.hasSuffix("apt-get") || $0 == "apt" })
                    else { return [] }
                    return words[(install + 1)...].prefix { !["|", "||", ";", ">", "2>&1", "\\"].contains($0) }
                        .filter { !$0.hasPrefix("-") }
                }
            }
        }

        /// ENV instructions as name → value (`ENV A=1 B=2` and `ENV A 1`).
        var environment: [String: String] {
            all("ENV").reduce(into: [:]) { result, arguments in
                if arguments.contains("=") {
                    for pair in arguments.split(whereSeparator: \.isWhitespace) {
                        let parts = pair.split(separator: "=", maxSplits: 1)
                        if parts.count == 2 { result[String(parts[0])] = String(parts[1]).trimmingCharacters(in: CharacterSet(charactersIn: "\"")) }
                    }
                } else {
                    let parts = arguments.split(separator: " ", maxSplits: 1)
                    if parts.count == 2 { result[String(parts[0])] = String(parts[1]) }
                }
            }
        }
    }

    let stages: [Stage]
    let text: String

    init(_ path: String) throws {
        text = try Repo.read(path)
        var logical: [String] = []
        var current = ""
        for line in text.components(separatedBy: "\n") {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix("#") { continue }
            if trimmed.hasSuffix("\\") {
                current += trimmed.dropLast() + " "
            } else {
                current += trimmed
                if !current.trimmingCharacters(in: .whitespaces).isEmpty { logical.append(current) }
                current = ""
            }
        }
        var arguments: [String: String] = [:]
        var stages: [Stage] = []
        for line in logical {
            let parts = line.split(separator: " ", maxSplits: 1).map(String.init)
            let keyword = parts[0].uppercased()
            let rest = parts.count > 1 ? parts[1].trimmingCharacters(in: .whitespaces) : ""
            if keyword == "ARG", stages.isEmpty {
                let pair = rest.split(separator: "=", maxSplits: 1).map(String.init)
                if pair.count == 2 { arguments[pair[0]] = pair[1] }
            } else if keyword == "FROM" {
                let words = rest.split(whereSeparator: \.isWhitespace).map(String.init).filter { !$0.hasPrefix("--") }
                var image = words.first ?? ""
                for (name, value) in arguments { image = image.replacingOccurrences(of: "${\(name)}", with: value) }
                let name = words.count >= 3 && words[1].uppercased() == "AS" ? words[2] : nil
                stages.append(Stage(image: image, name: name))
            } else if !stages.isEmpty {
                stages[stages.count - 1].instructions.append(Instruction(keyword: keyword, arguments: rest))
            }
        }
        self.stages = stages
    }

    var runtime: Stage? { stages.last }
}

// MARK: - Processes

/// Runs a program and returns its exit status and combined output.
func runProcess(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let environment { process.environment = environment }
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// A fresh temporary folder.
func temporaryFolder(_ name: String) throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("parley-deploy-\(name)-\(UUID().uuidString.prefix(8))")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}
