import Testing

@testable import SIPAuth

/// FIPS 180-4 §5.3.6.2 SHA-512/256, against the NIST example values and hashlib.
@Suite struct SHA512_256Tests {
    private func hexOf(_ text: String) -> String {
        hex(SHA512_256.hash(Array(text.utf8)))
    }

    @Test func abc() {
        #expect(hexOf("abc") == "53048e2681941ef99b2e29b76b4c7dabe4c2d0c634fc6d46e0e2f13107e7af23")
    }

    @Test func emptyMessage() {
        #expect(hexOf("") == "c672b8d1ef56ed28ab87c3622c5114069bdd3ad7b8f9737498d0c01ecef0967a")
    }

    @Test func twoBlockMessage() {
        // The 896-bit FIPS example message: padding spills into a second block.
        let message =
            "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu"
        #expect(hexOf(message) == "3928e184fb8690f840da3988121d31be65cb9d3ef83ee6146feac861e19b563a")
    }

    @Test func oneMillionAs() {
        #expect(
            hex(SHA512_256.hash([UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)))
                == "9a59a052930187a97038cae692f30708aa6491923ef5194394dc68d56c74fb21")
    }

    /// Lengths around the padding boundaries (111/112 bytes) and the block size (128),
    /// recomputed with Python's hashlib `sha512_256`.
    @Test(arguments: [
        (111, "bd209f60b0d04102a09175297fd255367e54b5a5605b928635c606306914363f"),
        (112, "2cafeb0882cc405167e9a255b8581a66dc683212474902dd453dbca20a94e61a"),
        (119, "6fdcc1a442cc8391d7dd5a0db6601efaee9a4954056c78a64038c36bf7acb368"),
        (120, "be74a90abbc2ea03ff56dedae4eda154ba6cf24d73a515903356283b653f5109"),
        (127, "c26bc7e9315e62ab0dc6aeb577724d07c09b0c6fdfc0a9f08d8548047c032248"),
        (128, "2ff11194b2aec1f943cb5f130ba647c151334068083194d7281a55d607ae255f"),
        (129, "c4a3bbf841ed2a289e5109fb392229c80db61c72fd92079b5a4f0441f095a111"),
        (239, "b81472d255d80182e196481e5866aa207761a152302a0237e242eb88c577a428"),
        (240, "6ca13c55886b74a5ca2ac9782c4b9a49fe3aeeefdfc0cefc34984872fb4c54fd"),
        (255, "fd932614f375bf71420530a690cb16e52c08e99cfe741ac8436fca8c8bfd5676"),
        (256, "0837a11d994d5aa860d06917a8a0f63e3111b95633deeb15eed9949376f37d36"),
    ])
    func boundaryLengths(length: Int, expected: String) {
        let message = (0..<length).map { UInt8($0) }
        #expect(hex(SHA512_256.hash(message)) == expected)

        // The same message fed in uneven pieces, and byte by byte from a non-contiguous
        // sequence, gives the same digest.
        var pieces = SHA512_256()
        var start = 0
        var size = 1
        while start < length {
            let end = min(length, start + size)
            pieces.update(message[start..<end])
            start = end
            size = size * 3 + 1
        }
        #expect(hex(pieces.finalize()) == expected)

        var bytewise = SHA512_256()
        bytewise.update(message.lazy.map { $0 })
        #expect(hex(bytewise.finalize()) == expected)
    }

    @Test func isNotTruncatedSHA512() {
        // FIPS 180-4 §5.3.6: its own initial hash value, so not SHA-512's first 32 bytes
        // (SHA-512("abc") begins ddaf35a1...).
        #expect(!hexOf("abc").hasPrefix("ddaf35a1"))
    }

    @Test func digestAlgorithmUsesIt() {
        #expect(
            DigestAlgorithm.sha512_256.hexDigest(Array("abc".utf8))
                == "53048e2681941ef99b2e29b76b4c7dabe4c2d0c634fc6d46e0e2f13107e7af23")
        #expect(
            DigestAlgorithm.sha256.hexDigest([]) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(DigestAlgorithm.Insecure.md5.hexDigest([]) == "d41d8cd98f00b204e9800998ecf8427e")
    }
}
