import Foundation
import Storage
import StorageSQLite
import Testing

func callRecord(_ id: String, at started: Int64, caller: String = "sip:alice@example.com",
                callee: String = "sip:bob@example.com", account: String? = "alice@example.com",
                disposition: CallDetailRecord.Disposition = .answered) -> CallDetailRecord {
    CallDetailRecord(
        id: id, startedAtMilliseconds: started, answeredAtMilliseconds: disposition == .answered ? started + 2_000 : nil,
        endedAtMilliseconds: started + 62_500, caller: caller, callee: callee, account: account,
        disposition: disposition, finalStatus: disposition == .answered ? 200 : 486,
        hangupSide: disposition == .answered ? .callee : nil, hangupReason: disposition == .answered ? "bye" : nil,
        mediaEncryption: "sdes-srtp/AEAD_AES_256_GCM", srtpSuite: "AEAD_AES_256_GCM",
        securityEvents: disposition == .answered ? [] : ["media-downgrade-attempt"],
        media: disposition == .answered ? [
            CallMediaStream(section: 0, sender: .caller, packets: 3_000, payloadOctets: 480_000, lost: 12, duplicates: 1,
                            outOfOrder: 2, jitterMilliseconds: 1.25, meanOpinionScore: 4.21, droppedForeign: 30,
                            droppedUnlatched: 0, payloads: "encrypted", reportedFractionLost: 0.004, reportedLost: 13,
                            reportedJitterMilliseconds: 1.5, roundTripMilliseconds: 42.125),
            CallMediaStream(section: 0, sender: .callee, packets: 2_990, payloadOctets: 478_400, lost: 0, duplicates: 0,
                            outOfOrder: 0, jitterMilliseconds: 0.5, meanOpinionScore: nil, droppedForeign: 0,
                            droppedUnlatched: 3),
        ] : [])
}

@Suite struct CallRecordStoreTests {
    @Test(arguments: StoreKind.allCases)
    func recordsRoundTripAndTheLastSaveOfAnIdWins(_ kind: StoreKind) async throws {
        let store = try kind.make()
        let busy = callRecord("c2", at: 2_000_000, disposition: .busy)
        var ringing = callRecord("c1", at: 1_000_000)
        ringing.endedAtMilliseconds = nil
        try await store.saveCallRecords([busy, ringing])
        var ended = ringing
        ended.endedAtMilliseconds = 1_070_000
        try await store.saveCallRecords([ended])
        let all = try await store.callRecords(matching: CallRecordFilter())
        #expect(all == [ended, busy])  // oldest first, one record per id
        #expect(all[0].durationSeconds == 68)
        #expect(all[0].media.count == 2 && all[0].media[0].lost == 12 && all[0].media[1].meanOpinionScore == nil)
        #expect(all[1].securityEvents == ["media-downgrade-attempt"])
    }

    @Test(arguments: StoreKind.allCases)
    func filtersCombineAndReadsAreBounded(_ kind: StoreKind) async throws {
        let store = try kind.make()
        try await store.saveCallRecords([
            callRecord("a", at: 100), callRecord("b", at: 200, callee: "sip:carol@example.com", disposition: .noAnswer),
            callRecord("c", at: 300, caller: "sip:dave@example.com", callee: "sip:alice@example.com", account: nil),
            callRecord("d", at: 400, disposition: .cancelled),
        ])
        func ids(_ filter: CallRecordFilter) async throws -> [String] {
            try await store.callRecords(matching: filter).map(\.id)
        }
        #expect(try await ids(CallRecordFilter(startedFrom: 200, startedBefore: 400)) == ["b", "c"])
        #expect(try await ids(CallRecordFilter(party: "sip:alice@example.com")) == ["a", "b", "c", "d"])
        #expect(try await ids(CallRecordFilter(party: "sip:carol@example.com")) == ["b"])
        #expect(try await ids(CallRecordFilter(account: "alice@example.com", disposition: .cancelled)) == ["d"])
        #expect(try await ids(CallRecordFilter(limit: 2)) == ["a", "b"])
        #expect(CallRecordFilter(limit: 0).limit == 1)
        #expect(CallRecordFilter(limit: Int.max).limit == CallRecordFilter.maxLimit)
    }

    @Test func sqliteCallRecordsSurviveARestart() async throws {
        let path = temporaryDatabasePath()
        defer {
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        }
        let record = callRecord("kept", at: 1_800_000_000_000)
        do { try await SQLiteStore(path: path).saveCallRecords([record]) }
        #expect(try await SQLiteStore(path: path).callRecords(matching: CallRecordFilter()) == [record])
    }
}
