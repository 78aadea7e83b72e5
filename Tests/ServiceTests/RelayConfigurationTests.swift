import ParleyServiceKit
import Relay
import Testing

@Suite("relay-svc configuration")
struct RelayConfigurationTests {
    @Test("the group limits default to 1000 members and 500 groups per user and take flags and variables")
    func groupLimits() throws {
        #expect(try loadConfiguration(RelayConfiguration.self, []).groupLimits == GroupLimits(maxMembers: 1000, maxGroupsPerUser: 500))
        let flags = try loadConfiguration(RelayConfiguration.self, ["--max-group-members", "20", "--max-groups-per-user", "3"])
        #expect(flags.groupLimits == GroupLimits(maxMembers: 20, maxGroupsPerUser: 3))
        let variables = try RelayConfiguration.load(arguments: [], environment: ["PARLEY_MAX_GROUP_MEMBERS": "7", "PARLEY_MAX_GROUPS_PER_USER": "9"])
        guard case .run(let fromVariables) = variables else { Issue.record("help instead of a configuration"); return }
        #expect(fromVariables.groupLimits == GroupLimits(maxMembers: 7, maxGroupsPerUser: 9))
    }

    @Test("out-of-range group limits stop the start", arguments: [["--max-group-members", "0"], ["--max-groups-per-user", "0"]])
    func refused(arguments: [String]) {
        #expect(throws: (any Error).self) { try RelayConfiguration.load(arguments: arguments, environment: [:]) }
    }
}
