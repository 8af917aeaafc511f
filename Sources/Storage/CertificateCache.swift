/// A STIR/SHAKEN signer's certificate chain as fetched from its x5u URL, kept so that a restarted edge need not
/// fetch every chain again. Public data (certificates), never a secret; checked again when read back.
public struct CachedCertificateChain: Hashable, Sendable {
    /// The x5u URL, exactly as the PASSporT named it.
    public var url: String
    /// The chain as served (PEM or DER bytes), at most ``maximumBytes``.
    public var chain: [UInt8]
    /// Until when it may be used without fetching again, seconds since 1970.
    public var expiresAtEpochSeconds: Int64

    /// The largest chain kept (what a fetch accepts).
    public static let maximumBytes = 64 * 1_024
    /// The most chains kept: the soonest to expire go first beyond it.
    public static let maximumEntries = 10_000

    public init(url: String, chain: [UInt8], expiresAtEpochSeconds: Int64) {
        (self.url, self.chain, self.expiresAtEpochSeconds) = (url, chain, expiresAtEpochSeconds)
    }
}

/// Where fetched certificate chains are kept between runs.
public protocol CertificateCacheStore: Sendable {
    /// Keeps `entry` (replacing the chain of the same URL); beyond ``CachedCertificateChain/maximumEntries`` the
    /// soonest to expire are dropped.
    func saveCertificateChain(_ entry: CachedCertificateChain) async throws(StorageError)
    /// The chains that have not expired at `epochSeconds`, the longest-lasting first, at most `limit`; expired ones
    /// are removed.
    func certificateChains(validAt epochSeconds: Int64, limit: Int) async throws(StorageError) -> [CachedCertificateChain]
}

extension StoreValidation {
    /// A chain to keep: a URL of 1-2,048 bytes, a chain of 1 to 64 KiB.
    public static func check(_ entry: CachedCertificateChain) throws(StorageError) {
        guard (1...2_048).contains(entry.url.utf8.count) else { throw StorageError(.invalidInput, "an x5u URL of 1-2048 bytes") }
        guard (1...CachedCertificateChain.maximumBytes).contains(entry.chain.count) else {
            throw StorageError(.invalidInput, "a certificate chain of 1 byte to 64 KiB")
        }
    }
}
