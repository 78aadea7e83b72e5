// A libFuzzer target over ParleyProtocol's readers, the code that walks untrusted bytes through
// unsafe pointers. `make fuzz` (scripts/fuzz.sh) builds it with -sanitize=fuzzer,address and
// PARLEY_FUZZ; a plain build is a replay tool: `swift run ProtocolFuzz <input files>` runs the
// same checks on saved inputs (crash-* files libFuzzer leaves, the seed corpus).
//
// An input's first byte picks the reader, the rest is the document. Besides not crashing,
// whatever a reader accepts must survive a round trip: written again by its table and read
// back, it is the same value, and writing that gives the same bytes.
import ParleyProtocol

#if PARLEY_FUZZ
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    check(UnsafeBufferPointer(start: data, count: size))
    return 0
}
#else
import Foundation

@main
struct Replay {
    static func main() throws {
        for path in CommandLine.arguments.dropFirst() {
            let input = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
            input.withUnsafeBufferPointer(check)
            print("ok \(path)")
        }
    }
}
#endif

func check(_ input: UnsafeBufferPointer<UInt8>) {
    guard let selector = input.first else { return }
    let document = UnsafeBufferPointer(rebasing: input[1...])
    switch selector % 13 {
    case 0: clientFrame(document)
    case 1: _ = try? SeedFrame.decode(document, limits: ProtocolLimits())
    case 2: roundTrip(ChatMessage.self, document)
    case 3: roundTrip(InboundEnvelope.self, document)
    case 4: roundTrip(EnvelopeBatch<InboxEntry>.self, document)
    case 5: roundTrip(EnvelopeBatch<CursorMove>.self, document)
    case 6: roundTrip(EnvelopeBatch<DeliverEnvelope>.self, document)
    case 7: roundTrip(PresenceEvent.self, document)
    case 8: roundTrip(PresenceChange.self, document)
    case 9: roundTrip(QueryEnvelope.self, document)
    case 10: roundTrip(StreamEntry.self, document)
    case 11: roundTrip(SignalEnvelope.self, document)
    default: roundTrip(DeliverEnvelope.self, document)
    }
}

func roundTrip<T: WireObject & Equatable>(_ type: T.Type, _ bytes: UnsafeBufferPointer<UInt8>) {
    guard let value = try? Envelope.decode(T.self, from: bytes) else { return }
    let written = Envelope.encode(value)
    guard let again = try? Envelope.decode(T.self, from: written), again == value else {
        fatalError("\(T.self) read \(value) but not what it wrote for it: \(String(decoding: written, as: UTF8.self))")
    }
    guard Envelope.encode(again) == written else { fatalError("\(T.self) wrote \(again) two ways") }
}

/// A frame read is written again (`"type"` first, then its body's table) and read back.
func clientFrame(_ bytes: UnsafeBufferPointer<UInt8>) {
    let limits = ProtocolLimits()
    guard let frame = try? ClientFrame.decode(bytes, limits: limits) else { return }
    let written: [UInt8] = switch frame {
    case .send(let send): framed("send", Envelope.encode(send))
    case .ack(let ack): framed("ack", Envelope.encode(ack))
    case .read(let read): framed("read", Envelope.encode(read))
    case .sync(let sync): framed("sync", Envelope.encode(sync))
    case .history(let history): framed("history", Envelope.encode(history))
    case .conversations(let conversations): framed("conversations", Envelope.encode(conversations))
    case .ping: Array(#"{"type":"ping"}"#.utf8)
    case .watch(let watch): framed("watch", Envelope.encode(watch))
    case .groupCreate(let create): framed("group_create", Envelope.encode(create))
    case .groupAdd(let change): framed("group_add", Envelope.encode(change))
    case .groupRemove(let change): framed("group_remove", Envelope.encode(change))
    case .groupLeave(let leave): framed("group_leave", Envelope.encode(leave))
    case .members(let members): framed("members", Envelope.encode(members))
    case .typing(let typing): framed("typing", Envelope.encode(typing))
    case .block(let block): framed("block", Envelope.encode(block))
    case .unblock(let block): framed("unblock", Envelope.encode(block))
    }
    guard (try? ClientFrame.decode(written, limits: limits)) == frame else {
        fatalError("read \(frame) but not what it wrote for it: \(String(decoding: written, as: UTF8.self))")
    }
}

func framed(_ type: String, _ body: [UInt8]) -> [UInt8] {
    Array("{\"type\":\"\(type)\",".utf8) + body.dropFirst()
}
