import Admin
import Foundation
import Logging
import ParleyServiceKit

// parley-admin trace <msg id> [options]: where a message is (docs/operations.md "Where is message X?").
let arguments = Array(CommandLine.arguments.dropFirst())
let usage = "usage: parley-admin trace <msg id> [options]   (options: parley-admin --help)"
if arguments.first == "--help" || arguments.first == "-h" {
    print(AdminConfiguration.helpText)
    exit(0)
}
guard arguments.count >= 2, arguments[0] == "trace" else {
    FileHandle.standardError.write(Data("\(usage)\n".utf8))
    exit(2)
}
let configuration = AdminConfiguration.loadOrExit(arguments: Array(arguments.dropFirst(2)))
let logger = ParleyLogging.bootstrap(level: .warning, label: AdminConfiguration.serviceName, metadata: [:])
do {
    let trace = try await MessageTracer(configuration: configuration, logger: logger).trace(arguments[1])
    print(TraceReport.text(trace))
    exit(trace.inbound == nil ? 1 : 0)
} catch {
    FileHandle.standardError.write(Data("parley-admin: \(error)\n".utf8))
    exit(3)
}
