@testable import AuditTrail
import Crypto
import Testing

/// A trail of `count` records with a checkpoint after every `every`-th, signed by `signer`.
func trail(_ count: Int, checkpointEvery every: Int, signer: AuditSigner)
    throws -> (records: [AuditRecord], checkpoints: [AuditCheckpoint])
{
    var chain = AuditChain(after: nil, policy: .init(everyRecords: every), now: .zero)
    var records: [AuditRecord] = [], checkpoints: [AuditCheckpoint] = []
    for index in 1...count {
        records.append(try chain.append(AuditContent(
            time: 1_700_000_000_000 + Int64(index), actor: AuditActor(kind: .cli, name: "root@host"),
            action: index % 2 == 0 ? .banAdded : .userAdded, subject: "subject-\(index)",
            details: ["index": "\(index)"])))
        if chain.isCheckpointDue(now: .zero), let checkpoint = chain.checkpoint(signer: signer, time: 0, now: .zero) {
            checkpoints.append(checkpoint)
        }
    }
    return (records, checkpoints)
}

@Suite struct AuditContentEncodingTests {
    /// The canonical encoding, byte by byte, as its documentation says it is.
    @Test func theCanonicalEncodingIsTheDocumentedOne() throws {
        let content = AuditContent(time: 0x0102_0304_0506_0708, actor: AuditActor(kind: .cli, name: "r@h"),
                                   action: .banAdded, subject: "1.2.3.4", outcome: .failure("no"),
                                   details: ["z": "1", "a": ""])
        func field(_ text: String) -> [UInt8] { [0, 0, 0, UInt8(text.utf8.count)] + Array(text.utf8) }
        let expected: [UInt8] = [1, 1, 2, 3, 4, 5, 6, 7, 8] + field("cli") + field("r@h") + field("ban.add")
            + field("1.2.3.4") + field("failed") + field("no") + [0, 0, 0, 2] + field("a") + field("") + field("z")
            + field("1")
        #expect(try content.canonicalEncoding() == expected)
        #expect(try AuditContent(canonical: expected) == content)
    }

    /// Hostile text (line breaks, separators of every SIEM format, NUL, non-ASCII) is carried as it is and cannot
    /// move a field boundary: each field is length-prefixed.
    @Test func hostileTextStaysInsideItsField() throws {
        let hostile = "evil\r\nCEF:0|x|y|\\=|\t\u{0}é\u{202E}"
        let content = AuditContent(time: -1, actor: AuditActor(kind: .api, name: hostile), action: .userRemoved,
                                   subject: hostile, outcome: .failure(hostile), details: [hostile: hostile])
        let decoded = try AuditContent(canonical: try content.canonicalEncoding())
        #expect(decoded == content && decoded.subject == hostile)
    }

    /// Strict reading, so that one content has one encoding: every truncation, trailing bytes, a wrong version,
    /// an unknown actor kind or outcome, unsorted or repeated detail keys.
    @Test func onlyTheCanonicalBytesRead() throws {
        let encoded = try AuditContent(time: 5, actor: .edge, action: .banRemoved, subject: "s",
                                       details: ["a": "1", "b": "2"]).canonicalEncoding()
        for length in 0..<encoded.count {
            #expect(throws: AuditError(.malformedContent, "")) { try AuditContent(canonical: Array(encoded[..<length])) }
        }
        #expect(throws: AuditError(.malformedContent, "")) { try AuditContent(canonical: encoded + [0]) }
        var version = encoded
        version[0] = 2
        #expect(throws: AuditError(.malformedContent, "")) { try AuditContent(canonical: version) }
        func field(_ text: String) -> [UInt8] { [0, 0, 0, UInt8(text.utf8.count)] + Array(text.utf8) }
        let head: [UInt8] = [1] + [UInt8](repeating: 0, count: 8)
        let tail = field("s") + field("ok") + field("")
        #expect(throws: AuditError(.malformedContent, "")) {
            try AuditContent(canonical: head + field("root") + field("x") + field("ban.add") + tail + [0, 0, 0, 0])
        }
        let swapped = head + field("edge") + field("edge") + field("ban.add") + tail + [0, 0, 0, 2]
            + field("b") + field("2") + field("a") + field("1")
        #expect(throws: AuditError(.malformedContent, "")) { try AuditContent(canonical: swapped) }
        let repeated = head + field("edge") + field("edge") + field("ban.add") + tail + [0, 0, 0, 2]
            + field("a") + field("2") + field("a") + field("1")
        #expect(throws: AuditError(.malformedContent, "")) { try AuditContent(canonical: repeated) }
        let outcome = head + field("edge") + field("edge") + field("ban.add") + field("s") + field("maybe")
            + field("") + [0, 0, 0, 0]
        #expect(throws: AuditError(.malformedContent, "")) { try AuditContent(canonical: outcome) }
    }

    /// A record is evidence, not a place for payloads: an oversized field is refused, and nothing is appended.
    @Test func anOversizedFieldIsRefusedAndTheChainDoesNotMove() throws {
        var chain = AuditChain(after: nil, now: .zero)
        let big = String(repeating: "x", count: AuditContent.maximumFieldBytes + 1)
        #expect(throws: AuditError(.fieldTooLong, "")) {
            _ = try chain.append(AuditContent(time: 0, actor: .edge, action: .banAdded, subject: big))
        }
        let many = Dictionary(uniqueKeysWithValues: (0...AuditContent.maximumDetails).map { ("\($0)", "") })
        #expect(throws: AuditError(.fieldTooLong, "")) {
            _ = try chain.append(AuditContent(time: 0, actor: .edge, action: .banAdded, subject: "s", details: many))
        }
        #expect(chain.lastSequence == 0 && chain.lastLink == AuditChain.genesis && chain.uncheckpointed == 0)
    }
}

@Suite struct AuditChainTests {
    @Test func recordsAreNumberedAndLinkedAndResumeAfterARestart() throws {
        var chain = AuditChain(after: nil, now: .zero)
        let first = try chain.append(AuditContent(time: 1, actor: .edge, action: .configurationLoaded, subject: "c"))
        let second = try chain.append(AuditContent(time: 2, actor: .edge, action: .banAdded, subject: "b"))
        #expect(first.sequence == 1 && second.sequence == 2)
        #expect(first.link == AuditChain.link(after: AuditChain.genesis, sequence: 1, contentDigest: first.contentDigest))
        #expect(second.link == AuditChain.link(after: first.link, sequence: 2, contentDigest: second.contentDigest))
        var resumed = AuditChain(after: second, now: .zero)
        let third = try resumed.append(AuditContent(time: 3, actor: .edge, action: .banRemoved, subject: "b"))
        #expect(third.sequence == 3 && third.link == AuditChain.link(after: second.link, sequence: 3,
                                                                    contentDigest: third.contentDigest))
    }

    /// A checkpoint is due after so many records, or once the interval has passed with records waiting; never
    /// for nothing.
    @Test func checkpointsAreDueByCountOrByTime() throws {
        let signer = AuditSigner()
        var chain = AuditChain(after: nil, policy: .init(everyRecords: 3, every: .seconds(60)), now: .zero)
        #expect(!chain.isCheckpointDue(now: .seconds(3_600)), "nothing to sign")
        #expect(chain.checkpoint(signer: signer, time: 0, now: .zero) == nil)
        for index in 0..<2 { _ = try chain.append(AuditContent(time: Int64(index), actor: .edge, action: .banAdded, subject: "")) }
        #expect(!chain.isCheckpointDue(now: .seconds(59)))
        #expect(chain.isCheckpointDue(now: .seconds(60)))
        _ = try chain.append(AuditContent(time: 2, actor: .edge, action: .banAdded, subject: ""))
        #expect(chain.isCheckpointDue(now: .seconds(1)))
        let signed = chain.checkpoint(signer: signer, time: 9, now: .seconds(1))
        let checkpoint = try #require(signed)
        #expect(checkpoint.sequence == 3 && checkpoint.link == chain.lastLink && signer.publicKey.isValid(checkpoint))
        #expect(!chain.isCheckpointDue(now: .seconds(2)) && chain.uncheckpointed == 0)
    }

    @Test func hexIsLowercaseOutAndEitherCaseIn() {
        #expect(AuditHex.encode([0x00, 0x9F, 0xAB, 0xFF]) == "009fabff")
        #expect(AuditHex.decode("009FabfF") == [0x00, 0x9F, 0xAB, 0xFF] && AuditHex.decode("") == [])
        for bad in ["0", "0g", "+f", "-0", " 0f", "0f "] { #expect(AuditHex.decode(bad) == nil, "\(bad)") }
    }

    @Test func keysReadBackAndPublicKeysHaveATextForm() throws {
        let signer = AuditSigner()
        let again = try AuditSigner(rawRepresentation: signer.rawRepresentation)
        #expect(again.publicKey == signer.publicKey)
        let text = signer.publicKey.text
        #expect(text.count == 64 && text.allSatisfy { $0.isHexDigit && !$0.isUppercase })
        #expect(try AuditPublicKey(text: "  \(text.uppercased())\n") == signer.publicKey)
        for bad in ["", String(text.dropLast()), String(text.dropLast()) + "g", text + "00"] {
            #expect(throws: AuditError(.badKey, "")) { try AuditPublicKey(text: bad) }
        }
        #expect(throws: AuditError(.badKey, "")) { try AuditSigner(rawRepresentation: [1, 2, 3]) }
    }
}

@Suite struct AuditVerifierTests {
    let signer = AuditSigner()

    @Test func anIntactTrailVerifiesAndItsUnsignedTailIsCounted() throws {
        let (records, checkpoints) = try trail(25, checkpointEvery: 10, signer: signer)
        let result = AuditVerifier.verify(records: records, checkpoints: checkpoints, publicKey: signer.publicKey)
        #expect(result.isIntact, "\(result.breaks)")
        #expect(result.records == 25 && result.validCheckpoints == 2 && result.lastCheckpoint == 20)
        #expect(result.unsignedRecords == 5)
    }

    @Test func aChangedContentIsFoundWhereItIs() throws {
        var (records, checkpoints) = try trail(25, checkpointEvery: 10, signer: signer)
        records[6].content?[20] ^= 1
        let result = AuditVerifier.verify(records: records, checkpoints: checkpoints, publicKey: signer.publicKey)
        #expect(result.breaks == [.contentChanged(sequence: 7)])
    }

    /// Changing a record and its digest breaks the link there; relinking everything after it (anyone can hash)
    /// still fails at the next checkpoint, which needs the key.
    @Test func aRewrittenHistoryBreaksTheLinkOrTheNextCheckpoint() throws {
        var (records, checkpoints) = try trail(25, checkpointEvery: 10, signer: signer)
        var forged = try AuditContent(canonical: try #require(records[12].content))
        forged.subject = "someone else"
        let encoded = try forged.canonicalEncoding()
        var rewritten = records
        rewritten[12] = AuditRecord(sequence: 13, contentDigest: Array(SHA256.hash(data: encoded)),
                                    link: records[12].link, content: encoded)
        #expect(AuditVerifier.verify(records: rewritten, checkpoints: checkpoints, publicKey: signer.publicKey).breaks
            == [.linkBroken(sequence: 13)])
        // Relinked from there to the end: consistent, except with the checkpoint at 20.
        var previous = records[11].link
        for index in 12..<rewritten.count {
            rewritten[index].link = AuditChain.link(after: previous, sequence: rewritten[index].sequence,
                                                    contentDigest: rewritten[index].contentDigest)
            previous = rewritten[index].link
        }
        let result = AuditVerifier.verify(records: rewritten, checkpoints: checkpoints, publicKey: signer.publicKey)
        #expect(result.breaks == [.checkpointMismatch(sequence: 20)])
        // With a checkpoint of the attacker's own key, too: forged.
        let other = AuditSigner()
        var chain = AuditChain(after: rewritten[19], uncheckpointed: 1, now: .zero)
        let signed = chain.checkpoint(signer: other, time: 0, now: .zero)
        let fake = try #require(signed)
        let replaced = checkpoints.filter { $0.sequence != 20 } + [fake]
        #expect(AuditVerifier.verify(records: rewritten, checkpoints: replaced, publicKey: signer.publicKey).breaks
            == [.forgedCheckpoint(sequence: 20)])
    }

    @Test func deletedInsertedAndReorderedRecordsAreNamed() throws {
        let (records, checkpoints) = try trail(25, checkpointEvery: 10, signer: signer)
        var deleted = records
        deleted.removeSubrange(4...5)
        #expect(AuditVerifier.verify(records: deleted, checkpoints: checkpoints, publicKey: signer.publicKey).breaks
            == [.missing(from: 5, through: 6)])

        var inserted = records
        inserted.insert(records[3], at: 8)
        #expect(AuditVerifier.verify(records: inserted, checkpoints: checkpoints, publicKey: signer.publicKey).breaks
            == [.outOfOrder(sequence: 4, after: 8)])

        var reordered = records
        reordered.swapAt(14, 15)
        let breaks = AuditVerifier.verify(records: reordered, checkpoints: checkpoints, publicKey: signer.publicKey).breaks
        #expect(breaks == [.missing(from: 15, through: 15), .outOfOrder(sequence: 15, after: 16)])
    }

    @Test func aTailCutPastACheckpointIsTruncation() throws {
        let (records, checkpoints) = try trail(25, checkpointEvery: 10, signer: signer)
        let result = AuditVerifier.verify(records: records.prefix(17), checkpoints: checkpoints,
                                          publicKey: signer.publicKey)
        #expect(result.breaks == [.truncated(lastRecord: 17, checkpoint: 20)])
        let empty = AuditVerifier.verify(records: [], checkpoints: checkpoints, publicKey: signer.publicKey)
        #expect(empty.breaks == [.truncated(lastRecord: 0, checkpoint: 10), .truncated(lastRecord: 0, checkpoint: 20)])
    }

    @Test func aCheckpointWhoseFieldsWereEditedNoLongerVerifies() throws {
        let (records, checkpoints) = try trail(25, checkpointEvery: 10, signer: signer)
        var edited = checkpoints
        edited[0].time += 1
        edited[1].link[0] ^= 1
        let result = AuditVerifier.verify(records: records, checkpoints: edited, publicKey: signer.publicKey)
        #expect(result.breaks == [.forgedCheckpoint(sequence: 10), .forgedCheckpoint(sequence: 20)])
    }

    /// Erasure keeps the digest: the chain verifies, and says who erased what when; content removed without an
    /// `audit.erase` record is a break.
    @Test func anAuditedErasureVerifiesAndAnUnauditedOneDoesNot() throws {
        var (records, checkpoints) = try trail(25, checkpointEvery: 10, signer: signer)
        var chain = AuditChain(after: records.last, uncheckpointed: 5, now: .zero)
        let admin = AuditActor(kind: .cli, name: "dpo@host")
        records.append(try chain.append(signer.signed(AuditContent(
            time: 1_800_000_000_000, actor: admin, action: .auditErased, subject: "subject-3",
            details: ["sequences": "3,7-8"]))))
        let signed = chain.checkpoint(signer: signer, time: 0, now: .zero)
        checkpoints.append(try #require(signed))
        for index in [2, 6, 7] { records[index] = records[index].erased() }
        let result = AuditVerifier.verify(records: records, checkpoints: checkpoints, publicKey: signer.publicKey)
        #expect(result.isIntact, "\(result.breaks)")
        #expect(result.erasures.map(\.sequence) == [3, 7, 8])
        #expect(result.erasures.allSatisfy { $0.actor == admin && $0.time == 1_800_000_000_000 })
        records[10] = records[10].erased()
        #expect(AuditVerifier.verify(records: records, checkpoints: checkpoints, publicKey: signer.publicKey).breaks
            == [.unauditedErasure(sequence: 11)])
    }

    /// Someone who can write the database but lacks the key appends an erasure that excuses a content they removed,
    /// and the edge's next checkpoint signs it: the erasure is unsigned, so it excuses nothing.
    @Test func anErasureWithoutTheKeysSignatureExcusesNothing() throws {
        var (records, checkpoints) = try trail(25, checkpointEvery: 10, signer: signer)
        var chain = AuditChain(after: records.last, uncheckpointed: 5, now: .zero)
        let forged = AuditContent(time: 1_800_000_000_000, actor: AuditActor(kind: .cli, name: "dpo@host"),
                                  action: .auditErased, subject: "subject-3", details: ["sequences": "3"])
        let otherKey = AuditSigner()
        for erasure in [forged, otherKey.signed(forged)] {
            var attempt = (records, checkpoints, chain)
            attempt.0.append(try attempt.2.append(erasure))
            let checkpoint = attempt.2.checkpoint(signer: signer, time: 0, now: .zero)
            attempt.1.append(try #require(checkpoint))
            attempt.0[2] = attempt.0[2].erased()
            let breaks = AuditVerifier.verify(records: attempt.0, checkpoints: attempt.1, publicKey: signer.publicKey).breaks
            #expect(breaks == [.unsignedErasure(sequence: 26), .unauditedErasure(sequence: 3)], "\(breaks)")
        }
        // A signed erasure whose list was edited afterwards no longer verifies either (its digest changes first).
        records.append(try chain.append(signer.signed(forged)))
        let lastCheckpoint = chain.checkpoint(signer: signer, time: 0, now: .zero)
        checkpoints.append(try #require(lastCheckpoint))
        records[2] = records[2].erased()
        #expect(AuditVerifier.verify(records: records, checkpoints: checkpoints, publicKey: signer.publicKey).isIntact)
    }

    /// A key rotation the trail records: checkpoints before it verify under the key it replaced (named by the
    /// trail's `audit.key` record), those after under the new one; a key pair added by someone after the last
    /// checkpoint of the trusted key is not trusted.
    @Test func theVerifierFollowsTheKeysTheTrailNames() throws {
        let first = AuditSigner(), second = AuditSigner(), intruder = AuditSigner()
        let root = AuditActor(kind: .cli, name: "root@host")
        var chain = AuditChain(after: nil, now: .zero)
        var records = [try chain.append(AuditContent(time: 1, actor: root, action: .auditKeyCreated, subject: "audit.key",
                                                     details: ["publicKey": first.publicKey.text]))]
        records.append(try chain.append(AuditContent(time: 2, actor: root, action: .userAdded, subject: "alice")))
        let firstCheckpoint = chain.checkpoint(signer: first, time: 2, now: .zero)
        var checkpoints = [try #require(firstCheckpoint)]
        records.append(try chain.append(AuditContent(time: 3, actor: root, action: .auditKeyReplaced, subject: "audit.key",
                                                     details: ["publicKey": second.publicKey.text])))
        records.append(try chain.append(second.signed(AuditContent(time: 4, actor: root, action: .auditErased,
                                                                   subject: "alice", details: ["sequences": "2"]))))
        records[1] = records[1].erased()
        let secondCheckpoint = chain.checkpoint(signer: second, time: 4, now: .zero)
        checkpoints.append(try #require(secondCheckpoint))
        let rotated = AuditVerifier.verify(records: records, checkpoints: checkpoints, publicKey: second.publicKey)
        #expect(rotated.isIntact && rotated.validCheckpoints == 2 && rotated.erasures.map(\.sequence) == [2],
                "\(rotated.breaks)")
        // Only the first key known: the second's checkpoint is vouched for by nothing that key signed.
        #expect(AuditVerifier.verify(records: records, checkpoints: checkpoints, publicKey: first.publicKey).breaks
            == [.untrustedKey(sequence: 4)])

        records.append(try chain.append(AuditContent(time: 5, actor: root, action: .auditKeyReplaced, subject: "audit.key",
                                                     details: ["publicKey": intruder.publicKey.text])))
        records.append(try chain.append(AuditContent(time: 6, actor: root, action: .userAdded, subject: "mallory")))
        let intruderCheckpoint = chain.checkpoint(signer: intruder, time: 6, now: .zero)
        checkpoints.append(try #require(intruderCheckpoint))
        #expect(AuditVerifier.verify(records: records, checkpoints: checkpoints, publicKey: second.publicKey).breaks
            == [.untrustedKey(sequence: 6)])
    }

    /// An export of a part (from record 11) verifies on its own from the link before it.
    @Test func aPartOfTheTrailVerifiesFromTheLinkBeforeIt() throws {
        let (records, checkpoints) = try trail(25, checkpointEvery: 10, signer: signer)
        let result = AuditVerifier.verify(records: records[10...], checkpoints: checkpoints,
                                          publicKey: signer.publicKey, previousLink: records[9].link)
        #expect(result.isIntact && result.validCheckpoints == 1 && result.lastCheckpoint == 20)
        #expect(result.unsignedRecords == 5)
        let wrongStart = AuditVerifier.verify(records: records[10...], checkpoints: checkpoints,
                                              publicKey: signer.publicKey, previousLink: records[8].link)
        #expect(wrongStart.breaks == [.linkBroken(sequence: 11)])
    }

    @Test func erasureListsReadAsNumbersAndRanges() {
        #expect(AuditVerifier.sequences("3,7-9, 12") == [3, 7, 8, 9])  // " 12" is not a number: ignored
        #expect(AuditVerifier.sequences("9-7,x,1-2-3") == [])
        // A hostile list cannot expand into billions: nothing past a million in all.
        let hostile = Array(repeating: "0-999998", count: 400).joined(separator: ",")
        #expect(AuditVerifier.sequences(hostile).count == 999_999)
        #expect(AuditVerifier.sequences("-9223372036854775808-9223372036854775807").isEmpty)
    }

    /// Numbers at the ends of Int64 in a crafted export are counted, never trapped on.
    @Test func extremeSequenceNumbersDoNotTrap() throws {
        var chain = AuditChain(after: nil, now: .zero)
        var first = try chain.append(AuditContent(time: 0, actor: .edge, action: .banAdded, subject: "a"))
        first.sequence = .min
        var last = try chain.append(AuditContent(time: 0, actor: .edge, action: .banAdded, subject: "b"))
        last.sequence = .max
        let result = AuditVerifier.verify(records: [first, last], checkpoints: [], publicKey: signer.publicKey)
        #expect(!result.isIntact && result.unsignedRecords == Int.max)
        let alone = AuditVerifier.verify(records: [last, last], checkpoints: [], publicKey: signer.publicKey)
        #expect(alone.breaks.contains(.outOfOrder(sequence: .max, after: .max)))
    }
}
