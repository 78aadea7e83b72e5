import Foundation
import ParleyTestSupport

/// One HTTP/1.1 request written byte for byte (the path exactly as given: no client library
/// normalises `//metrics` or `%6d`), and the response read until the server closes.
struct RawHTTP: Sendable {
    let status: Int
    /// Header names lowercased; the last value of a repeated header.
    let headers: [String: String]
    let body: String

    /// `method path` to 127.0.0.1:`port` with `Host: 127.0.0.1:<port>`, `Connection: close` and `headers`.
    static func request(port: Int, _ path: String, method: String = "GET", headers: [(String, String)] = [],
                        body: String = "") async throws -> RawHTTP {
        let connection = try await RawConnection.connect(port: port)
        var request = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
        for (name, value) in headers { request += "\(name): \(value)\r\n" }
        if !body.isEmpty { request += "Content-Length: \(body.utf8.count)\r\n" }
        request += "\r\n" + body
        try await connection.send(request)
        try await connection.waitForClose("the answer to \(method) \(path)")
        return try parse(connection.text, what: "\(method) \(path)")
    }

    private static func parse(_ text: String, what: String) throws -> RawHTTP {
        guard let end = text.range(of: "\r\n\r\n"), text.hasPrefix("HTTP/1.1 "), let status = Int(text.dropFirst(9).prefix(3)) else {
            throw RawHTTPError(description: "no HTTP response to \(what): \(text.prefix(80).debugDescription)")
        }
        var headers: [String: String] = [:]
        for line in text[..<end.lowerBound].split(separator: "\r\n").dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return RawHTTP(status: status, headers: headers, body: String(text[end.upperBound...]))
    }
}

struct RawHTTPError: Error, CustomStringConvertible {
    let description: String
}
