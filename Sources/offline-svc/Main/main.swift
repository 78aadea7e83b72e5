import Offline
import ParleyServiceKit

await ServiceMain.run(OfflineConfiguration.self) { configuration, logger in
    ServiceMain.serviceGroup(try await buildOffline(configuration, logger: logger), logger: logger)
}
