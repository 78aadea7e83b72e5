/// One pass over a wire type's fields. Each type lists its fields once, in its ``WireTable``:
/// a closure that calls ``field(_:_:)`` (or a sibling) once per field, in wire order. What a
/// call does depends on the pass:
/// - read: the table runs once over the object's members in order, each field taking the next
///   member when it has the field's key (what Parley writes reads in this one run); members
///   left over are then read one at a time, the field with that key taking it, and a field
///   never read is missing (required), nil (optional) or its default;
/// - write: appends `"key":value` (an optional only when set, a default unless told to omit it);
/// - validate: applies the fields' ``WireRule``s (client frames, after a successful read);
/// - decode, encode: the type's `Codable` conformance, through any coder.
///
/// The type's members are internal: only ParleyProtocol's tables call them.
public struct WireFields {
    enum Pass {
        /// The first run over an object's members, in order.
        case inOrder
        /// One member (`object.key`), out of order.
        case member
        /// After the object: what was not read.
        case finish
        case write, validate, decode, encode
    }

    /// What one object's pass needs; saved and restored around nested objects.
    struct ObjectState {
        var pass: Pass
        /// The member to read next, when `pending`.
        var key: JSONReader.Key = .raw(UnsafeBufferPointer(start: nil, count: 0))
        var pending = false
        /// The object's closing brace was read.
        var ended = false
        /// Whether a member was read yet (commas).
        var started = false
        /// In-order run: a field passed over a member that was not its own.
        var unresolved = false
        /// The field reading a value, for error messages.
        var name: StaticString = ""
        /// Which field call of the closure this is.
        var ordinal = 0
        /// Member pass: a field took the member.
        var matched = false
        /// One bit per field already read.
        var seen: UInt64 = 0
        /// A frame's `"type"`, which the reader checks (the body's table does not list it).
        var type: StaticString?
        var typeSeen = false
        /// Whether the next written key is the object's first.
        var first = true
    }

    var reader: JSONReader
    var writer: JSONWriter
    var object: ObjectState
    /// Client frames are read leniently: a wrong or missing field is noted in `deferred`, and
    /// reading goes on, so a syntax error later in the frame still wins.
    let lenient: Bool
    let limits: ProtocolLimits
    private(set) var failure: WireError?
    private(set) var deferred: WireError?
    /// The first rule a field broke (validate pass).
    private(set) var invalid: ProtocolError?
    /// The frame's client id as read, for the errors about that frame.
    private(set) var clientID: String?
    private var decoding: KeyedDecodingContainer<WireKey>?
    private var encoding: KeyedEncodingContainer<WireKey>?
    /// Set by the decode pass (and its id checks, EnvelopeIDs.swift).
    var coderError: (any Error)?

    private init(pass: Pass, reader: JSONReader = .empty, writer: JSONWriter = JSONWriter(), lenient: Bool = false,
                 limits: ProtocolLimits = ProtocolLimits()) {
        object = ObjectState(pass: pass)
        self.reader = reader
        self.writer = writer
        self.lenient = lenient
        self.limits = limits
    }

    init(reading reader: JSONReader, lenient: Bool = false, limits: ProtocolLimits = ProtocolLimits()) {
        self.init(pass: .member, reader: reader, lenient: lenient, limits: limits)
    }

    init(validating limits: ProtocolLimits) { self.init(pass: .validate, limits: limits) }

    init(writingCapacity capacity: Int) { self.init(pass: .write, writer: JSONWriter(capacity: capacity)) }

    init(decoding container: KeyedDecodingContainer<WireKey>) {
        self.init(pass: .decode)
        decoding = container
    }

    init(encoding container: KeyedEncodingContainer<WireKey>) {
        self.init(pass: .encode)
        encoding = container
    }

    // MARK: Field kinds (what tables call)

    /// A required field.
    mutating func field<V: WireValue>(_ key: StaticString, _ value: inout V) {
        switch object.pass {
        case .inOrder, .member, .finish:
            switch turn(key) {
            case .read: if let read = readValue(V.self) { value = read }
            case .absent: fail(missing(key))
            case .none: break
            }
        case .write:
            writeKey(key)
            V.write(&value, &self)
        case .validate: break
        case .decode: if let decoded = decode({ try $0.decode(V.self, forKey: WireKey(key)) }) { value = decoded }
        case .encode: encode { try $0.encode(value, forKey: WireKey(key)) }
        }
    }

    /// An optional field: absent or `null` reads as nil; nil is not written.
    mutating func field<V: WireValue>(_ key: StaticString, _ value: inout V?) {
        switch object.pass {
        case .inOrder, .member, .finish:
            switch turn(key) {
            case .read: if reader.readNull() { value = nil } else if let read = readValue(V.self) { value = read }
            case .absent: value = nil
            case .none: break
            }
        case .write:
            guard value != nil else { return }
            writeKey(key)
            V.write(&value!, &self)
        case .validate: break
        case .decode: if let decoded = decode({ try $0.decodeIfPresent(V.self, forKey: WireKey(key)) }) { value = decoded }
        case .encode: encode { try $0.encodeIfPresent(value, forKey: WireKey(key)) }
        }
    }

    /// A field that reads as `defaultValue` when absent or `null`; written always, or only when
    /// it differs from the default if `omittingDefault`.
    mutating func field<V: WireValue & Equatable>(_ key: StaticString, _ value: inout V, default defaultValue: V,
                                                  omittingDefault: Bool = false) {
        switch object.pass {
        case .inOrder, .member, .finish:
            switch turn(key) {
            case .read: if reader.readNull() { value = defaultValue } else if let read = readValue(V.self) { value = read }
            case .absent: value = defaultValue
            case .none: break
            }
        case .write:
            guard !omittingDefault || value != defaultValue else { return }
            writeKey(key)
            V.write(&value, &self)
        case .validate: break
        case .decode: if let decoded = decode({ try $0.decodeIfPresent(V.self, forKey: WireKey(key)) }) { value = decoded ?? defaultValue }
        case .encode:
            guard !omittingDefault || value != defaultValue else { return }
            encode { try $0.encode(value, forKey: WireKey(key)) }
        }
    }

    /// A required field with a rule the validate pass applies.
    mutating func field<V: WireValue>(_ key: StaticString, _ value: inout V, _ rule: WireRule<V>) {
        switch object.pass {
        case .validate:
            guard invalid == nil, let broken = rule.check(value, limits) else { return }
            invalid = broken
            if rule.identifiesClient { clientID = nil }
        case .inOrder, .member:
            guard rule.identifiesClient else { return field(key, &value) }
            switch turn(key) {
            case .read:
                guard let read = readValue(V.self) else { return }
                value = read
                clientID = read as? String
            case .absent: fail(missing(key))
            case .none: break
            }
        default:
            field(key, &value)
        }
    }

    /// An optional field with a rule the validate pass applies when it is present.
    mutating func field<V: WireValue>(_ key: StaticString, _ value: inout V?, _ rule: WireRule<V>) {
        switch object.pass {
        case .validate:
            guard invalid == nil, let present = value, let broken = rule.check(present, limits) else { return }
            invalid = broken
            if rule.identifiesClient { clientID = nil }
        case .inOrder, .member:
            field(key, &value)
            if rule.identifiesClient, let read = value as? String { clientID = read }
        default:
            field(key, &value)
        }
    }

    /// A field that reads as `defaultValue` when absent, with a rule the validate pass applies.
    mutating func field<V: WireValue & Equatable>(_ key: StaticString, _ value: inout V, default defaultValue: V,
                                                  _ rule: WireRule<V>) {
        guard case .validate = object.pass else { return field(key, &value, default: defaultValue) }
        guard invalid == nil, let broken = rule.check(value, limits) else { return }
        invalid = broken
    }

    /// A rule over the whole object (e.g. "one of two fields"), checked in the validate pass
    /// after the fields listed before it.
    mutating func check(_ problem: @autoclosure () -> ProtocolError?) {
        guard case .validate = object.pass, invalid == nil, let broken = problem() else { return }
        invalid = broken
    }

    /// A field whose value is always `text`.
    mutating func constant(_ key: StaticString, _ text: StaticString) {
        switch object.pass {
        case .inOrder, .member, .finish:
            switch turn(key) {
            case .read: if let read = readValue(String.self), !Self.equal(read, text) { fail(expected(text)) }
            case .absent: fail(missing(key))
            case .none: break
            }
        case .write:
            writeKey(key)
            writer.byte(UInt8(ascii: "\""))
            writer.literal(text)
            writer.byte(UInt8(ascii: "\""))
        case .validate: break
        case .decode:
            guard let read = decode({ try $0.decode(String.self, forKey: WireKey(key)) }), !Self.equal(read, text) else { return }
            coderError = DecodingError.dataCorruptedError(forKey: WireKey(key), in: decoding!, debugDescription: "expected \"\(text)\"")
        case .encode: encode { try $0.encode("\(text)", forKey: WireKey(key)) }
        }
    }

    // MARK: Outcomes

    /// Records why a read failed: a lenient read defers everything but syntax errors.
    mutating func fail(_ error: WireError) {
        var error = error
        if error.code == .shape, object.name.utf8CodeUnitCount > 0, !error.message.hasPrefix("\"") {
            error = WireError(.shape, "\"\(object.name)\": \(error.message)", at: error.offset)
        }
        if lenient, error.code != .syntax {
            if deferred == nil { deferred = error }
        } else if failure == nil {
            failure = error
        }
    }

    func missing(_ key: StaticString) -> WireError { WireError(.missing, "missing \"\(key)\"", at: reader.index) }

    func expected(_ text: StaticString) -> WireError { WireError(.shape, "expected \"\(text)\"", at: reader.index) }

    static func equal(_ string: String, _ text: StaticString) -> Bool {
        text.withUTF8Buffer { string.utf8.elementsEqual($0) }
    }

    // MARK: Codable

    private mutating func decode<T>(_ body: (KeyedDecodingContainer<WireKey>) throws -> T) -> T? {
        guard coderError == nil, let decoding else { return nil }
        do {
            return try body(decoding)
        } catch {
            coderError = error
            return nil
        }
    }

    private mutating func encode(_ body: (inout KeyedEncodingContainer<WireKey>) throws -> Void) {
        guard coderError == nil, encoding != nil else { return }
        do { try body(&encoding!) } catch { coderError = error }
    }
}

/// A key of a wire type's `Codable` form.
struct WireKey: CodingKey {
    let stringValue: String
    var intValue: Int? { nil }

    init(_ name: StaticString) { stringValue = "\(name)" }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}
