import Foundation
import Testing

/// deploy/monitoring/: the alert rules pass `promtool check rules` and their own `promtool test
/// rules` cases, every dashboard query parses as PromQL, and every `parley_` metric either names
/// is one the sources register.
@Suite("monitoring")
struct MonitoringTests {
    static let rules = "deploy/monitoring/alerts.yml"
    static let ruleTests = "deploy/monitoring/alerts.test.yml"
    static let dashboard = "deploy/monitoring/grafana-dashboard.json"

    /// scripts/setup.sh installs Debian's `prometheus` for `make test`, which brings promtool: a
    /// missing one is a failure, never a skipped check.
    static func promtool() -> String? {
        let found = ["/usr/bin/promtool", "/usr/local/bin/promtool"].first { FileManager.default.isExecutableFile(atPath: $0) }
        if found == nil { Issue.record("promtool is not installed (apt-get install prometheus): deploy/monitoring cannot be checked") }
        return found
    }

    /// Every query of every panel (Grafana's `$__rate_interval` as a fixed window).
    static func dashboardQueries() throws -> [String] {
        let json = try JSONSerialization.jsonObject(with: Data(try Repo.read(dashboard).utf8)) as? [String: Any]
        let panels = try #require(json?["panels"] as? [[String: Any]])
        return panels.flatMap { panel in
            (panel["targets"] as? [[String: Any]] ?? []).compactMap { $0["expr"] as? String }
        }.map { $0.replacingOccurrences(of: "$__rate_interval", with: "5m") }
    }

    @Test("promtool accepts the alert rules and their unit tests pass")
    func rulesCheck() throws {
        guard let promtool = Self.promtool() else { return }
        let check = try runProcess(promtool, ["check", "rules", Repo.url(Self.rules).path])
        #expect(check.status == 0, "promtool check rules:\n\(check.output)")
        let tests = try runProcess(promtool, ["test", "rules", Repo.url(Self.ruleTests).path])
        #expect(tests.status == 0, "promtool test rules:\n\(tests.output)")
    }

    @Test("every dashboard panel has queries, and each parses as PromQL")
    func dashboardQueriesParse() throws {
        guard let promtool = Self.promtool() else { return }
        let queries = try Self.dashboardQueries()
        #expect(queries.count >= 10)
        // promtool parses expressions in rule files: one recording rule per query.
        let rules = queries.enumerated().map { index, query in
            "      - record: parley_dashboard_query_\(index)\n        expr: '\(query.replacingOccurrences(of: "'", with: "''"))'"
        }
        let folder = try temporaryFolder("dashboard")
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("queries.yml")
        try ("groups:\n  - name: dashboard\n    rules:\n" + rules.joined(separator: "\n") + "\n").write(to: file, atomically: true, encoding: .utf8)
        let check = try runProcess(promtool, ["check", "rules", file.path])
        #expect(check.status == 0, "a dashboard query does not parse:\n\(check.output)")
    }

    @Test("every parley_ metric the rules and the dashboard use is registered in the sources")
    func metricsExist() throws {
        let registered = DocsTests.matches(#""(parley_[a-z0-9_]+)""#, in: try DocsTests.sources(["Sources"], endings: [".swift"]))
        let used = DocsTests.matches(#"\b(parley_[a-z0-9_]*[a-z0-9])\b"#, in: try Repo.read(Self.rules))
            .union(DocsTests.matches(#"\b(parley_[a-z0-9_]*[a-z0-9])\b"#, in: try Self.dashboardQueries().joined(separator: "\n")))
        #expect(used.count >= 10)
        for metric in used {
            // A histogram's series add _bucket/_sum/_count to the name the code registers.
            let base = metric.replacingOccurrences(of: #"_(bucket|sum|count)$"#, with: "", options: .regularExpression)
            #expect(registered.contains(metric) || registered.contains(base), "\(metric) is used in deploy/monitoring but no source registers it")
        }
    }
}
