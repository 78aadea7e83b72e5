import Offline
import ParleyServiceKit
import Testing

@Suite("offline-svc configuration")
struct OfflineConfigurationTests {
    @Test("the stream settings default to the documented bounds and take flags")
    func streamSettings() throws {
        let defaults = try loadConfiguration(OfflineConfiguration.self, [])
        #expect(defaults.streams == StreamPolicy(maxEntries: 10_000, retention: .seconds(720 * 3600), maxDevices: 16, pageEntries: 200,
                                                 pageBytes: 262_144, maxSubscriptions: 64, maxBytes: 4_194_304))
        #expect(defaults.groupReceiptsMax == 20)
        let set = try loadConfiguration(OfflineConfiguration.self, ["--stream-max-entries", "50", "--stream-retention", "2h", "--max-devices", "4",
                                                                    "--sync-page-entries", "1000", "--sync-page-bytes", "16384",
                                                                    "--max-subscriptions", "3", "--group-receipts-max", "0",
                                                                    "--stream-max-bytes", "65536"])
        #expect(set.streams == StreamPolicy(maxEntries: 50, retention: .seconds(7200), maxDevices: 4, pageEntries: 1000, pageBytes: 16384,
                                            maxSubscriptions: 3, maxBytes: 65536))
        #expect(set.groupReceiptsMax == 0)
        guard case .run(let fromEnvironment) = try OfflineConfiguration.load(arguments: [], environment: [
            "PARLEY_MAX_SUBSCRIPTIONS": "5", "PARLEY_GROUP_RECEIPTS_MAX": "100"]) else {
            Issue.record("no configuration from the environment")
            return
        }
        #expect(fromEnvironment.streams.maxSubscriptions == 5 && fromEnvironment.groupReceiptsMax == 100)
    }

    @Test("out-of-range stream settings stop the start", arguments: [
        ["--stream-retention", "0s"], ["--sync-page-entries", "1001"], ["--max-devices", "0"], ["--sync-page-bytes", "100"],
        ["--max-subscriptions", "0"], ["--group-receipts-max", "-1"], ["--stream-max-bytes", "1000"],
    ])
    func refused(arguments: [String]) {
        #expect(throws: (any Error).self) { try OfflineConfiguration.load(arguments: arguments, environment: [:]) }
    }
}
