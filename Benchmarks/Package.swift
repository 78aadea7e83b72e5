// swift-tools-version:6.1
// Micro-benchmarks of Parley's hot pure code (ordo-one/benchmark). Run: `make microbench`
// (= scripts/microbench.sh = `swift package benchmark` in this folder). A separate package so
// the benchmark plugin and its malloc interposer never enter the main build.
import PackageDescription

let package = Package(
    name: "ParleyBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(url: "https://github.com/ordo-one/benchmark.git", from: "1.38.1", traits: ["MallocInterposer"]),
        .package(name: "parley", path: ".."),
    ],
    targets: [
        .executableTarget(
            name: "ParleyHotPath",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "ParleyProtocol", package: "parley"),
                .product(name: "ParleyChat", package: "parley"),
            ],
            path: "Benchmarks/ParleyHotPath",
            swiftSettings: [.swiftLanguageMode(.v6)],
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]),
        // Instruction counts under callgrind (callgrind.sh); outside Benchmarks/ so the plugin skips it.
        .executableTarget(
            name: "ParleyWireCounts",
            dependencies: [.product(name: "ParleyProtocol", package: "parley")],
            path: "Tools/ParleyWireCounts",
            swiftSettings: [.swiftLanguageMode(.v6)]),
    ])
