/// A wire type that is a JSON object: its fields are listed once, in ``wire``, and that one
/// table reads it (``Envelope/decode(_:from:)``), writes it (``Envelope/encode(_:)``),
/// validates it (client frames) and is its `Codable` conformance.
///
/// A table is a closure over a blank value and a ``WireFields`` pass, one line per field:
///
/// ```swift
/// extension HistoryPage: WireObject {
///     public static var wire: WireTable<HistoryPage> {
///         WireTable(HistoryPage(conv: "", messages: [], more: false)) { p, f in
///             f.field("conv", &p.conv)          // required
///             f.field("messages", &p.messages)  // an array of objects with their own table
///             f.field("more", &p.more)
///         }
///     }
/// }
/// ```
public protocol WireObject: WireValue {
    static var wire: WireTable<Self> { get }
}

/// The field table of a ``WireObject``. Only ParleyProtocol makes them.
public struct WireTable<Root>: Sendable {
    /// The value a read starts from; every field is overwritten or the read fails.
    let blank: @Sendable () -> Root
    /// Calls one ``WireFields`` method per field, in wire order.
    let fields: @Sendable (inout Root, inout WireFields) -> Void

    init(_ blank: @autoclosure @escaping @Sendable () -> Root, _ fields: @escaping @Sendable (inout Root, inout WireFields) -> Void) {
        self.blank = blank
        self.fields = fields
    }
}

extension WireObject {
    public static func read(_ fields: inout WireFields) -> Self? { fields.readObject(wire) }

    public static func write(_ value: inout Self, _ fields: inout WireFields) { fields.writeObject(wire, &value) }

    public init(from decoder: any Decoder) throws {
        var fields = WireFields(decoding: try decoder.container(keyedBy: WireKey.self))
        var value = Self.wire.blank()
        Self.wire.fields(&value, &fields)
        if let error = fields.coderError { throw error }
        self = value
    }

    public func encode(to encoder: any Encoder) throws {
        var fields = WireFields(encoding: encoder.container(keyedBy: WireKey.self))
        var value = self
        Self.wire.fields(&value, &fields)
        if let error = fields.coderError { throw error }
    }
}
