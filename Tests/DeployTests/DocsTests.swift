import Edge
import Foundation
import Offline
import ParleyServiceKit
import Presence
import Relay
import Testing

/// The documents name only things that exist: every flag, `PARLEY_*` variable, metric, file and
/// link they mention is checked against the executables' settings, the sources and the tree, so
/// a rename or a removal that leaves the docs behind fails here.
@Suite("docs")
struct DocsTests {
    static let documents = ["README.md", "docs/architecture.md", "docs/configuration.md", "docs/deploy.md",
                            "docs/protocol.md", "docs/web-client.md", "docs/benchmarks.md",
                            "docs/security.md", "docs/operations.md"]

    static let settings: [Setting] = EdgeConfiguration.settings + RelayConfiguration.settings
        + PresenceConfiguration.settings + OfflineConfiguration.settings

    /// Every run of `pattern` in `text` (the first capture group when there is one).
    static func matches(_ pattern: String, in text: String) -> Set<String> {
        let regex = try! NSRegularExpression(pattern: pattern)
        let range = NSRange(text.startIndex..., in: text)
        return Set(regex.matches(in: text, range: range).compactMap { match in
            Range(match.range(at: match.numberOfRanges > 1 ? 1 : 0), in: text).map { String(text[$0]) }
        })
    }

    /// The text of every file under `folders` whose name ends in one of `endings`.
    static func sources(_ folders: [String], endings: [String]) throws -> String {
        var text = ""
        for folder in folders {
            guard let files = FileManager.default.enumerator(atPath: Repo.url(folder).path) else { continue }
            for case let file as String in files where endings.contains(where: file.hasSuffix) {
                text += try Repo.read("\(folder)/\(file)") + "\n"
            }
        }
        return text
    }

    @Test("docs/deploy.md describes every compose service")
    func composeServices() throws {
        let text = try Repo.read("docs/deploy.md")
        for name in try ComposeFile(ComposeFile.mainPath).services.keys {
            #expect(text.contains("`\(name)`"), "docs/deploy.md does not describe the compose service `\(name)`")
        }
    }

    @Test("every PARLEY_* variable the docs name is a setting or a variable a script reads")
    func variablesExist() throws {
        let scripts = try Self.sources(["scripts", "tests", "Tests", "compose", "deploy", "bench"],
                                       endings: [".sh", ".py", ".swift", ".yaml", ".yml", "Dockerfile"])
        let known = Set(Self.settings.map(\.environmentVariable)).union(Self.matches(#"PARLEY_[A-Z0-9_]+"#, in: scripts))
        for document in Self.documents {
            for variable in Self.matches(#"PARLEY_[A-Z0-9_]+"#, in: try Repo.read(document)) {
                // `PARLEY_*` itself and prefixes written as `PARLEY_KAFKA_…` are prose.
                guard !variable.hasSuffix("_") else { continue }
                #expect(known.contains(variable), "\(document) names \(variable), which nothing reads")
            }
        }
    }

    @Test("every --flag the docs give an executable is one of its settings")
    func flagsExist() throws {
        let flags = Set(Self.settings.map(\.flag))
        let executables = "(?:ws-edge|relay-svc|presence-svc|offline-svc)"
        for document in Self.documents {
            let text = try Repo.read(document)
            // Flags after one of the executables on a command line.
            for line in text.split(separator: "\n") {
                guard let run = line.range(of: "(?:swift run |/)\(executables)\\b", options: .regularExpression) else { continue }
                for flag in Self.matches(#"\s(--[a-z][a-z0-9-]*)"#, in: String(line[run.upperBound...])) where flag != "--help" {
                    #expect(flags.contains(flag), "\(document): \(flag) is not a setting of any executable: \(line)")
                }
            }
        }
    }

    @Test("every parley_ metric the docs name is registered in the sources")
    func metricsExist() throws {
        let sources = try Self.sources(["Sources"], endings: [".swift"])
        let registered = Self.matches(#""(parley_[a-z0-9_]+)""#, in: sources)
        #expect(!registered.isEmpty)
        for document in Self.documents {
            for metric in Self.matches(#"\b(parley_[a-z0-9_]*[a-z0-9])\b(?!\.py)"#, in: try Repo.read(document)) {
                // Prometheus adds _bucket/_sum/_count/_total suffixes to what the code registers.
                let base = metric.replacingOccurrences(of: #"_(bucket|sum|count|total)$"#, with: "", options: .regularExpression)
                #expect(registered.contains(metric) || registered.contains(base) || registered.contains { $0.hasPrefix(metric + "_") },
                        "\(document) names the metric \(metric), which no source registers")
            }
        }
    }

    @Test("every relative link in the docs points at a file that exists")
    func linksResolve() throws {
        for document in Self.documents {
            let folder = (document as NSString).deletingLastPathComponent
            for target in Self.matches(#"\]\(([^)#\s]+)(?:#[^)]*)?\)"#, in: try Repo.read(document)) where !target.contains("://") {
                let path = Repo.normalize(folder.isEmpty ? target : "\(folder)/\(target)")
                #expect(Repo.exists(path), "\(document) links to \(target), which does not exist")
            }
        }
    }
}
