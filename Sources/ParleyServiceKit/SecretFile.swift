import Foundation

/// Secrets (passwords) come from files, never from settings' values: a file is what Docker and
/// Kubernetes secrets mount, and its content never shows in `ps`, the environment or the
/// settings logged at start.
public enum SecretFile {
    /// The content of the file `setting` names, without trailing line breaks; nil when the
    /// setting is empty. Throws a one-line ``ConfigurationError`` naming the setting when the
    /// file cannot be read or is empty.
    public static func read(_ setting: Setting, _ values: SettingValues) throws -> String? {
        let path = values.string(setting)
        guard !path.isEmpty else { return nil }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw ConfigurationError("invalid \(setting.environmentVariable): cannot read \(path)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigurationError("invalid \(setting.environmentVariable): \(path) is not UTF-8")
        }
        var secret = text
        while secret.last?.isNewline == true { secret.removeLast() }
        guard !secret.isEmpty else { throw ConfigurationError("invalid \(setting.environmentVariable): \(path) is empty") }
        return secret
    }
}
