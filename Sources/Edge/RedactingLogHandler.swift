import Logging

/// A log handler that never lets secrets through: metadata values under sensitive keys (passwords, HA1s,
/// nonces, keys, tokens, credentials and Authorization-style headers) are replaced before the wrapped handler
/// sees them, and so is any message text that contains a digest response or credential parameters. Rampart's own
/// code does not log such values; this is the second line, for metadata added later or by libraries.
public struct RedactingLogHandler: LogHandler {
    /// Key fragments whose values are always replaced (compared case-insensitively).
    public static let sensitiveKeyFragments = ["password", "ha1", "nonce", "key", "token", "secret", "authorization",
                                               "credential", "response", "cookie"]
    /// What replaces a secret.
    public static let redacted = "<redacted>"

    private var wrapped: any LogHandler

    /// Wraps a handler.
    public init(wrapping handler: any LogHandler) { self.wrapped = handler }

    public var logLevel: Logger.Level {
        get { wrapped.logLevel }
        set { wrapped.logLevel = newValue }
    }

    public var metadata: Logger.Metadata {
        get { wrapped.metadata }
        set { wrapped.metadata = Self.redact(newValue) }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { wrapped[metadataKey: key] }
        set { wrapped[metadataKey: key] = newValue.map { Self.isSensitive(key) ? .string(Self.redacted) : $0 } }
    }

    public func log(event: LogEvent) {
        var event = event
        event.metadata = event.metadata.map(Self.redact)
        let text = event.message.description
        if Self.looksLikeCredentials(text) { event.message = "\(Self.redacted) (a message that carried credentials)" }
        wrapped.log(event: event)
    }

    /// Whether a metadata key names a secret.
    public static func isSensitive(_ key: String) -> Bool {
        let lowered = key.lowercased()
        return sensitiveKeyFragments.contains { lowered.contains($0) }
    }

    static func redact(_ metadata: Logger.Metadata) -> Logger.Metadata {
        var result = metadata
        for (key, value) in metadata {
            if isSensitive(key) {
                result[key] = .string(redacted)
            } else if case .dictionary(let nested) = value {
                result[key] = .dictionary(redact(nested))
            } else if case .array(let items) = value {
                result[key] = .array(items.map(redact))
            } else if case .string(let text) = value, looksLikeCredentials(text) {
                result[key] = .string(redacted)
            }
        }
        return result
    }

    static func redact(_ value: Logger.Metadata.Value) -> Logger.Metadata.Value {
        switch value {
        case .string(let text): return looksLikeCredentials(text) ? .string(redacted) : value
        case .dictionary(let nested): return .dictionary(redact(nested))
        case .array(let items): return .array(items.map(redact))
        case .stringConvertible(let item): return looksLikeCredentials(item.description) ? .string(redacted) : value
        }
    }

    /// Digest credentials or challenges (RFC 7616 §3.4) in free text.
    static func looksLikeCredentials(_ text: String) -> Bool {
        let lowered = text.lowercased()
        return lowered.contains("digest ") && (lowered.contains("nonce=") || lowered.contains("response="))
    }
}
