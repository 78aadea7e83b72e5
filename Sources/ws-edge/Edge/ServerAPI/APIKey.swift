import Foundation
import ParleyServiceKit

/// The server API's key, read once at start from `--api-key-file` (a mounted secret).
public struct APIKey: Sendable {
    private let bytes: [UInt8]

    /// Shortest key accepted: guessing must not be an option.
    static let minimumLength = 24

    /// Reads the key (surrounding whitespace, e.g. a final newline, is not part of it).
    init(file: String) throws {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw ConfigurationError("invalid PARLEY_API_KEY_FILE=\(file.debugDescription): cannot read it")
        }
        let key = String(decoding: data, as: UTF8.self).trimmingWhitespace
        guard key.utf8.count >= Self.minimumLength, key.allSatisfy({ $0.isASCII && !$0.isWhitespace }) else {
            throw ConfigurationError("invalid PARLEY_API_KEY_FILE=\(file.debugDescription): the key must be at least \(Self.minimumLength) printable ASCII characters")
        }
        bytes = Array(key.utf8)
    }

    /// Whether an `Authorization` header carries this key as a bearer token; compares in
    /// constant time for keys of the right length.
    func accepts(authorization: String?) -> Bool {
        guard let authorization, authorization.hasPrefix("Bearer ") else { return false }
        let given = Array(authorization.utf8.dropFirst("Bearer ".utf8.count))
        guard given.count == bytes.count else { return false }
        var difference: UInt8 = 0
        for (a, b) in zip(given, bytes) { difference |= a ^ b }
        return difference == 0
    }
}
