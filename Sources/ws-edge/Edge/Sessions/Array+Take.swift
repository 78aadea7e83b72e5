extension Array {
    /// Empties the array and returns what it held.
    mutating func take() -> [Element] {
        defer { self = [] }
        return self
    }
}
