import Foundation
import Testing

/// docs/deploy.md covers what it must: every compose service, the override, scaling, metrics,
/// the move to multi-broker Kafka and Redis Cluster, Kubernetes, and what is unverified.
@Suite("deploy docs")
struct DocsTests {
    @Test("docs/deploy.md names every compose service and the topics it must")
    func coverage() throws {
        let text = try Repo.read("docs/deploy.md")
        let compose = try ComposeFile(ComposeFile.mainPath)
        for name in compose.services.keys {
            #expect(text.contains("`\(name)`"), "docs/deploy.md does not describe the compose service `\(name)`")
        }
        for phrase in ["compose.dev-login.yaml", "--scale ws-edge=", "--scale relay-svc=", "/metrics", "parley_",
                       "Redis Cluster", "deploy/k8s", "swift run relay-svc", "PARLEY_JWT_SECRET", "nverified"] {
            #expect(text.contains(phrase), "docs/deploy.md does not mention \(phrase)")
        }
    }
}
