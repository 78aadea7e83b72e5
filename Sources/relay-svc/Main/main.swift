import ParleyServiceKit
import Relay

await ServiceMain.run(RelayConfiguration.self) { configuration, logger in
    ServiceMain.serviceGroup(try await buildRelay(configuration, logger: logger), logger: logger)
}
