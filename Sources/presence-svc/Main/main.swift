import ParleyServiceKit
import Presence

await ServiceMain.run(PresenceConfiguration.self) { configuration, logger in
    ServiceMain.serviceGroup(try await buildPresence(configuration, logger: logger), logger: logger)
}
