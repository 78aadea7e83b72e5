import Hummingbird
import Prometheus

extension Router {
    /// Adds `GET /healthz` (the process is alive), `GET /readyz` (200 when every readiness check
    /// passes, 503 naming the failing ones otherwise) and `GET /metrics` (Prometheus text).
    public func addOperationalRoutes(readiness: Readiness) {
        get("/healthz") { _, _ in "ok\n" }
        get("/readyz") { _, _ -> Response in
            let failing = await readiness.failing()
            let body = failing.isEmpty ? "ready\n" : "not ready: \(failing.joined(separator: ", "))\n"
            return Response(status: failing.isEmpty ? .ok : .serviceUnavailable,
                            headers: [.contentType: "text/plain; charset=utf-8"],
                            body: .init(byteBuffer: ByteBuffer(string: body)))
        }
        get("/metrics") { _, _ -> Response in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                     body: .init(byteBuffer: ByteBuffer(bytes: ParleyMetrics.registry.emitToBuffer())))
        }
    }
}
