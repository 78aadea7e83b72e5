import ParleyProtocol
import Testing

@Suite("Client frames")
struct ClientFrameTests {
    let limits = ProtocolLimits()

    func decode(_ text: String) throws(ProtocolError) -> ClientFrame {
        try ClientFrame.decode(text.utf8, limits: limits)
    }

    func error(_ text: String) -> ProtocolError? {
        do {
            _ = try decode(text)
            return nil
        } catch {
            return error
        }
    }

    @Test func decodesEveryType() throws {
        #expect(try decode(#"{"type":"send","id":"c1","to":"bob","body":"hi"}"#) == .send(.init(id: "c1", to: "bob", body: "hi")))
        let msg = MessageID.make()
        #expect(try decode(#"{"type":"ack","msgs":["\#(msg)"]}"#) == .ack(.init(msgs: [msg])))
        #expect(try decode(#"{"type":"ping"}"#) == .ping)
        #expect(try decode(#"{"type":"watch","users":["bob","carol"]}"#) == .watch(.init(users: ["bob", "carol"])))
    }

    @Test func ignoresUnknownFields() throws {
        #expect(try decode(#"{"type":"send","id":"c1","to":"bob","body":"hi","extra":{"x":[1,2]},"v":9}"#)
            == .send(.init(id: "c1", to: "bob", body: "hi")))
    }

    @Test func refusesMalformedFramesWithTheDocumentedCodes() {
        #expect(error("not json")?.code == .badRequest)
        #expect(error("[1,2]")?.code == .badRequest)
        #expect(error(#"{"type":42}"#)?.code == .badRequest)
        #expect(error(#"{"type":"teleport","id":"c9"}"#) == ProtocolError(.unknownType, #"unknown type "teleport""#, clientID: "c9"))
        #expect(error(#"{"type":"send","id":"c1","to":"bob"}"#)?.code == .badRequest)
        #expect(error(#"{"type":"send","id":"c1","to":"bob","body":7}"#)?.clientID == "c1")
        #expect(error(#"{"type":"send","id":"","to":"bob","body":"x"}"#)?.code == .badRequest)
        #expect(error(#"{"type":"send","id":"c1","to":"bob","body":""}"#)?.code == .badRequest)
        #expect(error(#"{"type":"ack","msgs":[]}"#)?.code == .badRequest)
        #expect(error(#"{"type":"ack","msgs":["not-an-id"]}"#)?.code == .badRequest)
    }

    @Test(arguments: ["", "bob smith", "bob/../x", "{alice}", "a:b", "ünï", String(repeating: "a", count: 65), "bob\n", "*"])
    func refusesRecipientsThatCouldBreakKeysOrTopics(_ to: String) {
        let frame = #"{"type":"send","id":"c1","to":"\#(to.replacing("\n", with: "\\n"))","body":"x"}"#
        #expect(error(frame)?.code == .invalidRecipient)
    }

    @Test func enforcesSizeLimits() {
        let body = String(repeating: "é", count: limits.maxBodyBytes / 2 + 1)
        #expect(error(#"{"type":"send","id":"c1","to":"bob","body":"\#(body)"}"#)?.code == .tooLarge)
        let ok = String(repeating: "a", count: limits.maxBodyBytes)
        #expect(error(#"{"type":"send","id":"c1","to":"bob","body":"\#(ok)"}"#) == nil)
        let frame = String(repeating: " ", count: limits.maxFrameBytes + 1)
        #expect(error(frame)?.code == .tooLarge)
        let users = (0...limits.maxWatchUsers).map { "\"u\($0)\"" }.joined(separator: ",")
        #expect(error(#"{"type":"watch","users":[\#(users)]}"#)?.code == .tooLarge)
    }

    @Test func decodesSeedFrames() throws {
        #expect(try SeedFrame.decode(#"{"user":"bob","msg":"hello"}"#.utf8, limits: limits) == SeedFrame(user: "bob", msg: "hello"))
        #expect(throws: ProtocolError.self) { try SeedFrame.decode(#"{"user":"b b","msg":"x"}"#.utf8, limits: limits) }
    }

    @Test func clientIDOfAFrameNotHandled() {
        #expect(ClientFrame.clientID(of: #"{"type":"send","body":"x","id":"c7","to":"bob"}"#.utf8, limits: limits) == "c7")
        #expect(ClientFrame.clientID(of: #"{"type":"group_add","id":"g1","conv":"g:x","members":[{"id":"no"}]}"#.utf8, limits: limits) == "g1")
        #expect(ClientFrame.clientID(of: #"{"type":"ping"}"#.utf8, limits: limits) == nil)
        #expect(ClientFrame.clientID(of: #"{"type":"send","id":7}"#.utf8, limits: limits) == nil, "not a string")
        #expect(ClientFrame.clientID(of: #"{"id":"c1""#.utf8, limits: limits) == nil, "not a whole object")
        #expect(ClientFrame.clientID(of: #"["id","c1"]"#.utf8, limits: limits) == nil)
        let large = #"{"id":"c1","body":""# + String(repeating: "a", count: limits.maxFrameBytes) + #""}"#
        #expect(ClientFrame.clientID(of: large.utf8, limits: limits) == nil, "over the frame limit")
    }
}
