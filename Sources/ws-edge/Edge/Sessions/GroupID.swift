import Crypto
import Foundation

/// The conversation id of a new group: `g:` and a name-based UUID (version 5, RFC 9562) of the
/// creator and the create's client id, so a retry of the create (through any edge) names the
/// same group, and two creators never name the same one.
enum GroupID {
    /// The namespace of group ids (fixed: changing it renames every group a retry would create).
    static let namespace = UUID(uuidString: "8f3b6a52-1c4e-4d7a-9b2f-5e0c7d9a3f61")!

    /// The group `creator` creates with client id `clientID`.
    static func derive(creator: String, clientID: String) -> String {
        "g:" + uuid5(namespace: namespace, name: Array("\(creator)\n\(clientID)".utf8)).uuidString.lowercased()
    }

    /// The version 5 UUID of `name` in `namespace`: SHA-1 of both, version and variant bits set.
    static func uuid5(namespace: UUID, name: [UInt8]) -> UUID {
        var hash = Insecure.SHA1()
        withUnsafeBytes(of: namespace.uuid) { hash.update(bufferPointer: $0) }
        hash.update(data: name)
        var bytes = Array(hash.finalize().prefix(16))
        bytes[6] = (bytes[6] & 0x0F) | 0x50
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        return UUID(uuid: bytes.withUnsafeBytes { $0.loadUnaligned(as: uuid_t.self) })
    }
}
