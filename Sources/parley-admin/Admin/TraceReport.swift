import Foundation
import ParleyProtocol

/// ``MessageTrace`` as `parley-admin trace` prints it: one fact a line, `name: value`.
public enum TraceReport {
    public static func text(_ trace: MessageTrace) -> String {
        var lines = ["message: \(trace.msg)"]
        guard let inbound = trace.inbound else {
            lines.append("inbound: not found in \(trace.topic) (never sent, or past the topic's retention)")
            lines.append("status: unknown")
            return lines.joined(separator: "\n")
        }
        let message = inbound.message
        lines.append("inbound: \(trace.topic) partition \(inbound.partition) offset \(inbound.offset)"
            + (inbound.traced ? " (traceparent)" : ""))
        lines.append("sent: by \(message.from)" + (inbound.device.map { " (device \($0))" } ?? "")
            + " at \(timestamp(message.ts)) to \(message.conv)" + (message.id.map { ", client id \($0)" } ?? ""))
        guard let cseq = trace.cseq else {
            lines.append("cseq: none (relay-svc has not routed it yet, refused it, or the log no longer holds it)")
            lines.append("status: not routed")
            return lines.joined(separator: "\n")
        }
        lines.append("cseq: \(cseq)")
        var waiting = 0
        for member in trace.members {
            guard let seq = member.seq else {
                waiting += 1
                lines.append("member \(member.user): no stream entry (offline-svc has not appended it yet, or it is older than the stream's index)")
                continue
            }
            lines.append("member \(member.user): seq \(seq) (epoch \(member.epoch ?? "?"), head \(member.head.map { "\($0)" } ?? "?"), \(member.subscribed) sessions subscribed)")
            lines.append("  acked: \(member.acked.isEmpty ? "none" : member.acked.joined(separator: " "))")
            lines.append("  pending: \(member.pending.isEmpty ? "none" : member.pending.joined(separator: " "))")
            waiting += member.pending.count
        }
        lines.append(waiting == 0 ? "status: delivered (every device acked it)" : "status: pending (\(waiting) waiting)")
        return lines.joined(separator: "\n")
    }

    private static func timestamp(_ unixMilliseconds: UInt64) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date(timeIntervalSince1970: Double(unixMilliseconds) / 1000))
    }
}
