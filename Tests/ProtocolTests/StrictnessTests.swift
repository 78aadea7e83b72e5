import Foundation
import ParleyProtocol
import Testing

/// Where Parley's reader and JSONDecoder part ways on purpose (docs/protocol.md, "How envelopes
/// and frames are read"), one example each: JSONDecoder reads these, Parley refuses them. The
/// differential tests check that no other difference exists.
@Suite("Strict reading: the documented differences from JSONDecoder")
struct StrictnessTests {
    static let message = #""msg":"m","conv":"dm:a:b","from":"a","to":"b","body":"x","ts":1"#

    @Test(arguments: [
        ("a trailing comma", #"{\#(message),}"#, WireError.Code.syntax),
        ("a trailing comma in a skipped value", #"{\#(message),"x":[1,]}"#, .syntax),
        ("a number against the grammar in a skipped value", #"{\#(message),"x":-}"#, .syntax),
        ("a leading zero in a skipped value", #"{\#(message),"x":-01}"#, .syntax),
        ("an invalid escape in a skipped string", #"{\#(message),"x":"\q"}"#, .syntax),
        ("a lone surrogate in a skipped string", #"{\#(message),"x":"\ud800"}"#, .syntax),
        ("a raw control character in a skipped string", "{\(message),\"x\":\"\u{1}\"}", .syntax),
        ("a byte-order mark", "\u{FEFF}{\(message)}", .syntax),
        ("a duplicate key (JSONDecoder takes the first)", #"{\#(message),"to":"c"}"#, .duplicate),
        ("an integer written with a fraction", #"{"msg":"m","conv":"dm:a:b","from":"a","to":"b","body":"x","ts":1.0}"#, .shape),
        ("an integer written with an exponent", #"{"msg":"m","conv":"dm:a:b","from":"a","to":"b","body":"x","ts":1e3}"#, .shape),
        ("nesting deeper than 64 levels", #"{\#(message),"x":"# + String(repeating: "[", count: 65) + String(repeating: "]", count: 65) + "}", .syntax),
    ])
    func refusesWhatJSONDecoderReads(_ difference: String, _ json: String, _ code: WireError.Code) throws {
        #expect(throws: Never.self, "JSONDecoder reads \(difference)") { try JSONDecoder().decode(ChatMessage.self, from: Data(json.utf8)) }
        let error = try #require(throws: WireError.self, "Parley refuses \(difference)") { try Envelope.decode(ChatMessage.self, from: Array(json.utf8)) }
        #expect(error.code == code, "\(difference): \(error)")
    }

    @Test func refusesDocumentsThatAreNotUTF8() throws {
        let utf16 = try #require(#"{\#(Self.message)}"#.data(using: .utf16LittleEndian))
        #expect(throws: Never.self) { try JSONDecoder().decode(ChatMessage.self, from: utf16) }
        #expect(throws: WireError.self) { try Envelope.decode(ChatMessage.self, from: Array(utf16)) }
    }

    /// Cases where a strict reader could go either way, and Parley does what JSONDecoder does.
    @Test func agreesWithJSONDecoderOnTheFineCases() throws {
        let documents = [
            #"{"m\u0073g":"m","conv":"dm:a:b","from":"a","to":"b","body":"x","ts":1}"#,  // an escaped key is the key
            #"{\#(Self.message),"ts2":-0,"id":null}"#,
            #"{"msg":"m","conv":"dm:a:b","from":"a","to":"b","body":"x","ts":-0}"#,  // -0 is 0
            #"{"msg":"m","conv":"dm:a:b","from":"a","to":"b","body":"\u0000\/","ts":18446744073709551615}"#,
        ]
        for json in documents {
            let parley = try Envelope.decode(ChatMessage.self, from: Array(json.utf8))
            #expect(parley == (try JSONDecoder().decode(ChatMessage.self, from: Data(json.utf8))), "\(json)")
        }
        let oldest = #"{"v":-9223372036854775808,"kind":"read","user":"u","device":"d","session":"s","edge":"e"}"#
        #expect(try Envelope.decode(CursorMove.self, from: Array(oldest.utf8)).v == Int.min)
    }

    @Test(arguments: [
        "{\"ms\u{1}g\":\"m\"}",  // a control character in a key
        #"{"msg":"m","conv":"dm:a:b","from":"a","to":"b","body":"x","ts":01}"#,
        #"{"msg":"m","conv":"dm:a:b","from":"a","to":"b","body":"x","ts":18446744073709551616}"#,
        #"{"msg":"m","conv":"dm:a:b","from":"a","to":"b","body":"\ud83d","ts":1}"#,
    ])
    func refusesWhatBothRefuse(_ json: String) {
        #expect(throws: (any Error).self) { try JSONDecoder().decode(ChatMessage.self, from: Data(json.utf8)) }
        #expect(throws: WireError.self) { try Envelope.decode(ChatMessage.self, from: Array(json.utf8)) }
    }

    @Test func readsTheVersionAsTheCurrentOneWhenAbsentOrNull() throws {
        #expect(try Envelope.decode(DeliverEnvelope.self, from: Array(#"{"user":"u"}"#.utf8)).v == envelopeVersion)
        #expect(try Envelope.decode(InboundEnvelope.self, from: Array(#"{"v":null,"message":{\#(Self.message)},"edge":"e","session":"s"}"#.utf8)).v
            == envelopeVersion)
        #expect(try JSONDecoder().decode(DeliverEnvelope.self, from: Data(#"{"user":"u"}"#.utf8)).v == envelopeVersion)
    }
}
