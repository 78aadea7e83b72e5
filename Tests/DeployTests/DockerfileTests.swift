import Foundation
import Testing

/// Static checks of compose/Dockerfile and the build context's .dockerignore.
@Suite("Dockerfile")
struct DockerfileTests {
    static let path = "compose/Dockerfile"
    let dockerfile: Dockerfile

    init() throws { dockerfile = try Dockerfile(Self.path) }

    /// Runtime package names of Debian 12 that Ubuntu 24.04 does not have (renamed in the
    /// 64-bit time_t transition or a newer soname), plus bookworm's hiredis soname.
    static let debian12OnlyPackages: Set<String> = [
        "libhiredis0.14", "libssl3", "libcurl4", "libicu72", "libreadline8", "libgnutls30",
    ]

    @Test("multi-stage: Swift 6 on Ubuntu noble to build, Ubuntu 24.04 to run; no Debian 12 anywhere")
    func stages() throws {
        #expect(dockerfile.stages.count >= 2, "build and runtime stages")
        let build = try #require(dockerfile.stages.first)
        let runtime = try #require(dockerfile.runtime)
        #expect(build.image.hasPrefix("swift:6") && build.image.contains("noble"), "build stage must be swift:6.x-noble, not \(build.image)")
        #expect(runtime.image == "ubuntu:24.04" || runtime.image.hasPrefix("ubuntu:noble"), "runtime stage must be ubuntu:24.04, not \(runtime.image)")
        for stage in dockerfile.stages {
            #expect(!stage.image.contains("bookworm") && !stage.image.hasPrefix("debian"), "\(stage.image): Debian 12's librdkafka 2.0.2 cannot be used")
        }
        #expect(!dockerfile.text.lowercased().contains("bookworm"), "nothing may come from bookworm (librdkafka 2.0.2)")
    }

    @Test("build stage installs the -dev packages and builds the four executables with a static Swift stdlib")
    func buildStage() throws {
        let build = try #require(dockerfile.stages.first)
        let packages = Set(build.aptPackages)
        for package in ["librdkafka-dev", "libhiredis-dev", "pkg-config"] {
            #expect(packages.contains(package), "build stage must install \(package)")
        }
        let runs = build.all("RUN").joined(separator: "\n")
        #expect(runs.contains("swift build") && runs.contains("-c release"), "release build")
        #expect(runs.contains("--static-swift-stdlib"), "--static-swift-stdlib: the runtime image has no Swift libraries")
        for executable in Executable.all {
            #expect(runs.contains(executable.name), "the build stage must copy out \(executable.name)")
        }
    }

    @Test("runtime stage: only runtime libraries (noble names), librdkafka >= 2.2 guard, non-root user")
    func runtimeStage() throws {
        let runtime = try #require(dockerfile.runtime)
        let packages = runtime.aptPackages
        #expect(packages.contains("librdkafka1"), "runtime must install librdkafka1 (noble: 2.3.0)")
        #expect(packages.contains { $0.hasPrefix("libhiredis1") }, "runtime must install noble's hiredis (libhiredis1.1.0)")
        for package in packages {
            #expect(!Self.debian12OnlyPackages.contains(package), "\(package) is a Debian 12 package name, not Ubuntu 24.04's")
            #expect(!package.hasSuffix("-dev"), "\(package): no -dev packages in the runtime image")
            #expect(!package.contains("/"), "\(package): no packages pinned to another release")
        }
        let runs = runtime.all("RUN").joined(separator: "\n")
        #expect(runs.contains("2.2.0") && runs.contains("librdkafka1"), "the runtime stage must refuse a librdkafka1 older than 2.2.0")
        let user = try #require(runtime.all("USER").last, "the runtime stage must switch to a non-root USER")
        let name = String(user.split(separator: ":").first ?? "")
        #expect(name != "root" && name != "0", "USER \(user) is root")
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
