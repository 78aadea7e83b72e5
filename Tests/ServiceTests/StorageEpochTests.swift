import ParleyBackend
import ParleyProtocol
import Testing

@Suite("Storage epochs")
struct StorageEpochTests {
    @Test("epochs are 32 lowercase hex digits, and no two are alike, also when made at once")
    func uniqueIdentifiers() async {
        let made = await withTaskGroup(of: [String].self) { group in
            for _ in 0..<8 { group.addTask { (0..<2_000).map { _ in StorageEpoch.make() } } }
            return await group.reduce(into: [String]()) { $0 += $1 }
        }
        #expect(Set(made).count == made.count)
        #expect(made.allSatisfy { $0.utf8.count == 32 && Identifier.isValid($0) && $0.allSatisfy(\.isHexDigit) && $0 == $0.lowercased() })
    }
}
