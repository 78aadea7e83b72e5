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

    @Test("admission limits default to 5 message requests, 10,000 deliveries a minute and 200,000 a day; 0 lifts each")
    func admissionLimits() throws {
        #expect(try loadConfiguration(RelayConfiguration.self, []).admissionLimits
                == AdmissionLimits(messageRequestLimit: 5, quotas: SendQuotas(perMinute: 10_000, perDay: 200_000)))
        let lifted = try loadConfiguration(RelayConfiguration.self, ["--message-request-limit", "0", "--send-quota-per-minute", "0",
                                                                     "--send-quota-per-day", "0"])
        #expect(lifted.admissionLimits == .none)
    }

    @Test("a send quota below the largest group stops the start, naming the setting")
    func quotaBelowGroupSize() {
        #expect {
            try RelayConfiguration.load(arguments: ["--max-group-members", "50", "--send-quota-per-minute", "49"], environment: [:])
        } throws: { error in
            "\(error)".contains("PARLEY_SEND_QUOTA_PER_MINUTE")
        }
    }
}
