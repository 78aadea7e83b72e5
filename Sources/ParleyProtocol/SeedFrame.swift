/// The original tutorial's frame on `GET /read`: `{"user":"<recipient>","msg":"<text>"}`.
public struct SeedFrame: Sendable, Equatable {
    public var user: String
    public var msg: String

    public init(user: String, msg: String) {
        self.user = user
        self.msg = msg
    }

    public static func decode(_ text: some Collection<UInt8>, limits: ProtocolLimits) throws(ProtocolError) -> SeedFrame {
        guard text.count <= limits.maxFrameBytes else { throw ProtocolError(.tooLarge, "frame too large") }
        guard var frame = try? Envelope.decode(SeedFrame.self, from: text) else {
            throw ProtocolError(.badRequest, "expected {\"user\":\"<recipient>\",\"msg\":\"<text>\"}")
        }
        var fields = WireFields(validating: limits)
        fields.validate(wire, &frame)
        if let invalid = fields.invalid { throw invalid }
        return frame
    }
}

extension SeedFrame: WireObject {
    public static var wire: WireTable<SeedFrame> {
        WireTable(SeedFrame(user: "", msg: "")) { s, f in
            f.field("user", &s.user, WireRule { user, _ in
                Identifier.isValid(user) ? nil : ProtocolError(.invalidRecipient, "invalid user")
            })
            f.field("msg", &s.msg, WireRule { msg, limits in
                if msg.isEmpty || msg.utf8.count > limits.maxBodyBytes { return ProtocolError(.tooLarge, "msg must be 1-\(limits.maxBodyBytes) bytes") }
                return ControlCharacters.contained(in: msg) ? ProtocolError(.badRequest, "msg must not contain control characters but newline and tab") : nil
            })
        }
    }
}
