// swift-tools-version:6.1
import PackageDescription

// `RAMPART_PORTABLE_MEDIA=1` builds MediaSecurity without OpenSSL, on swift-crypto alone, as on Apple platforms.
let portableMedia = Context.environment["RAMPART_PORTABLE_MEDIA"] != nil

// Rampart: a security-first VoIP platform. Layers (see docs/architecture.md):
// L0 sans-I/O cores, L1 SwiftNIO I/O, L2 services, L3 the `rampart` CLI.
let package = Package(
    name: "Rampart",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "rampart", targets: ["rampart"]),
        .library(name: "SIPMessage", targets: ["SIPMessage"]),
        .library(name: "SDP", targets: ["SDP"]),
        .library(name: "SIPAuth", targets: ["SIPAuth"]),
        .library(name: "SIPTransaction", targets: ["SIPTransaction"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.1"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/LebJe/TOMLKit.git", from: "0.6.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        // L0: sans-I/O cores.
        .target(name: "SIPMessage"),
        .target(name: "SDP"),
        .target(name: "SIPTransaction", dependencies: ["SIPMessage"]),
        .target(name: "SIPDialog", dependencies: ["SIPMessage"]),
        .target(name: "SecurityPolicy",
                dependencies: ["SDP", "SIPMessage", "RTP", .product(name: "Crypto", package: "swift-crypto")]),
        .target(
            name: "CertificateAuthority",
            dependencies: [
                .product(name: "X509", package: "swift-certificates"), .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .target(name: "SIPAuth", dependencies: ["SIPMessage", .product(name: "Crypto", package: "swift-crypto")]),
        // STIR/SHAKEN: PASSporTs, Identity headers, STI certificates (RFC 8224/8225/8226/8588).
        // The system OpenSSL 3 (libcrypto) for the media path (contexts kept for a stream's life) and for P-256
        // tables of hot STIR signers' keys.
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        .target(name: "StirShaken", dependencies: (portableMedia ? [] : [.target(name: "COpenSSL", condition: .when(platforms: [.linux]))]) + [
            "SIPMessage", "CertificateAuthority", .product(name: "Crypto", package: "swift-crypto"), .product(name: "X509", package: "swift-certificates"),
            .product(name: "SwiftASN1", package: "swift-asn1"),
        ]),
        .target(name: "MediaSecurity", dependencies: (portableMedia ? [] : [.target(name: "COpenSSL", condition: .when(platforms: [.linux]))]) + [
            "SDP", .product(name: "Crypto", package: "swift-crypto"), .product(name: "CryptoExtras", package: "swift-crypto"),
        ]),
        // STUN (RFC 8489) messages, integrity, fingerprint and long-term credentials; TURN builds on it.
        .target(name: "STUN", dependencies: ["SecurityPolicy", "SIPAuth", .product(name: "Crypto", package: "swift-crypto")]),
        // TURN (RFC 8656) without I/O: allocations, permissions, channels, credentials and limits.
        .target(name: "TURN", dependencies: ["STUN", "SecurityPolicy", .product(name: "Crypto", package: "swift-crypto")]),
        .target(name: "Pcap"),
        .target(name: "RTP"),
        .target(name: "MediaRelay", dependencies: ["SDP", "RTP"]),
        .target(name: "AuditTrail", dependencies: [.product(name: "Crypto", package: "swift-crypto")]),
        .target(name: "SIEM", dependencies: ["AuditTrail", "SIPMessage"]),
        .target(name: "HEP", dependencies: ["RTP"]),

        // L1: storage (protocols + in-memory; SQLite is the embedded default).
        .target(name: "Storage", dependencies: ["AuditTrail"]),
        .target(name: "StorageSQLite", dependencies: ["Storage", .product(name: "GRDB", package: "GRDB.swift")]),

        // L1: SIP over SwiftNIO.
        .target(
            name: "SIPTransportNIO",
            dependencies: ["SIPMessage", .product(name: "NIOCore", package: "swift-nio"),
                           .product(name: "NIOPosix", package: "swift-nio"),
                           .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                           .product(name: "NIOSSL", package: "swift-nio-ssl"),
                           .product(name: "NIOTLS", package: "swift-nio"),
                           .product(name: "Crypto", package: "swift-crypto")]
        ),

        // L1: the media relay's sockets.
        .target(
            name: "MediaRelayNIO",
            dependencies: ["MediaRelay", "MediaSecurity", "RTP", "SDP", "SecurityPolicy",
                           .product(name: "NIOCore", package: "swift-nio"),
                           .product(name: "NIOPosix", package: "swift-nio")]
        ),

        // L1: the TURN server's sockets (listeners over UDP, TCP and TLS; relay sockets) around the TURN core.
        .target(
            name: "TURNServerNIO",
            dependencies: ["TURN", "STUN", "SecurityPolicy", .product(name: "NIOCore", package: "swift-nio"),
                           .product(name: "NIOPosix", package: "swift-nio"), .product(name: "NIOSSL", package: "swift-nio-ssl"),
                           .product(name: "Metrics", package: "swift-metrics"),
                           .product(name: "Crypto", package: "swift-crypto")]
        ),

        // L1: fetching STIR/SHAKEN certificates (x5u) under the address policy.
        .target(
            name: "StirShakenNIO",
            dependencies: ["StirShaken", "SecurityPolicy", .product(name: "NIOCore", package: "swift-nio"),
                           .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                           .product(name: "NIOPosix", package: "swift-nio"), .product(name: "NIOHTTP1", package: "swift-nio"),
                           .product(name: "NIOSSL", package: "swift-nio-ssl")]
        ),

        // L2: services.
        .target(name: "Forensics", dependencies: ["Pcap", "RTP", "MediaSecurity", "SDP", "SIPMessage"]),
        .target(name: "Registrar", dependencies: ["SIPMessage", "SIPAuth", "Storage", "SecurityPolicy"]),
        .target(name: "Proxy", dependencies: ["SIPMessage", "SIPDialog", "SIPTransaction", "SIPAuth", "SecurityPolicy",
                                           "Storage", "SDP"]),
        .target(
            name: "Edge",
            dependencies: ["SIPMessage", "SIPAuth", "SIPTransaction", "Storage", "Registrar", "SIPTransportNIO",
                           "Proxy", "SIPDialog", "SecurityPolicy", "SDP", "MediaRelay", "MediaRelayNIO", "MediaSecurity",
                           "AuditTrail", "SIEM", "HEP", "RTP", "StirShaken", "StirShakenNIO",
                           .product(name: "NIOSSL", package: "swift-nio-ssl"),
                           .product(name: "NIOCore", package: "swift-nio"),
                           .product(name: "NIOPosix", package: "swift-nio"),
                           .product(name: "Logging", package: "swift-log"),
                           .product(name: "Metrics", package: "swift-metrics"),
                           .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")]
        ),
        // L2: the admin API and /metrics on their own listener (Hummingbird 2).
        .target(
            name: "AdminAPI",
            dependencies: ["Edge", "Storage", "AuditTrail", "SecurityPolicy", "SIPAuth", "SIPTransportNIO",
                           .product(name: "Hummingbird", package: "hummingbird"),
                           .product(name: "HummingbirdCore", package: "hummingbird"),
                           .product(name: "HummingbirdTLS", package: "hummingbird"),
                           .product(name: "Prometheus", package: "swift-prometheus"),
                           .product(name: "Metrics", package: "swift-metrics"),
                           .product(name: "Crypto", package: "swift-crypto"),
                           .product(name: "NIOSSL", package: "swift-nio-ssl"),
                           .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                           .product(name: "Logging", package: "swift-log")],
            // The dashboard's static files, compiled into the binary (no bundle to find at run time).
            resources: [.embedInCode("Dashboard/index.html"), .embedInCode("Dashboard/dashboard.css"),
                        .embedInCode("Dashboard/dashboard.js")]
        ),

        // L3: the CLI.
        .executableTarget(
            name: "rampart",
            dependencies: [
                "SIPMessage", "SDP", "SIPAuth", "Storage", "StorageSQLite", "CertificateAuthority", "Edge", "Registrar",
                "AuditTrail", "SIEM", "AdminAPI", "StirShaken", "StirShakenNIO", "STUN", "TURN", "TURNServerNIO",
                "SIPDialog", "SecurityPolicy", "Proxy", "Forensics", "MediaSecurity", "Pcap", "MediaRelayNIO",
                "SIPTransaction", "SIPTransportNIO",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"), .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "TOMLKit", package: "TOMLKit"),
            ]
        ),

        // Fuzz targets (libFuzzer entry points); see README "Fuzzing".
        .executableTarget(name: "FuzzSIPMessage", dependencies: ["SIPMessage"], path: "Fuzz/SIPMessage", exclude: ["corpus"]),
        .executableTarget(name: "FuzzSDP", dependencies: ["SDP"], path: "Fuzz/SDP", exclude: ["corpus"]),
        .executableTarget(name: "FuzzPcap", dependencies: ["Pcap", "RTP"], path: "Fuzz/Pcap", exclude: ["corpus"]),
        .executableTarget(name: "FuzzSRTP", dependencies: ["MediaSecurity"], path: "Fuzz/SRTP", exclude: ["corpus"]),
        .executableTarget(name: "FuzzPolicyFiles", dependencies: ["SecurityPolicy"], path: "Fuzz/PolicyFiles",
                          exclude: ["corpus"]),
        .executableTarget(name: "FuzzSTUN", dependencies: ["STUN", "TURN", "SecurityPolicy", .product(name: "Crypto", package: "swift-crypto")],
                          path: "Fuzz/STUN", exclude: ["corpus"]),
        .executableTarget(name: "FuzzHEP", dependencies: ["HEP"], path: "Fuzz/HEP", exclude: ["corpus"]),
        .executableTarget(name: "FuzzAuditContent", dependencies: ["AuditTrail"], path: "Fuzz/AuditTrail",
                          exclude: ["corpus"]),
        .executableTarget(name: "FuzzStirShaken", dependencies: [
            "StirShaken", "SIPMessage", .product(name: "SwiftASN1", package: "swift-asn1"),
        ], path: "Fuzz/StirShaken", exclude: ["corpus"]),

        // Benchmarks (run in release); see README "Performance".
        .executableTarget(name: "SIPParseBenchmark", dependencies: ["SIPMessage", "SDP"], path: "Benchmarks/SIPParseBenchmark"),
        .executableTarget(name: "SRTPBenchmark", dependencies: ["MediaSecurity"], path: "Benchmarks/SRTPBenchmark"),
        .executableTarget(name: "RelayBenchmark", dependencies: [
            "MediaRelayNIO", .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
        ], path: "Benchmarks/RelayBenchmark"),
        .executableTarget(name: "StirBenchmark", dependencies: [
            "StirShaken", "SIPMessage", .product(name: "Crypto", package: "swift-crypto"),
        ], path: "Benchmarks/StirBenchmark"),
        .executableTarget(name: "SecurityPolicyBenchmark", dependencies: ["SecurityPolicy"],
                          path: "Benchmarks/SecurityPolicyBenchmark"),
        .executableTarget(name: "AuditBenchmark", dependencies: ["AuditTrail", "Storage", "StorageSQLite"],
                          path: "Benchmarks/AuditBenchmark"),
        .executableTarget(
            name: "EdgeBenchmark",
            dependencies: ["Edge", "SIPAuth", "SIPMessage", "SIPTransportNIO", "Storage", "SecurityPolicy",
                           .product(name: "NIOCore", package: "swift-nio")],
            path: "Benchmarks/EdgeBenchmark"),

        .testTarget(name: "SIPMessageTests", dependencies: ["SIPMessage", .product(name: "PropertyBased", package: "swift-property-based")], exclude: ["Vectors"]),
        .testTarget(name: "SDPTests", dependencies: ["SDP", "TestVectors", .product(name: "PropertyBased", package: "swift-property-based")]),
        .testTarget(name: "SIPAuthTests", dependencies: ["SIPAuth", "TestVectors"]),
        .testTarget(name: "PcapTests", dependencies: ["Pcap"]),
        .testTarget(name: "RTPTests", dependencies: ["RTP", "TestVectors"]),
        .testTarget(name: "STUNTests", dependencies: ["STUN", "TURN", "SecurityPolicy", "TestVectors",
                                                      .product(name: "Crypto", package: "swift-crypto")]),
        .testTarget(name: "MediaRelayTests", dependencies: ["MediaRelay", "SDP"]),
        .testTarget(name: "MediaRelayNIOTests", dependencies: [
            "MediaRelayNIO", "MediaRelay", "MediaSecurity", "SDP", "SecurityPolicy", "CLibSRTPShim",
            .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
        ]),
        .testTarget(name: "ForensicsTests", dependencies: ["Forensics", "Pcap", "RTP", "MediaSecurity", "SDP", "CLibSRTPShim"]),
        // Test-only: the RFC vectors in Tests/Vectors, each checked against its SHA-256 in the manifest.
        .target(name: "TestVectors", dependencies: [.product(name: "Crypto", package: "swift-crypto")],
                path: "Tests/TestVectors"),
        // Test-only: libsrtp2 (Debian libsrtp2-dev, installed by scripts/test) for interoperability.
        .target(name: "CLibSRTPShim", path: "Tests/CLibSRTPShim", linkerSettings: [.linkedLibrary("srtp2")]),
        .testTarget(name: "MediaSecurityTests", dependencies: ["MediaSecurity", "CLibSRTPShim", "SDP", "TestVectors"]),
        .testTarget(name: "SIPTransactionTests", dependencies: ["SIPTransaction"]),
        .testTarget(name: "SIPDialogTests", dependencies: ["SIPDialog", "SIPMessage"]),
        .testTarget(name: "ProxyTests", dependencies: ["Proxy", "SDP", "SIPAuth", "SIPDialog", "SIPMessage", "SIPTransaction",
                                                      "SecurityPolicy", "Storage"]),
        .testTarget(name: "SecurityPolicyTests", dependencies: [
            "SecurityPolicy", "SDP", "SIPMessage", "RTP", .product(name: "Crypto", package: "swift-crypto"),
        ]),
        .testTarget(name: "RegistrarTests", dependencies: ["Registrar", "SIPAuth", "Storage", "SecurityPolicy"]),
        .testTarget(name: "StorageTests", dependencies: ["Storage", "StorageSQLite", "AuditTrail",
                                                        .product(name: "GRDB", package: "GRDB.swift")]),
        .testTarget(name: "AuditTrailTests", dependencies: ["AuditTrail", .product(name: "Crypto", package: "swift-crypto")]),
        .testTarget(name: "SIEMTests", dependencies: ["SIEM", "AuditTrail"]),
        .testTarget(name: "HEPTests", dependencies: ["HEP", "RTP"]),
        .testTarget(name: "CertificateAuthorityTests", dependencies: ["CertificateAuthority"]),
        .testTarget(name: "StirShakenTests", dependencies: [
            "StirShaken", "SIPMessage", "TestVectors", .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "X509", package: "swift-certificates"), .product(name: "SwiftASN1", package: "swift-asn1"),
        ]),
        .testTarget(
            name: "SIPTransportNIOTests",
            dependencies: ["SIPTransportNIO", "SIPMessage", "CertificateAuthority",
                           .product(name: "NIOCore", package: "swift-nio"),
                           .product(name: "NIOSSL", package: "swift-nio-ssl"),
                           .product(name: "NIOPosix", package: "swift-nio"),
                           .product(name: "NIOEmbedded", package: "swift-nio")]
        ),
        .testTarget(
            name: "EdgeTests",
            dependencies: ["Edge", "Registrar", "SIPAuth", "SIPMessage", "SIPTransaction", "SIPTransportNIO", "Storage", "SecurityPolicy", "SIPDialog", "AuditTrail",
                           "MediaRelayNIO", "MediaSecurity", "SDP", "StirShaken",
                           .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                           .product(name: "Logging", package: "swift-log"),
                           .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")]
        ),
        .testTarget(name: "RampartCLITests", dependencies: ["Storage", "StorageSQLite", "Pcap", "CLibSRTPShim",
                                                           .product(name: "GRDB", package: "GRDB.swift")]),
    ],
    swiftLanguageModes: [.v6]
)
