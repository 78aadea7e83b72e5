import Foundation

/// The client token of a request and the WebSocket subprotocol to answer its upgrade with.
///
/// The token is taken from, in this order: `Authorization: Bearer <jwt>`; the subprotocol
/// `parley.token.<jwt>` offered next to `parley.v2` (browsers cannot set headers on a WebSocket,
/// but they can offer subprotocols; the edge answers `parley.v2`, never the token); the `token`
/// query parameter (kept for simple clients; no log of Parley, compose's nginx or the Ingress
/// records query strings).
struct RequestToken: Sendable, Equatable {
    /// The subprotocol the edge answers a WebSocket upgrade with when the client offers it.
    static let subprotocol = "parley.v2"
    /// The prefix of the subprotocol that carries a token.
    static let tokenPrefix = "parley.token."

    let token: String?
    /// `parley.v2` when the client offered it, else nil (the upgrade then names no subprotocol).
    let subprotocol: String?

    /// `protocols`: the values of the request's `Sec-WebSocket-Protocol` fields (each a
    /// comma-separated list); `query`: its `token` query parameter.
    init(authorization: String?, protocols: [String], query: String?) {
        let offered = protocols.flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces) }
        subprotocol = offered.contains(Self.subprotocol) ? Self.subprotocol : nil
        if let authorization, authorization.hasPrefix("Bearer ") {
            token = String(authorization.dropFirst("Bearer ".count))
        } else if let carried = offered.first(where: { $0.hasPrefix(Self.tokenPrefix) }) {
            token = String(carried.dropFirst(Self.tokenPrefix.count))
        } else {
            token = query
        }
    }
}
