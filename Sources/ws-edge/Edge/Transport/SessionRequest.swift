import Hummingbird
import ParleyProtocol

/// What a WebSocket upgrade asks for: whose session, which protocol (a v2 client names its
/// device), and where its replay starts.
struct SessionRequest: Sendable, Equatable {
    let user: String
    let kind: Session.Kind
    /// The replay follows this `seq` of `epoch` (nil: the device's cursor).
    let since: UInt64?
    let epoch: String?
    /// The subprotocol the upgrade is answered with (see ``RequestToken``).
    var subprotocol: String? = nil

    /// The request of `/ws?device=&since=&epoch=`, or a 400 saying what is wrong with it: `device` is 1–64
    /// of `[A-Za-z0-9_.-]` (absent: a v1 session), `since` a decimal up to 2^53 − 1, `epoch` an
    /// epoch as the server hands it out; `since` and `epoch` need a device.
    static func parse(user: String, device: String?, since: String?, epoch: String?) -> Result<SessionRequest, HTTPError> {
        guard let device else {
            guard since == nil, epoch == nil else { return .failure(HTTPError(.badRequest, message: "since and epoch need a device")) }
            return .success(SessionRequest(user: user, kind: .v1, since: nil, epoch: nil))
        }
        guard Identifier.isValid(device) else { return .failure(HTTPError(.badRequest, message: "device must be 1-64 characters of A-Z a-z 0-9 _ . -")) }
        var after: UInt64?
        if let since {
            guard !since.isEmpty, since.utf8.count <= 16, since.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
                  let value = UInt64(since), value <= ProtocolLimits.maxSequence
            else { return .failure(HTTPError(.badRequest, message: "since must be a decimal seq up to 2^53-1")) }
            after = value
        }
        if let epoch, !Identifier.isValid(epoch) { return .failure(HTTPError(.badRequest, message: "epoch is malformed")) }
        return .success(SessionRequest(user: user, kind: .v2(device: device), since: after, epoch: epoch))
    }
}
