import Crypto
import NIOConcurrencyHelpers
import NIOCore
import NIOSSL

/// The TLS server side of the edge (RFC 5630 for SIP over TLS, NIST SP 800-52r2 for the parameters): TLS 1.2 at
/// least (1.3 preferred by the library), and for TLS 1.2 only ECDHE key exchange with AEAD ciphers.
public struct TLSSettings: Sendable, Hashable {
    /// PEM certificate chain, server certificate first.
    public var certificatePath: String
    /// PEM private key of the server certificate.
    public var privateKeyPath: String
    /// PEM CA bundle that client certificates must chain to; nil asks for no client certificate.
    public var clientCAPath: String?
    /// With a client CA: refuse handshakes without a client certificate (mutual TLS), instead of verifying one
    /// only when offered.
    public var requireClientCertificate: Bool
    /// PEM CA bundle trusted, besides the system roots, for the servers the edge connects to (Contacts, trunks).
    /// Apart from the client CA: a CA that signs phones' client certificates need not vouch for servers.
    public var serverCAPath: String?

    /// Creates settings.
    public init(certificatePath: String, privateKeyPath: String, clientCAPath: String? = nil,
                requireClientCertificate: Bool = false, serverCAPath: String? = nil) {
        self.serverCAPath = serverCAPath
        self.certificatePath = certificatePath
        self.privateKeyPath = privateKeyPath
        self.clientCAPath = clientCAPath
        self.requireClientCertificate = requireClientCertificate
    }

    /// TLS 1.2 suites allowed: ECDHE only (forward secrecy), AEAD only (GCM, ChaCha20-Poly1305). TLS 1.3 suites
    /// are all AEAD with ephemeral key exchange.
    public static let allowedTLS12CipherSuites: [NIOTLSCipher] = [
        .TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, .TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        .TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, .TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        .TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, .TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ]

    /// The swift-nio-ssl configuration these settings describe.
    public func configuration() throws -> TLSConfiguration {
        let chain = try NIOSSLCertificate.fromPEMFile(certificatePath).map { NIOSSLCertificateSource.certificate($0) }
        let key = try NIOSSLPrivateKey(file: privateKeyPath, format: .pem)
        var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        configuration.cipherSuiteValues = Self.allowedTLS12CipherSuites
        configuration.renegotiationSupport = .none
        if let clientCAPath {
            configuration.trustRoots = .file(clientCAPath)
            configuration.certificateVerification = requireClientCertificate ? .noHostnameVerification
                : .optionalVerification
            configuration.sendCANameList = true
        } else {
            configuration.certificateVerification = .none
        }
        return configuration
    }

    /// The client side for connections the edge opens (to Contacts and trunks): the same protocol floor and
    /// suites, the edge's certificate as its client certificate (for peers that want mutual TLS), and the peer's
    /// certificate verified against the system roots and the client CA bundle, with its name or IP checked.
    /// - Parameter verifyPeers: false skips verification altogether (closed lab networks and benchmarks only).
    public func clientConfiguration(verifyPeers: Bool = true) throws -> TLSConfiguration {
        let chain = try NIOSSLCertificate.fromPEMFile(certificatePath).map { NIOSSLCertificateSource.certificate($0) }
        let key = try NIOSSLPrivateKey(file: privateKeyPath, format: .pem)
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.certificateChain = chain
        configuration.privateKey = .privateKey(key)
        configuration.minimumTLSVersion = .tlsv12
        configuration.cipherSuiteValues = Self.allowedTLS12CipherSuites
        configuration.renegotiationSupport = .none
        configuration.trustRoots = .default
        if let serverCAPath { configuration.additionalTrustRoots = [.file(serverCAPath)] }
        configuration.certificateVerification = verifyPeers ? .fullVerification : .none
        return configuration
    }

    /// Loads the files and builds a context.
    public func makeContext() throws -> NIOSSLContext { try NIOSSLContext(configuration: configuration()) }

    /// Lowercase hex SHA-256 of a DER certificate: the fingerprint device bindings use.
    public static func fingerprint(ofDER der: [UInt8]) -> String {
        SHA256.hash(data: der).map { byte in
            let hex = Array("0123456789abcdef".utf8)
            return String(decoding: [hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]], as: UTF8.self)
        }.joined()
    }
}

/// The TLS context new connections use; ``reload()`` re-reads certificate and key, so a renewed certificate
/// takes effect without a restart (connections already open keep theirs).
public final class ReloadableTLSContext: Sendable {
    /// The settings the context is built from.
    public let settings: TLSSettings
    private let current: NIOLockedValueBox<NIOSSLContext>

    /// Builds the first context; throws if the files do not load.
    public init(settings: TLSSettings) throws {
        self.settings = settings
        self.current = NIOLockedValueBox(try settings.makeContext())
    }

    /// The context for a new connection.
    public var context: NIOSSLContext { current.withLockedValue { $0 } }

    /// Re-reads the files; on failure the previous context stays in force and the error is thrown.
    public func reload() throws {
        let fresh = try settings.makeContext()
        current.withLockedValue { $0 = fresh }
    }
}
