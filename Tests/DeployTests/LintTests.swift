import Foundation
import Testing

/// hadolint on compose/Dockerfile and shellcheck on scripts/*.sh report nothing (both installed
/// by `scripts/setup.sh test`: hadolint from PyPI into .venv, shellcheck from Debian).
@Suite("lint")
struct LintTests {
    @Test("hadolint finds nothing in compose/Dockerfile")
    func hadolint() throws {
        let hadolint = Repo.url(".venv/bin/hadolint").path
        try #require(FileManager.default.isExecutableFile(atPath: hadolint), "\(hadolint) missing: run scripts/setup.sh test")
        let result = try runProcess(hadolint, ["--no-color", Repo.url("compose/Dockerfile").path])
        #expect(result.status == 0, "hadolint:\n\(result.output)")
    }

    @Test("shellcheck finds nothing in scripts/*.sh")
    func shellcheck() throws {
        let shellcheck = "/usr/bin/shellcheck"
        try #require(FileManager.default.isExecutableFile(atPath: shellcheck), "\(shellcheck) missing: run scripts/setup.sh test")
        let scripts = try FileManager.default.contentsOfDirectory(atPath: Repo.url("scripts").path)
            .filter { $0.hasSuffix(".sh") }.sorted().map { Repo.url("scripts/\($0)").path }
        #expect(scripts.count >= 5, "scripts/*.sh found: \(scripts)")
        let result = try runProcess(shellcheck, scripts)
        #expect(result.status == 0, "shellcheck:\n\(result.output)")
    }
}
