import Foundation
import Testing

/// Static checks of compose/Dockerfile and the build context's .dockerignore.
@Suite("Dockerfile")
struct DockerfileTests {
    static let path = "compose/Dockerfile"
    let dockerfile: Dockerfile

    init() throws { dockerfile = try Dockerfile(Self.path) }

    /// Runtime package names of Ubuntu 24.04 that Debian 12 does not have (the 64-bit time_t
    /// transition's and newer sonames), and Debian 12's librdkafka1, which is 2.0.2.
    static let notDebian12Packages: Set<String> = [
        "librdkafka1", "libhiredis1.1.0", "libssl3t64", "libcurl4t64", "libicu74", "libreadline8t64", "libgnutls30t64",
    ]

    @Test("multi-stage: Swift 6 on Debian 12 to build, Debian 12 to run (what make test-image bootstraps)")
    func stages() throws {
        #expect(dockerfile.stages.count >= 2, "build and runtime stages")
        let build = try #require(dockerfile.stages.first)
        let runtime = try #require(dockerfile.runtime)
        #expect(build.image.hasPrefix("swift:6") && build.image.hasSuffix("-bookworm"), "build stage must be swift:6.x-bookworm, not \(build.image)")
        #expect(runtime.image.hasPrefix("debian:12") || runtime.image.hasPrefix("debian:bookworm"),
                "runtime stage must be Debian 12 (scripts/test-image.sh bootstraps bookworm), not \(runtime.image)")
        #expect(!dockerfile.text.contains("noble") && !dockerfile.text.contains("ubuntu"), "nothing may come from Ubuntu")
    }

    @Test("build stage: -dev packages, librdkafka >= 2.2 from setup.sh's wheel, four executables with a static Swift stdlib and no rpath")
    func buildStage() throws {
        let build = try #require(dockerfile.stages.first)
        let packages = Set(build.aptPackages)
        for package in ["librdkafka-dev", "libhiredis-dev", "pkg-config", "python3-venv", "patchelf"] {
            #expect(packages.contains(package), "build stage must install \(package)")
        }
        let runs = build.all("RUN").joined(separator: "\n")
        #expect(runs.contains("swift build") && runs.contains("-c release"), "release build")
        #expect(runs.contains("--static-swift-stdlib"), "--static-swift-stdlib: the runtime image has no Swift libraries")
        for executable in Executable.all {
            #expect(runs.contains("$bin/\(executable.name)"), "the build stage must copy out \(executable.name)")
        }
        #expect(runs.contains("swift-backtrace-static"), "the build stage must copy out the crash backtracer")
        #expect(build.environment["PARLEY_NO_RPATH"] == "1", "release binaries must not carry the build tree's .parley/lib rpath")
        #expect(try Repo.read("Package.swift").contains("Context.environment[\"PARLEY_NO_RPATH\"] == \"1\""),
                "Package.swift must read PARLEY_NO_RPATH")
        #expect(runs.contains("readelf -d"), "the build stage must refuse binaries with an absolute rpath")
        #expect(runs.contains("2.2.0") && runs.contains("libversion"), "the build stage must refuse a librdkafka older than 2.2.0")
        #expect(runs.contains("patchelf --set-soname librdkafka.so.1"), "ldconfig offers the wheel's librdkafka only under the soname the binaries ask for")
    }

    @Test("the image's librdkafka is the one scripts/setup.sh installs for local runs and tests (same pinned wheel)")
    func librdkafkaPin() throws {
        let build = try #require(dockerfile.stages.first)
        let pin = try #require(build.all("ARG").first { $0.hasPrefix("CONFLUENT_KAFKA=") }?.dropFirst("CONFLUENT_KAFKA=".count),
                               "ARG CONFLUENT_KAFKA=confluent-kafka==<version> in the build stage")
        #expect(try Repo.read("scripts/setup.sh").contains(String(pin)), "scripts/setup.sh must pin the same \(pin)")
        let runtime = try #require(dockerfile.runtime)
        #expect(runtime.all("COPY").contains("--from=build /out/lib/ /usr/local/lib/"), "librdkafka.so.1 must go to /usr/local/lib")
        #expect(runtime.all("RUN").contains { $0.hasPrefix("ldconfig") }, "ldconfig must register /usr/local/lib's librdkafka")
    }

    @Test("runtime stage: only Debian 12 runtime libraries, no Debian librdkafka, a missing-library check, non-root user")
    func runtimeStage() throws {
        let runtime = try #require(dockerfile.runtime)
        let packages = runtime.aptPackages
        #expect(packages.contains("libhiredis0.14"), "runtime must install Debian 12's hiredis (libhiredis0.14)")
        for package in packages {
            #expect(!Self.notDebian12Packages.contains(package), "\(package): not a Debian 12 package Parley can use")
            #expect(!package.hasSuffix("-dev"), "\(package): no -dev packages in the runtime image")
            #expect(!package.contains("/"), "\(package): no packages pinned to another release")
        }
        let runs = runtime.all("RUN").joined(separator: "\n")
        #expect(runs.contains("ldd") && runs.contains("not found"), "the runtime stage must fail on a missing shared library")
        let user = try #require(runtime.all("USER").last, "the runtime stage must switch to a non-root USER")
        let name = String(user.split(separator: ":").first ?? "")
        #expect(name != "root" && name != "0", "USER \(user) is root")
    }

    @Test("a crash prints a symbolicated backtrace: SWIFT_BACKTRACE set, swift-backtrace-static where it points")
    func backtraces() throws {
        let runtime = try #require(dockerfile.runtime)
        let options = try #require(runtime.environment["SWIFT_BACKTRACE"], "ENV SWIFT_BACKTRACE in the runtime stage")
            .split(separator: ",").reduce(into: [String: String]()) { result, option in
                let parts = option.split(separator: "=", maxSplits: 1).map(String.init)
                if parts.count == 2 { result[parts[0]] = parts[1] }
            }
        for (option, value) in ["enable": "yes", "sanitize": "yes", "threads": "all", "images": "mentioned", "interactive": "no"] {
            #expect(options[option] == value, "SWIFT_BACKTRACE needs \(option)=\(value)")
        }
        // The build stage puts it in /out/bin, which the runtime stage copies to /usr/local/bin.
        #expect(options["swift-backtrace"] == "/usr/local/bin/swift-backtrace-static", "swift-backtrace= must name the copied backtracer")
        #expect(runtime.all("COPY").contains("--from=build /out/bin/ /usr/local/bin/"))
    }

    @Test("the web client is in the image where ws-edge looks for it")
    func webRoot() throws {
        let runtime = try #require(dockerfile.runtime)
        let copy = try #require(runtime.all("COPY").first { $0.split(separator: " ").first?.hasPrefix("web") == true }, "COPY web/ into the runtime image")
        let destination = String(copy.split(separator: " ").last ?? "").trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        let workdir = (runtime.all("WORKDIR").last ?? "/").trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        let compose = try ComposeFile(ComposeFile.mainPath)
        let edge = try #require(compose.services.values.first { $0.executable?.name == "ws-edge" })
        let setting = try #require(Executable.named("ws-edge")?.settings.first { $0.name == "web-root" })
        let webRoot = edge.environment[setting.environmentVariable] ?? runtime.environment[setting.environmentVariable] ?? setting.defaultValue ?? ""
        let resolved = webRoot.hasPrefix("/") ? String(webRoot.dropFirst()) : (workdir.isEmpty ? webRoot : "\(workdir)/\(webRoot)")
        #expect(resolved.trimmingCharacters(in: CharacterSet(charactersIn: "/")) == destination,
                "ws-edge's web root \(webRoot) (workdir /\(workdir)) is not where the image copies web/ (/\(destination))")
        #expect(Repo.isDirectory("web"), "web/ exists")
    }

    @Test("the image's PARLEY_* ENV is accepted by all four executables")
    func environment() throws {
        let runtime = try #require(dockerfile.runtime)
        for variable in runtime.environment.keys where variable.hasPrefix("PARLEY_") {
            #expect(Executable.commonVariables.contains(variable), "ENV \(variable) is not a setting of every executable")
        }
        #expect(runtime.environment["PARLEY_ADMIN_HOST"] == "0.0.0.0", "containers' admin ports must listen on 0.0.0.0")
    }

    @Test("COPY sources exist in the context and .dockerignore keeps them while dropping build output")
    func buildContext() throws {
        let ignore = try Repo.read(".dockerignore").split(separator: "\n")
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty && !$0.hasPrefix("#") }
        for needed in ["Package.swift", "Sources", "Tests", "web"] {
            #expect(Repo.exists(needed), "\(needed) exists")
            #expect(!ignore.contains { $0 == needed || $0 == "\(needed)/" || $0 == "*" }, ".dockerignore must not exclude \(needed)")
        }
        for heavy in [".build", ".git", ".venv"] {
            #expect(ignore.contains(heavy), ".dockerignore should exclude \(heavy)")
        }
        for stage in dockerfile.stages {
            for copy in stage.all("COPY") where !copy.hasPrefix("--from") {
                let sources = copy.split(separator: " ").filter { !$0.hasPrefix("--") }.dropLast()
                for source in sources where source != "." {
                    #expect(Repo.exists(String(source)), "COPY \(source): not in the build context")
                }
            }
        }
    }
}
