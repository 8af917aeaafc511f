// SHA-512/256 (FIPS 180-4 §5.3.6.2, §6.4, §6.7), which swift-crypto does not provide.
// It is SHA-512 run from its own initial hash value and truncated to 256 bits: not the same
// as truncating a SHA-512 digest. Pure Swift, streaming, no heap allocation per block.

/// The SHA-512/256 hash function (FIPS 180-4 §5.3.6.2), the hash of the RFC 7616 §3.2
/// `SHA-512-256` Digest algorithm, which swift-crypto lacks.
///
/// Use ``hash(_:)`` for one-shot hashing, or ``init()``, ``update(_:)`` and ``finalize()``
/// to hash data given in pieces.
struct SHA512_256: Sendable {
    /// The digest length in bytes: 32 (FIPS 180-4 §6.7).
    static let byteCount = 32

    /// The SHA-512 block length in bytes: 128 (FIPS 180-4 §5.1.2).
    static let blockByteCount = 128

    // The working hash value H(i), initially the FIPS 180-4 §5.3.6.2 H(0) for t = 256.
    private var h0: UInt64 = 0x2231_2194_FC2B_F72C
    private var h1: UInt64 = 0x9F55_5FA3_C84C_64C2
    private var h2: UInt64 = 0x2393_B86B_6F53_B151
    private var h3: UInt64 = 0x9638_7719_5940_EABD
    private var h4: UInt64 = 0x9628_3EE2_A88E_FFE3
    private var h5: UInt64 = 0xBE5E_1E25_5386_3992
    private var h6: UInt64 = 0x2B01_99FC_2C85_B8AA
    private var h7: UInt64 = 0x0EB7_2DDC_81C5_2CA2

    // Bytes of the current, incomplete block (allocated once per hasher, reused).
    private var pending: [UInt8]
    // Total message length in bytes so far. FIPS 180-4 allows up to 2^128 bits; a UInt64
    // byte count (2^67 bits) is far beyond anything this module hashes.
    private var length: UInt64 = 0

    /// A hasher in its initial state (FIPS 180-4 §5.3.6.2).
    init() {
        pending = []
        pending.reserveCapacity(Self.blockByteCount)
    }

    /// The SHA-512/256 digest of `bytes` (FIPS 180-4 §6.7).
    static func hash(_ bytes: some Sequence<UInt8>) -> [UInt8] {
        var hasher = SHA512_256()
        hasher.update(bytes)
        return hasher.finalize()
    }

    /// Adds `bytes` to the message being hashed (FIPS 180-4 §6.4.2).
    mutating func update(_ bytes: some Sequence<UInt8>) {
        let handled: Void? = bytes.withContiguousStorageIfAvailable { buffer in
            self.update(buffer: buffer)
        }
        if handled == nil {
            for byte in bytes {
                append(byte)
            }
        }
    }

    /// Adds the bytes in `buffer` to the message being hashed (FIPS 180-4 §6.4.2).
    mutating func update(buffer: UnsafeBufferPointer<UInt8>) {
        var index = 0
        let count = buffer.count
        length &+= UInt64(count)
        // Complete a partial block first.
        if !pending.isEmpty {
            while index < count && pending.count < Self.blockByteCount {
                pending.append(buffer[index])
                index += 1
            }
            if pending.count == Self.blockByteCount {
                compressPending()
            }
        }
        // Whole blocks straight from the input.
        while count - index >= Self.blockByteCount {
            compress(UnsafeBufferPointer(rebasing: buffer[index..<(index + Self.blockByteCount)]))
            index += Self.blockByteCount
        }
        while index < count {
            pending.append(buffer[index])
            index += 1
        }
    }

    private mutating func append(_ byte: UInt8) {
        length &+= 1
        pending.append(byte)
        if pending.count == Self.blockByteCount {
            compressPending()
        }
    }

    private mutating func compressPending() {
        var block = pending
        pending = []  // keep `block` uniquely referenced: no copy-on-write
        block.withUnsafeBufferPointer { compress($0) }
        block.removeAll(keepingCapacity: true)
        pending = block
    }

    /// Pads the message (FIPS 180-4 §5.1.2) and returns the 32-byte digest (FIPS 180-4 §6.7).
    consuming func finalize() -> [UInt8] {
        let bitLength = length &* 8
        let highBits = length >> 61
        pending.append(0x80)
        if pending.count > Self.blockByteCount - 16 {
            while pending.count < Self.blockByteCount { pending.append(0) }
            compressPending()
        }
        while pending.count < Self.blockByteCount - 16 { pending.append(0) }
        // The 128-bit big-endian message length in bits.
        appendBigEndian(highBits, to: &pending)
        appendBigEndian(bitLength, to: &pending)
        compressPending()

        var digest = [UInt8]()
        digest.reserveCapacity(Self.byteCount)
        appendBigEndian(h0, to: &digest)
        appendBigEndian(h1, to: &digest)
        appendBigEndian(h2, to: &digest)
        appendBigEndian(h3, to: &digest)
        return digest
    }

    // FIPS 180-4 §6.4.2: one 1024-bit block. The message schedule lives on the stack.
    private mutating func compress(_ block: UnsafeBufferPointer<UInt8>) {
        precondition(block.count == Self.blockByteCount)
        withUnsafeTemporaryAllocation(of: UInt64.self, capacity: 80) { w in
            for t in 0..<16 {
                var word: UInt64 = 0
                for j in 0..<8 {
                    word = (word << 8) | UInt64(block[t &* 8 &+ j])
                }
                w[t] = word
            }
            for t in 16..<80 {
                let s0 = rotr(w[t - 15], 1) ^ rotr(w[t - 15], 8) ^ (w[t - 15] >> 7)
                let s1 = rotr(w[t - 2], 19) ^ rotr(w[t - 2], 61) ^ (w[t - 2] >> 6)
                w[t] = w[t - 16] &+ s0 &+ w[t - 7] &+ s1
            }
            var a = h0
            var b = h1
            var c = h2
            var d = h3
            var e = h4
            var f = h5
            var g = h6
            var h = h7
            sha512RoundConstants.withUnsafeBufferPointer { k in
                for t in 0..<80 {
                    let bigSigma1 = rotr(e, 14) ^ rotr(e, 18) ^ rotr(e, 41)
                    let choice = (e & f) ^ (~e & g)
                    let t1 = h &+ bigSigma1 &+ choice &+ k[t] &+ w[t]
                    let bigSigma0 = rotr(a, 28) ^ rotr(a, 34) ^ rotr(a, 39)
                    let majority = (a & b) ^ (a & c) ^ (b & c)
                    let t2 = bigSigma0 &+ majority
                    h = g
                    g = f
                    f = e
                    e = d &+ t1
                    d = c
                    c = b
                    b = a
                    a = t1 &+ t2
                }
            }
            h0 &+= a
            h1 &+= b
            h2 &+= c
            h3 &+= d
            h4 &+= e
            h5 &+= f
            h6 &+= g
            h7 &+= h
        }
    }
}

@inline(__always)
private func rotr(_ x: UInt64, _ n: UInt64) -> UInt64 {
    (x >> n) | (x << (64 &- n))
}

@inline(__always)
private func appendBigEndian(_ word: UInt64, to bytes: inout [UInt8]) {
    var shift: UInt64 = 56
    while true {
        bytes.append(UInt8(truncatingIfNeeded: word >> shift))
        if shift == 0 { break }
        shift -= 8
    }
}

// FIPS 180-4 §4.2.3: the first 64 bits of the fractional parts of the cube roots of the
// first eighty primes (regenerated here by integer cube roots and checked by the FIPS vectors).
private let sha512RoundConstants: [UInt64] = [
    0x428a_2f98_d728_ae22, 0x7137_4491_23ef_65cd, 0xb5c0_fbcf_ec4d_3b2f, 0xe9b5_dba5_8189_dbbc,
    0x3956_c25b_f348_b538, 0x59f1_11f1_b605_d019, 0x923f_82a4_af19_4f9b, 0xab1c_5ed5_da6d_8118,
    0xd807_aa98_a303_0242, 0x1283_5b01_4570_6fbe, 0x2431_85be_4ee4_b28c, 0x550c_7dc3_d5ff_b4e2,
    0x72be_5d74_f27b_896f, 0x80de_b1fe_3b16_96b1, 0x9bdc_06a7_25c7_1235, 0xc19b_f174_cf69_2694,
    0xe49b_69c1_9ef1_4ad2, 0xefbe_4786_384f_25e3, 0x0fc1_9dc6_8b8c_d5b5, 0x240c_a1cc_77ac_9c65,
    0x2de9_2c6f_592b_0275, 0x4a74_84aa_6ea6_e483, 0x5cb0_a9dc_bd41_fbd4, 0x76f9_88da_8311_53b5,
    0x983e_5152_ee66_dfab, 0xa831_c66d_2db4_3210, 0xb003_27c8_98fb_213f, 0xbf59_7fc7_beef_0ee4,
    0xc6e0_0bf3_3da8_8fc2, 0xd5a7_9147_930a_a725, 0x06ca_6351_e003_826f, 0x1429_2967_0a0e_6e70,
    0x27b7_0a85_46d2_2ffc, 0x2e1b_2138_5c26_c926, 0x4d2c_6dfc_5ac4_2aed, 0x5338_0d13_9d95_b3df,
    0x650a_7354_8baf_63de, 0x766a_0abb_3c77_b2a8, 0x81c2_c92e_47ed_aee6, 0x9272_2c85_1482_353b,
    0xa2bf_e8a1_4cf1_0364, 0xa81a_664b_bc42_3001, 0xc24b_8b70_d0f8_9791, 0xc76c_51a3_0654_be30,
    0xd192_e819_d6ef_5218, 0xd699_0624_5565_a910, 0xf40e_3585_5771_202a, 0x106a_a070_32bb_d1b8,
    0x19a4_c116_b8d2_d0c8, 0x1e37_6c08_5141_ab53, 0x2748_774c_df8e_eb99, 0x34b0_bcb5_e19b_48a8,
    0x391c_0cb3_c5c9_5a63, 0x4ed8_aa4a_e341_8acb, 0x5b9c_ca4f_7763_e373, 0x682e_6ff3_d6b2_b8a3,
    0x748f_82ee_5def_b2fc, 0x78a5_636f_4317_2f60, 0x84c8_7814_a1f0_ab72, 0x8cc7_0208_1a64_39ec,
    0x90be_fffa_2363_1e28, 0xa450_6ceb_de82_bde9, 0xbef9_a3f7_b2c6_7915, 0xc671_78f2_e372_532b,
    0xca27_3ece_ea26_619c, 0xd186_b8c7_21c0_c207, 0xeada_7dd6_cde0_eb1e, 0xf57d_4f7f_ee6e_d178,
    0x06f0_67aa_7217_6fba, 0x0a63_7dc5_a2c8_98a6, 0x113f_9804_bef9_0dae, 0x1b71_0b35_131c_471b,
    0x28db_77f5_2304_7d84, 0x32ca_ab7b_40c7_2493, 0x3c9e_be0a_15c9_bebc, 0x431d_67c4_9c10_0d4c,
    0x4cc5_d4be_cb3e_42b6, 0x597f_299c_fc65_7e2a, 0x5fcb_6fab_3ad6_faec, 0x6c44_198c_4a47_5817,
]
