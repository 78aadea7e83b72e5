import Edge
import ParleyServiceKit

await ServiceMain.run(EdgeConfiguration.self) { configuration, logger in
    ServiceMain.serviceGroup(try await buildEdge(configuration, logger: logger), logger: logger)
}
