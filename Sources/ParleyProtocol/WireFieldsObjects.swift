// How WireFields walks objects and arrays: the read passes over an object's members, writing,
// validating.
extension WireFields {
    /// What the current field does in a read pass.
    enum Turn {
        /// Read the value at the reader: the member is the field's.
        case read
        /// The object has no such member.
        case absent
        case none
    }

    /// Reads one object with `table`. A frame's `"type"` member must be `type` (the body's
    /// table does not list it).
    mutating func readObject<Root>(_ table: WireTable<Root>, type: StaticString? = nil) -> Root? {
        var value = table.blank()
        let outer = object
        defer { object = outer }
        object = ObjectState(pass: .inOrder)
        object.type = type
        guard reading({ (reader: inout JSONReader) throws(WireError) in try reader.enter(UInt8(ascii: "{")) }) != nil else {
            return nil
        }
        table.fields(&value, &self)
        object.pass = .member
        while failure == nil, !object.ended {
            if !object.pending {
                advance()
                if object.ended || failure != nil { break }
            }
            object.pending = false
            object.ordinal = 0
            object.matched = false
            table.fields(&value, &self)
            if !object.matched, failure == nil {
                do { try reader.skipValue() } catch { fail(error) }
            }
        }
        guard failure == nil else { return nil }
        if type != nil, !object.typeSeen { fail(missing("type")) }
        if object.unresolved {
            object.pass = .finish
            object.ordinal = 0
            table.fields(&value, &self)
        }
        return failure == nil ? value : nil
    }

    /// Writes `value` as an object, a frame's `"type"` first.
    mutating func writeObject<Root>(_ table: WireTable<Root>, _ value: inout Root, type: StaticString? = nil) {
        let outerFirst = object.first
        object.first = true
        writer.byte(UInt8(ascii: "{"))
        if let type { constant("type", type) }
        table.fields(&value, &self)
        writer.byte(UInt8(ascii: "}"))
        object.first = outerFirst
    }

    /// Applies the rules of `table`'s fields to `value`.
    mutating func validate<Root>(_ table: WireTable<Root>, _ value: inout Root) {
        let outer = object
        defer { object = outer }
        object = ObjectState(pass: .validate)
        table.fields(&value, &self)
    }

    mutating func readArray<V: WireValue>(of _: V.Type) -> [V]? {
        guard reading({ (reader: inout JSONReader) throws(WireError) in try reader.enter(UInt8(ascii: "[")) }) != nil else {
            return nil
        }
        var items: [V] = []
        var first = true
        while true {
            let more = reading { (reader: inout JSONReader) throws(WireError) in try reader.hasNext(UInt8(ascii: "]"), first: first) }
            guard let more else { return nil }
            guard more else { return items }
            first = false
            guard let item = V.read(&self) else { return nil }
            items.append(item)
        }
    }

    mutating func writeArray<V: WireValue>(_ items: [V]) {
        writer.byte(UInt8(ascii: "["))
        for (index, item) in items.enumerated() {
            if index > 0 { writer.byte(UInt8(ascii: ",")) }
            var item = item
            V.write(&item, &self)
        }
        writer.byte(UInt8(ascii: "]"))
    }

    /// Runs one read of the reader; nil after recording its error.
    mutating func reading<T>(_ read: (inout JSONReader) throws(WireError) -> T) -> T? {
        do {
            return try read(&reader)
        } catch {
            fail(error)
            return nil
        }
    }

    /// Reads a field's value.
    mutating func readValue<V: WireValue>(_: V.Type) -> V? { skippingIfDeferred { V.read(&$0) } }

    /// Runs `read`; in a lenient read, a value that is not what the field takes is skipped
    /// (checked as JSON) after its failure was deferred.
    private mutating func skippingIfDeferred<T>(_ read: (inout WireFields) -> T?) -> T? {
        let start = reader.mark
        if let value = read(&self) { return value }
        if failure == nil {
            reader.reset(to: start)
            do { try reader.skipValue() } catch { fail(error) }
        }
        return nil
    }

    mutating func turn(_ name: StaticString) -> Turn {
        precondition(object.ordinal < 64, "a wire table lists at most 64 fields")
        let bit: UInt64 = 1 &<< UInt64(object.ordinal)
        object.ordinal += 1
        switch object.pass {
        case .inOrder:
            guard failure == nil else { return .none }
            if !object.pending, !object.ended { advance() }
            if object.ended { return .absent }
            guard failure == nil, object.key == name else {
                object.unresolved = true
                return .none
            }
            object.pending = false
            object.seen |= bit
            object.name = name
            return .read
        case .member:
            guard !object.matched, object.key == name else { return .none }
            object.name = name
            guard object.seen & bit == 0 else {
                // Not matched: the member is skipped (a lenient read goes on).
                fail(WireError(.duplicate, "duplicate \"\(name)\"", at: reader.index))
                return .none
            }
            object.matched = true
            object.seen |= bit
            return .read
        default:
            return object.seen & bit == 0 ? .absent : .none
        }
    }

    /// Reads the next member's key, or the object's end; a frame's `"type"` is checked on the way.
    private mutating func advance() {
        do {
            while try reader.hasNext(UInt8(ascii: "}"), first: !object.started) {
                object.started = true
                let key = try reader.readKey()
                if let type = object.type, key == "type" {
                    readType(type)
                    if failure != nil { return }
                    continue
                }
                object.key = key
                object.pending = true
                return
            }
            object.ended = true
        } catch {
            fail(error)
        }
    }

    private mutating func readType(_ type: StaticString) {
        object.name = "type"
        if object.typeSeen { fail(WireError(.duplicate, "duplicate \"type\"", at: reader.index)) }
        object.typeSeen = true
        let read = skippingIfDeferred { fields in
            fields.reading { (reader: inout JSONReader) throws(WireError) in try reader.readStringKey() }
        }
        if let read, !(read == type) { fail(expected(type)) }
    }

    mutating func writeKey(_ key: StaticString) {
        writer.key(key, first: object.first)
        object.first = false
    }
}
