import COpenSSL

/// Overwrites key material with zeros in a way the optimiser cannot drop (`OPENSSL_cleanse`).
func cleanse(_ bytes: inout [UInt8]) {
    bytes.withUnsafeMutableBytes { raw in
        if let base = raw.baseAddress { OPENSSL_cleanse(base, raw.count) }
    }
}
