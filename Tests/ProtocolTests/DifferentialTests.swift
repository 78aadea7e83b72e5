import Foundation
import ParleyProtocol
import PropertyBased
import Testing

/// Parley's reader walks untrusted bytes through unsafe pointers. These properties compare it,
/// over generated, restyled and mutated documents, with two independent readers: JSONDecoder
/// (through the same table's Codable conformance) and ``StrictJSON`` (RFC 8259 alone).
///
/// For every input: when Parley accepts, the input is JSON and JSONDecoder reads the same
/// value; when Parley refuses valid JSON, it is never for syntax; and when JSONDecoder accepts
/// what Parley refuses, the reason is one of the documented ones (docs/protocol.md, "How
/// envelopes and frames are read"): not JSON (JSONDecoder takes trailing commas, broken numbers
/// and invalid UTF-8 in values it skips, a byte-order mark), a duplicate key, or an integer
/// written with a fraction or exponent.
@Suite("Differential: Parley's reader against JSONDecoder")
struct DifferentialTests {
    @Test func chatMessages() async { await check(WireGen.message, count: 600) }
    @Test func inboundEnvelopes() async { await check(WireGen.inbound, count: 600) }
    @Test func signalEnvelopes() async { await check(WireGen.signal, count: 300) }
    @Test func inboxBatches() async { await check(WireGen.inboxBatch, count: 400) }
    @Test func deliverEnvelopes() async { await check(WireGen.deliver, count: 600) }
    @Test func cursorMoves() async { await check(WireGen.cursorMove, count: 500) }
    @Test func queries() async { await check(WireGen.query, count: 500) }
    @Test func streamEntries() async { await check(WireGen.entry, count: 600) }
    @Test func presenceEvents() async { await check(WireGen.presenceEvent, count: 500) }
    @Test func presenceChanges() async { await check(WireGen.presenceChange, count: 500) }

    func check<T: WireObject & Equatable, Shrinks>(_ values: Generator<T, Shrinks>, count: Int,
                                                   sourceLocation: SourceLocation = #_sourceLocation) async {
        var outcomes: [Outcome: Int] = [:]
        await propertyCheck(count: count, input: WireGen.document(values), perform: { document in
            let canonical = document.fromJSONEncoder ? Array(try JSONEncoder().encode(document.value)) : Envelope.encode(document.value)
            #expect(try Envelope.decode(T.self, from: canonical) == document.value)
            #expect(try JSONDecoder().decode(T.self, from: Data(canonical)) == document.value)

            let tree = try #require(StrictJSON.parse(canonical)?.tree)
            var restyler = Restyler(seed: document.style)
            var bytes = restyler.write(tree)
            for mutation in document.mutations { mutation.apply(to: &bytes) }
            outcomes[compare(T.self, bytes, sourceLocation: sourceLocation), default: 0] += 1
        }, sourceLocation: sourceLocation)
        // The inputs reach every case: a check that only ever saw refusals would prove little.
        #expect(outcomes[.bothRead, default: 0] > count / 8, "\(outcomes)", sourceLocation: sourceLocation)
        #expect(outcomes[.bothRefused, default: 0] > 0, "\(outcomes)", sourceLocation: sourceLocation)
        #expect(outcomes[.notJSON, default: 0] > 0, "\(outcomes)", sourceLocation: sourceLocation)
        #expect(outcomes[.notJSONButFoundationRead, default: 0] > 0, "\(outcomes)", sourceLocation: sourceLocation)
    }
}

/// How Parley's reader and JSONDecoder took one input.
enum Outcome: Hashable {
    case bothRead, bothRefused
    /// Not JSON: both refused.
    case notJSON
    /// Not JSON, which Parley refused and JSONDecoder read.
    case notJSONButFoundationRead
    /// Valid JSON that JSONDecoder read and Parley refused on purpose.
    case duplicateKey, integerWithFraction
    case undocumented
}

/// Decodes `bytes` with Parley's reader and JSONDecoder and checks they agree, or differ only
/// as documented.
@discardableResult
func compare<T: WireObject & Equatable>(_ type: T.Type, _ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) -> Outcome {
    let text = String(decoding: bytes, as: UTF8.self).debugDescription
    let foundation = try? JSONDecoder().decode(T.self, from: Data(bytes))
    let strict = StrictJSON.parse(bytes)
    do {
        let value = try Envelope.decode(T.self, from: bytes)
        #expect(strict != nil, "Parley read what is not JSON: \(text)", sourceLocation: sourceLocation)
        #expect(foundation == value, "JSONDecoder read something else: \(text)", sourceLocation: sourceLocation)
        return .bothRead
    } catch {
        guard let strict else { return foundation == nil ? .notJSON : .notJSONButFoundationRead }
        #expect(error.code != .syntax, "Parley refused valid JSON: \(error) in \(text)", sourceLocation: sourceLocation)
        guard foundation != nil else { return .bothRefused }
        switch error.code {
        case .duplicate:
            #expect(strict.facts.duplicateKeys, "\(error) in \(text)", sourceLocation: sourceLocation)
            return .duplicateKey
        case .shape where error.message.hasSuffix("expected an integer"):
            #expect(strict.facts.nonIntegerNumbers, "\(error) in \(text)", sourceLocation: sourceLocation)
            return .integerWithFraction
        default:
            Issue.record("undocumented difference: Parley refused (\(error)) what JSONDecoder read: \(text)", sourceLocation: sourceLocation)
            return .undocumented
        }
    }
}
