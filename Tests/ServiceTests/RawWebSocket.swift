import ParleyTestSupport

/// A bare WebSocket upgrade over TCP (a ``RawConnection``) that records every byte the server
/// sends, without a WebSocket client library in between: for checking exactly what the edge
/// writes on the wire (e.g. the close frame of a refused session) and for clients no library
/// would be (one that floods control frames and never reads).
final class RawWebSocket: Sendable {
    let connection: RawConnection

    private init(connection: RawConnection) {
        self.connection = connection
    }

    /// Connects to 127.0.0.1:`port` and sends a WebSocket upgrade request for `path`. With
    /// `halfClosure`, the connection stays writable after the server closed its side;
    /// `receiveBuffer` as in ``RawConnection/connect(port:receiveBuffer:halfClosure:)``.
    static func upgrade(port: Int, path: String, headers: [(String, String)] = [], halfClosure: Bool = false,
                        receiveBuffer: Int? = nil) async throws -> RawWebSocket {
        let connection = try await RawConnection.connect(port: port, receiveBuffer: receiveBuffer, halfClosure: halfClosure)
        var request = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
            + "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        for (name, value) in headers { request += "\(name): \(value)\r\n" }
        request += "\r\n"
        try await connection.send(request)
        return RawWebSocket(connection: connection)
    }

    /// Everything received so far.
    var received: [UInt8] { connection.received }
    var isClosed: Bool { connection.isClosed }

    /// The HTTP status of the response, once its status line arrived.
    var status: Int? { connection.status }

    /// The server's WebSocket frames after the 101 response: (opcode, payload). Server frames are
    /// unmasked; payloads here are short (< 126 bytes) or use the 16-bit length.
    var frames: [(opcode: UInt8, payload: [UInt8])] {
        let bytes = received
        guard let end = headerEnd(bytes) else { return [] }
        var index = end
        var frames: [(UInt8, [UInt8])] = []
        while index + 2 <= bytes.count {
            let opcode = bytes[index] & 0x0F
            var length = Int(bytes[index + 1] & 0x7F)
            var start = index + 2
            if length == 126 {
                guard start + 2 <= bytes.count else { break }
                length = Int(bytes[start]) << 8 | Int(bytes[start + 1])
                start += 2
            } else if length == 127 {
                break
            }
            guard start + length <= bytes.count else { break }
            frames.append((opcode, Array(bytes[start..<start + length])))
            index = start + length
        }
        return frames
    }

    /// The close code of the server's close frame, once it arrived.
    var closeCode: UInt16? {
        guard let close = frames.first(where: { $0.opcode == 0x8 }), close.payload.count >= 2 else { return nil }
        return UInt16(close.payload[0]) << 8 | UInt16(close.payload[1])
    }

    /// Sends a text frame (masked, as a client must; shorter than 126 bytes).
    func sendText(_ text: String) async throws {
        try await connection.send(Self.frame(opcode: 0x1, Array(text.utf8)))
    }

    /// A masked client frame of `opcode` (fin set) with a payload shorter than 126 bytes.
    static func frame(opcode: UInt8, _ payload: [UInt8]) -> [UInt8] {
        precondition(payload.count < 126, "a short frame")
        let mask: [UInt8] = (0..<4).map { _ in UInt8.random(in: 0...255) }
        return [0x80 | opcode, 0x80 | UInt8(payload.count)] + mask + payload.enumerated().map { $0.element ^ mask[$0.offset % 4] }
    }

    func close() async {
        await connection.close()
    }

    private func headerEnd(_ bytes: [UInt8]) -> Int? {
        let marker: [UInt8] = [13, 10, 13, 10]
        guard bytes.count >= 4 else { return nil }
        for index in 0...(bytes.count - 4) where Array(bytes[index..<index + 4]) == marker {
            return index + 4
        }
        return nil
    }
}
