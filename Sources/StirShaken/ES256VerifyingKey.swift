import Crypto
import Dispatch
import Synchronization

#if canImport(COpenSSL)
    import COpenSSL
#endif

/// A signer's P-256 key as a verifier holds it while the signer's chain is cached.
///
/// An ES256 verification computes u1·G + u2·Q. The multiples of the curve's generator G come from a table every
/// implementation has built in; those of the signer's key Q are computed afresh each time, which is most of the cost.
/// A key that has checked `ES256KeyTables.precomputeAfter` signatures gets a table of its own multiples, built once
/// and off the caller's thread (where OpenSSL 3 is linked), after which both halves are table lookups and a
/// verification costs about 60 % of swift-crypto's. A table is about 150 KiB and takes about 15 ms to build (some
/// thousand verifications' worth of savings), so only keys that are used that much get one, and at most
/// `ES256KeyTables.limit` exist at once; other keys, and every key on platforms without OpenSSL, verify with
/// swift-crypto. Both paths give the same answers (tested against each other, tampered signatures included).
public final class ES256VerifyingKey: Sendable {
    public let key: P256.Signing.PublicKey
    private let tables: ES256KeyTables
    private let state = Mutex(State())

    private struct State {
        var verifications = 0
        var building = false
        #if canImport(COpenSSL)
            var table: FixedBaseTable?
        #endif
    }

    /// Whether this build can give keys tables (OpenSSL 3 linked); without, every key verifies with swift-crypto.
    public static var tablesAvailable: Bool {
        #if canImport(COpenSSL)
            true
        #else
            false
        #endif
    }

    public init(_ key: P256.Signing.PublicKey, tables: ES256KeyTables = .shared) {
        (self.key, self.tables) = (key, tables)
    }

    /// Whether this key verifies through a table of its own multiples yet.
    public var hasTable: Bool {
        #if canImport(COpenSSL)
            state.withLock { $0.table != nil }
        #else
            false
        #endif
    }

    /// Whether `signature` (r and s, 32 bytes each, as JWS carries them) is this key's ES256 signature of `message`.
    public func isValidSignature(_ signature: [UInt8], for message: [UInt8]) -> Bool {
        #if canImport(COpenSSL)
            let (table, build) = state.withLock { state -> (FixedBaseTable?, Bool) in
                guard state.table == nil, !state.building else { return (state.table, false) }
                state.verifications += 1
                guard state.verifications >= tables.precomputeAfter else { return (nil, false) }
                state.building = true
                return (nil, true)
            }
            if build { buildTable() }
            if let table {
                return signature.count == 64 && table.verify(signature, digest: SHA256.hash(data: message))
            }
        #endif
        guard let signature = try? P256.Signing.ECDSASignature(rawRepresentation: signature) else { return false }
        return key.isValidSignature(signature, for: message)
    }

    /// Builds this key's table now, on the calling thread, when the budget allows (tests and benchmarks that want the
    /// table path without waiting for it). Returns whether the key has a table afterwards.
    @discardableResult
    public func buildTableNow() -> Bool {
        #if canImport(COpenSSL)
            guard state.withLock({ state in
                guard state.table == nil, !state.building else { return false }
                state.building = true
                return true
            }) else { return hasTable }
            let table = tables.reserve() ? FixedBaseTable(publicKey: Array(key.x963Representation), budget: tables) : nil
            state.withLock { $0.table = table }
            return table != nil
        #else
            return false
        #endif
    }

    private func buildTable() {
        #if canImport(COpenSSL)
            guard tables.reserve() else { return }  // over budget: this key stays on the plain path
            let point = Array(key.x963Representation)
            DispatchQueue.global(qos: .utility).async { [self] in
                let table = FixedBaseTable(publicKey: point, budget: tables)
                state.withLock { $0.table = table }
            }
        #endif
    }
}

/// How many verifying-key tables a process may hold, and how much use earns one.
public final class ES256KeyTables: Sendable {
    /// The process's budget: 16 tables (about 2.4 MiB), each for a key that has checked 1,024 signatures.
    public static let shared = ES256KeyTables(limit: 16, precomputeAfter: 1_024)

    public let limit: Int
    public let precomputeAfter: Int
    private let live = Mutex(0)

    public init(limit: Int, precomputeAfter: Int) {
        (self.limit, self.precomputeAfter) = (limit, max(1, precomputeAfter))
    }

    /// The tables that exist (or are being built) now.
    public var count: Int { live.withLock { $0 } }

    func reserve() -> Bool {
        live.withLock { live in
            guard live < limit else { return false }
            live += 1
            return true
        }
    }

    func release() { live.withLock { $0 -= 1 } }
}

#if canImport(COpenSSL)
    /// A P-256 key's multiples precomputed (OpenSSL's fixed-base table, made for the key as if it were the generator),
    /// and the ECDSA verification equation (SEC 1 §4.1.4) evaluated with it and the curve's own table. Immutable once
    /// built: OpenSSL reads the groups from any thread; each verification has scratch space of its own, taken from a
    /// few kept for reuse (a verification allocates nothing once they exist).
    final class FixedBaseTable: @unchecked Sendable {
        private let curve: OpaquePointer
        private let keyAsGenerator: OpaquePointer
        private let budget: ES256KeyTables
        private let spares = Mutex<[Scratch]>([])
        /// The most scratch spaces kept (one per thread verifying at once, as far as that goes).
        private static let sparesKept = 8

        /// A BN_CTX and the two points one verification works in; one verification holds it at a time.
        private struct Scratch: @unchecked Sendable {
            let context: OpaquePointer
            let sum: OpaquePointer
            let keyPart: OpaquePointer

            init?(curve: OpaquePointer, keyAsGenerator: OpaquePointer) {
                guard let context = BN_CTX_new() else { return nil }
                guard let sum = EC_POINT_new(curve), let keyPart = EC_POINT_new(keyAsGenerator) else {
                    BN_CTX_free(context)
                    return nil
                }
                (self.context, self.sum, self.keyPart) = (context, sum, keyPart)
            }

            func free() {
                EC_POINT_free(keyPart)
                EC_POINT_free(sum)
                BN_CTX_free(context)
            }
        }

        /// `publicKey` in X9.63 form (04 || x || y). Nil, with the budget's slot handed back, when the point is not on
        /// the curve or OpenSSL cannot build the table.
        init?(publicKey: [UInt8], budget: ES256KeyTables) {
            func built() -> (OpaquePointer, OpaquePointer)? {
                guard let curve = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1) else { return nil }
                guard let point = EC_POINT_new(curve) else {
                    EC_GROUP_free(curve)
                    return nil
                }
                defer { EC_POINT_free(point) }
                guard EC_POINT_oct2point(curve, point, publicKey, publicKey.count, nil) == 1,
                    EC_POINT_is_on_curve(curve, point, nil) == 1, EC_POINT_is_at_infinity(curve, point) == 0,
                    let keyAsGenerator = EC_GROUP_dup(curve)
                else {
                    EC_GROUP_free(curve)
                    return nil
                }
                guard EC_GROUP_set_generator(keyAsGenerator, point, EC_GROUP_get0_order(curve),
                                             EC_GROUP_get0_cofactor(curve)) == 1,
                    rampart_EC_GROUP_precompute_mult(keyAsGenerator, nil) == 1
                else {
                    EC_GROUP_free(keyAsGenerator)
                    EC_GROUP_free(curve)
                    return nil
                }
                return (curve, keyAsGenerator)
            }
            guard let (curve, keyAsGenerator) = built() else {
                budget.release()
                return nil
            }
            (self.curve, self.keyAsGenerator, self.budget) = (curve, keyAsGenerator, budget)
        }

        deinit {
            spares.withLock { $0.forEach { $0.free() } }
            EC_GROUP_free(keyAsGenerator)
            EC_GROUP_free(curve)
            budget.release()
        }

        /// `signature` is r || s, 32 bytes each.
        func verify(_ signature: [UInt8], digest: SHA256.Digest) -> Bool {
            guard let scratch = spares.withLock({ $0.popLast() })
                ?? Scratch(curve: curve, keyAsGenerator: keyAsGenerator)
            else { return false }
            defer {
                let kept = spares.withLock { spares in
                    guard spares.count < Self.sparesKept else { return false }
                    spares.append(scratch)
                    return true
                }
                if !kept { scratch.free() }
            }
            let (context, sum, keyPart) = (scratch.context, scratch.sum, scratch.keyPart)
            BN_CTX_start(context)
            defer { BN_CTX_end(context) }
            guard let r = BN_CTX_get(context), let s = BN_CTX_get(context), let e = BN_CTX_get(context),
                let w = BN_CTX_get(context), let u1 = BN_CTX_get(context), let u2 = BN_CTX_get(context),
                let x = BN_CTX_get(context), let order = EC_GROUP_get0_order(curve)
            else { return false }
            let loaded = signature.withUnsafeBufferPointer { bytes in
                BN_bin2bn(bytes.baseAddress, 32, r) != nil && BN_bin2bn(bytes.baseAddress! + 32, 32, s) != nil
            }
            let hashed = digest.withUnsafeBytes { BN_bin2bn($0.bindMemory(to: UInt8.self).baseAddress, 32, e) != nil }
            // r and s in [1, n-1]; e is the whole digest (P-256's order is 256 bits long).
            guard loaded, hashed, BN_is_zero(r) == 0, BN_is_zero(s) == 0, BN_cmp(r, order) < 0, BN_cmp(s, order) < 0,
                BN_mod_inverse(w, s, order, context) != nil,
                BN_mod_mul(u1, e, w, order, context) == 1, BN_mod_mul(u2, r, w, order, context) == 1
            else { return false }
            // u1·G and u2·Q, each from its table, then their sum's x against r.
            guard EC_POINT_mul(curve, sum, u1, nil, nil, context) == 1,
                EC_POINT_mul(keyAsGenerator, keyPart, u2, nil, nil, context) == 1,
                EC_POINT_add(curve, sum, sum, keyPart, context) == 1,
                EC_POINT_is_at_infinity(curve, sum) == 0,
                EC_POINT_get_affine_coordinates(curve, sum, x, nil, context) == 1,
                BN_nnmod(x, x, order, context) == 1
            else { return false }
            return BN_cmp(x, r) == 0
        }
    }
#endif
