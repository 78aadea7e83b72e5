import Admin
import Edge
import Foundation
import Offline
import ParleyServiceKit
import ParleyTestSupport
import Presence
import Relay
import Testing

/// docs/configuration.md lists every setting of every executable with its default, and
/// nothing the executables do not accept.
@Suite("Configuration docs")
struct ConfigurationDocTests {
    let catalogs: [(String, [Setting])] = [
        (EdgeConfiguration.serviceName, EdgeConfiguration.settings),
        (RelayConfiguration.serviceName, RelayConfiguration.settings),
        (PresenceConfiguration.serviceName, PresenceConfiguration.settings),
        (OfflineConfiguration.serviceName, OfflineConfiguration.settings),
        (AdminConfiguration.serviceName, AdminConfiguration.settings),
    ]

    func section(_ service: String) throws -> String {
        let doc = try String(contentsOf: TestEnvironment.projectRoot.appendingPathComponent("docs/configuration.md"), encoding: .utf8)
        let start = try #require(doc.range(of: "\n## \(service)\n"), "docs/configuration.md has no section for \(service)")
        let rest = doc[start.upperBound...]
        return String(rest[..<(rest.range(of: "\n## ")?.lowerBound ?? rest.endIndex)])
    }

    @Test func everySettingIsDocumentedWithItsDefault() throws {
        for (service, settings) in catalogs {
            let text = try section(service)
            for setting in settings {
                let value = setting.defaultValue.map { $0.isEmpty ? "(empty)" : $0 } ?? "(required)"
                let row = "| `\(setting.flag)` | `\(setting.environmentVariable)` | `\(value)` |"
                #expect(text.contains(row), "\(service): docs/configuration.md lacks \(row)")
            }
        }
    }

    @Test func documentsNothingTheExecutablesDoNotAccept() throws {
        for (service, settings) in catalogs {
            let accepted = Set(settings.map(\.environmentVariable))
            let documented = try section(service).split(separator: "\n").compactMap { line -> String? in
                let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
                guard cells.count >= 2, cells[1].hasPrefix("`PARLEY_") else { return nil }
                return cells[1].trimmingCharacters(in: CharacterSet(charactersIn: "`"))
            }
            #expect(!documented.isEmpty)
            for variable in documented {
                #expect(accepted.contains(variable), "\(service) does not accept documented \(variable)")
            }
        }
    }
}
