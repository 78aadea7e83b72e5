import Foundation
import HTTPTypes
import Hummingbird
import ParleyProtocol

/// The server API's routes on the admin port, under `/api/v1`, each behind the API key.
/// ``table`` is the one list of them: the router is built from it, and the tests check it
/// against docs/openapi.yaml (docs/operations.md "Server API" has curl examples).
public enum ServerAPIRoutes {
    /// Largest request body accepted.
    static let maxBodyBytes = 1 << 20

    /// Every route as (method, path), with `{name}` path parameters, as docs/openapi.yaml writes them.
    public static var table: [(method: String, path: String)] {
        Operation.allCases.map { ($0.method.rawValue, "/api/v1/\($0.path)") }
    }

    enum Operation: CaseIterable {
        case publish, createGroup, changeMembers, disconnect, presence, stream, history

        var method: HTTPRequest.Method {
            switch self {
            case .publish, .createGroup, .changeMembers, .disconnect: .post
            case .presence, .stream, .history: .get
            }
        }

        var path: String {
            switch self {
            case .publish: "publish"
            case .createGroup: "groups"
            case .changeMembers: "groups/{conv}/members"
            case .disconnect: "users/{user}/disconnect"
            case .presence: "users/{user}/presence"
            case .stream: "users/{user}/stream"
            case .history: "conversations/{conv}/history"
            }
        }

        func run(_ api: ServerAPI, _ request: Request, _ context: BasicRequestContext) async throws -> Response {
            switch self {
            case .publish: try await api.publish(try await object(request))
            case .createGroup: try await api.createGroup(try await object(request))
            case .changeMembers: try await api.changeMembers(conv: try context.parameters.require("conv"), try await object(request))
            case .disconnect: try await api.disconnect(user: try user(context))
            case .presence: try await api.presence(user: try user(context))
            case .stream: try await api.stream(user: try user(context))
            case .history:
                try await api.history(conv: try context.parameters.require("conv"), as: request.uri.queryParameters.get("as"),
                                      before: request.uri.queryParameters.get("before"),
                                      limit: request.uri.queryParameters.get("limit"))
            }
        }
    }

    static func add(to router: Router<BasicRequestContext>, api: ServerAPI) {
        let routes = router.group("api/v1").add(middleware: APIKeyCheck(key: api.key))
        for operation in Operation.allCases {
            routes.on(RouterPath(operation.path), method: operation.method) { request, context in
                try await operation.run(api, request, context)
            }
        }
    }

    /// The request's body as a JSON object.
    private static func object(_ request: Request) async throws -> [String: Any] {
        let body = try await request.body.collect(upTo: maxBodyBytes)
        guard let object = try? JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any] else {
            throw APIError.badRequest("expected a JSON object")
        }
        return object
    }

    private static func user(_ context: BasicRequestContext) throws -> String {
        let user = try context.parameters.require("user")
        guard Identifier.isValid(user) else { throw APIError.badRequest("user must be 1-64 characters of A-Z a-z 0-9 _ . -") }
        return user
    }
}

/// Lets a request through only with the API key (`Authorization: Bearer <key>`); 401 otherwise.
struct APIKeyCheck<Context: RequestContext>: RouterMiddleware {
    let key: APIKey

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard key.accepts(authorization: request.headers[.authorization]) else { throw APIError.unauthorized }
        return try await next(request, context)
    }
}
