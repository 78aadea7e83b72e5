import Hummingbird
import Metrics

/// Counts HTTP requests (`parley_http_requests_total{method,route,status}`) and times them until
/// their response is ready (`parley_http_request_duration_seconds{method,route}`). `route` is the
/// matched route's pattern (`/api/login`), or `other` for what no route matched (files, 404s),
/// so the label stays bounded whatever paths clients ask for.
public struct HTTPMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    /// Put it first on a router: it then sees every request.
    public init() {}

    public func handle(_ request: Request, context: Context,
                       next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        do {
            let response = try await next(request, context)
            record(request, context, status: response.status, since: start)
            return response
        } catch {
            record(request, context, status: (error as? any HTTPResponseError)?.status ?? .internalServerError, since: start)
            throw error
        }
    }

    private func record(_ request: Request, _ context: Context, status: HTTPResponse.Status, since start: ContinuousClock.Instant) {
        let route = context.endpointPath ?? "other"
        let method = request.method.rawValue
        Counter(label: "parley_http_requests_total",
                dimensions: [("method", method), ("route", route), ("status", String(status.code))]).increment()
        Timer(label: "parley_http_request_duration_seconds", dimensions: [("method", method), ("route", route)])
            .record(duration: ContinuousClock.now - start)
    }
}
