import Foundation
import JWTKit
import ParleyServiceKit

/// ws-edge's settings for client tokens: where verification keys come from and which claims
/// a token must carry.
public enum AuthSettings {
    public static let jwtSecretFile = Setting("jwt-secret-file", .string, default: "",
        help: "file holding the HS256 secret of client tokens (instead of --jwt-secret)")
    public static let jwtPublicKeys = Setting("jwt-public-keys", .string, default: "",
        help: "comma-separated PEM files of RS256/ES256/EdDSA public keys; a file's name without .pem is its kid")
    public static let jwksURL = Setting("jwks-url", .string, default: "",
        help: "JWKS URL of an identity provider; its RS256/ES256/EdDSA keys verify client tokens")
    public static let jwksRefreshInterval = Setting("jwks-refresh-interval", .duration, default: "10m",
        help: "how often the JWKS is fetched again")
    public static let jwksMinRefreshInterval = Setting("jwks-min-refresh-interval", .duration, default: "30s",
        help: "a token naming an unknown kid fetches the JWKS again at most once per this interval; also the retry interval until a fetch succeeds")
    public static let jwtIssuer = Setting("jwt-issuer", .string, default: "",
        help: "required iss of client tokens; empty: not checked")
    public static let jwtAudience = Setting("jwt-audience", .string, default: "",
        help: "required aud of client tokens; empty: not checked")
    public static let jwtLeeway = Setting("jwt-leeway", .duration, default: "30s",
        help: "clock skew allowed when checking exp, nbf and iat")
    public static let jwtMaxLifetime = Setting("jwt-max-lifetime", .duration, default: "24h",
        help: "longest a client token may be valid (exp after iat, or after now without iat)")
    public static let devLoginSecret = Setting("dev-login-secret", .string, default: "",
        help: "HS256 key of dev-login tokens (>= 32 bytes, shared by every edge); empty: random per process start", redaction: .whole)

    static let all: [Setting] = [
        jwtSecretFile, jwtPublicKeys, jwksURL, jwksRefreshInterval, jwksMinRefreshInterval, jwtIssuer, jwtAudience, jwtLeeway,
        jwtMaxLifetime, devLoginSecret,
    ]
}

/// Where ws-edge's token keys come from and what it demands of a token, read and checked at start.
public struct AuthConfiguration: Sendable {
    /// A public key of a PEM file, named by the file.
    public struct PublicKey: Sendable {
        public enum Material: Sendable {
            case rsa(Insecure.RSA.PublicKey)
            case ecdsa(ES256PublicKey)
            case eddsa(EdDSA.PublicKey)
        }

        public let kid: String
        public let material: Material
    }

    /// The HS256 secret of client tokens (`--jwt-secret` or the file's content), if any.
    public var secret: String?
    public var publicKeys: [PublicKey]
    public var jwksURL: URL?
    public var jwksRefreshInterval: Duration
    public var jwksMinRefreshInterval: Duration
    public var policy: TokenPolicy
    /// The key of dev-login tokens (nil: dev login is off); random when not configured.
    public var devSecret: String?
    /// Lifetime of dev-login tokens.
    public var devTokenTTL: Duration

    /// Secrets shorter than this are refused: an HS256 key must be as long as the hash.
    static let minimumSecretBytes = 32

    init(values: SettingValues, devLogin: Bool) throws {
        secret = try Self.secret(values)
        publicKeys = try values.string(AuthSettings.jwtPublicKeys).split(separator: ",")
            .map { try Self.publicKey(file: String($0).trimmingCharacters(in: .whitespaces)) }
        let jwks = values.string(AuthSettings.jwksURL)
        if jwks.isEmpty {
            jwksURL = nil
        } else {
            guard let url = URL(string: jwks), ["http", "https"].contains(url.scheme?.lowercased()), url.host != nil else {
                throw ConfigurationError("invalid PARLEY_JWKS_URL: expected an http(s) URL")
            }
            jwksURL = url
        }
        jwksRefreshInterval = values.duration(AuthSettings.jwksRefreshInterval)
        jwksMinRefreshInterval = values.duration(AuthSettings.jwksMinRefreshInterval)
        guard jwksRefreshInterval >= .seconds(1) else {
            throw ConfigurationError("invalid PARLEY_JWKS_REFRESH_INTERVAL: at least 1s")
        }
        guard jwksMinRefreshInterval >= .seconds(1) else {
            throw ConfigurationError("invalid PARLEY_JWKS_MIN_REFRESH_INTERVAL: at least 1s")
        }
        policy = TokenPolicy(issuer: Self.nonEmpty(values.string(AuthSettings.jwtIssuer)),
                             audience: Self.nonEmpty(values.string(AuthSettings.jwtAudience)),
                             leeway: values.duration(AuthSettings.jwtLeeway),
                             maxLifetime: values.duration(AuthSettings.jwtMaxLifetime))
        guard policy.maxLifetime >= .seconds(1) else {
            throw ConfigurationError("invalid PARLEY_JWT_MAX_LIFETIME: at least 1s")
        }
        devTokenTTL = values.duration(EdgeSettings.tokenTTL)
        let dev = values.string(AuthSettings.devLoginSecret)
        if !dev.isEmpty, dev.utf8.count < Self.minimumSecretBytes {
            throw ConfigurationError("invalid PARLEY_DEV_LOGIN_SECRET: use at least \(Self.minimumSecretBytes) bytes")
        }
        if devLogin {
            guard devTokenTTL <= policy.maxLifetime else {
                throw ConfigurationError("invalid PARLEY_TOKEN_TTL: longer than PARLEY_JWT_MAX_LIFETIME, dev-login tokens would be refused")
            }
            devSecret = dev.isEmpty ? Self.randomSecret() : dev
        } else {
            devSecret = nil
            guard secret != nil || !publicKeys.isEmpty || jwksURL != nil else {
                throw ConfigurationError(
                    "PARLEY_JWT_SECRET (--jwt-secret), PARLEY_JWT_SECRET_FILE, PARLEY_JWT_PUBLIC_KEYS or PARLEY_JWKS_URL is required when dev login is off")
            }
        }
    }

    private static func secret(_ values: SettingValues) throws -> String? {
        let inline = values.string(EdgeSettings.jwtSecret)
        let file = values.string(AuthSettings.jwtSecretFile)
        let secret: String
        switch (inline.isEmpty, file.isEmpty) {
        case (true, true):
            return nil
        case (false, false):
            throw ConfigurationError("PARLEY_JWT_SECRET and PARLEY_JWT_SECRET_FILE are both set; use one")
        case (false, true):
            secret = inline
        case (true, false):
            guard let data = FileManager.default.contents(atPath: file), let text = String(data: data, encoding: .utf8) else {
                throw ConfigurationError("invalid PARLEY_JWT_SECRET_FILE: cannot read \(file)")
            }
            secret = text.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        guard secret.utf8.count >= minimumSecretBytes else {
            let name = inline.isEmpty ? "PARLEY_JWT_SECRET_FILE" : "PARLEY_JWT_SECRET"
            throw ConfigurationError("invalid \(name): use at least \(minimumSecretBytes) bytes (HS256 keys must be as long as the hash)")
        }
        return secret
    }

    /// The RSA, P-256 or Ed25519 public key of a PEM file.
    private static func publicKey(file: String) throws -> PublicKey {
        guard let data = FileManager.default.contents(atPath: file), let pem = String(data: data, encoding: .utf8) else {
            throw ConfigurationError("invalid PARLEY_JWT_PUBLIC_KEYS: cannot read \(file)")
        }
        let name = URL(fileURLWithPath: file).lastPathComponent
        let kid = name.hasSuffix(".pem") ? String(name.dropLast(4)) : name
        let material: PublicKey.Material
        if let key = try? Insecure.RSA.PublicKey(pem: pem) {
            material = .rsa(key)
        } else if let key = try? ES256PublicKey(pem: pem) {
            material = .ecdsa(key)
        } else if let key = try? EdDSA.PublicKey(pem: pem) {
            material = .eddsa(key)
        } else {
            throw ConfigurationError("invalid PARLEY_JWT_PUBLIC_KEYS: \(file) holds no RSA, P-256 or Ed25519 public key in PEM")
        }
        return PublicKey(kid: kid, material: material)
    }

    private static func nonEmpty(_ text: String) -> String? { text.isEmpty ? nil : text }

    private static func randomSecret() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }
}
