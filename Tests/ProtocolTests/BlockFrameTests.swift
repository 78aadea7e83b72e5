import ParleyProtocol
import Testing

@Suite("Block frames and envelopes")
struct BlockFrameTests {
    let limits = ProtocolLimits()

    func decode(_ text: String) throws(ProtocolError) -> ClientFrame {
        try ClientFrame.decode(text.utf8, limits: limits)
    }

    @Test func decodesBlockAndUnblock() throws {
        #expect(try decode(#"{"type":"block","user":"bob"}"#) == .block(.init(user: "bob")))
        #expect(try decode(#"{"type":"unblock","user":"bob","id":"c7"}"#) == .unblock(.init(user: "bob", id: "c7")))
    }

    @Test(arguments: [
        (#"{"type":"block"}"#, ErrorCode.badRequest, nil),
        (#"{"type":"block","user":7}"#, .badRequest, nil),
        (#"{"type":"block","user":"bob smith","id":"c1"}"#, .invalidRecipient, "c1"),
        (#"{"type":"unblock","user":"{x}"}"#, .invalidRecipient, nil),
        (#"{"type":"block","user":"bob","id":""}"#, .badRequest, nil),
    ] as [(String, ErrorCode, String?)])
    func refusesBadBlocks(text: String, code: ErrorCode, clientID: String?) {
        #expect(throws: ProtocolError.self) { try decode(text) }
        do {
            _ = try decode(text)
        } catch {
            #expect(error.code == code && error.clientID == clientID, "\(error) for \(text)")
        }
    }

    @Test func blockOperationRoundTripsAndNamesTheDirectConversation() throws {
        let block = BlockOperation(op: MessageID.make(), blocks: true, by: "zoe", user: "adam", id: "c1", ts: 42)
        #expect(block.conv == "dm:adam:zoe")
        let envelope = InboundEnvelope(block: block, edge: "e1", session: "s1", device: "d1")
        #expect(envelope.conv == block.conv)
        #expect(try Envelope.decode(InboundEnvelope.self, from: Envelope.encode(envelope)) == envelope)
    }

    @Test func rejectedEntryCarriesItsReason() throws {
        let entry = StreamEntry(kind: .rejected, msg: MessageID.make(), conv: "dm:a:b", cseq: 0, id: "c1", code: .quotaExceeded,
                                reason: "send quota: at most 5 deliveries per minute")
        let json = String(decoding: Envelope.encode(entry), as: UTF8.self)
        #expect(json.contains(#""code":"quota_exceeded","reason":"send quota: at most 5 deliveries per minute""#))
        #expect(try Envelope.decode(StreamEntry.self, from: Envelope.encode(entry)) == entry)
    }
}
