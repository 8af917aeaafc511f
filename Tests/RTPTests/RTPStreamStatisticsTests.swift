@testable import RTP
import Testing

@Suite struct RTPStreamStatisticsTests {
    /// 20 ms G.711 packets (160 timestamp units) arriving every 20 ms exactly, or as `arrivals` says.
    static func feed(_ sequences: [UInt16], into statistics: inout RTPStreamStatistics, jitter: (Int) -> Int64 = { _ in 0 }) {
        for (position, sequence) in sequences.enumerated() {
            let slot = Int64(sequence &- sequences[0])
            statistics.record(sequence: sequence, timestamp: UInt32(truncatingIfNeeded: 1_000 + slot * 160),
                              arrivalNanoseconds: 5_000_000_000 + slot * 20_000_000 + jitter(position),
                              payloadOctets: 160)
        }
    }

    @Test func aCleanStreamHasNoLossAndNoJitter() {
        var statistics = RTPStreamStatistics(clockRate: 8_000)
        Self.feed(Array(0..<500), into: &statistics)
        #expect(statistics.received == 500 && statistics.expected == 500 && statistics.lost == 0)
        #expect(statistics.jitter == 0 && statistics.duplicates == 0 && statistics.outOfOrder == 0)
        #expect(statistics.payloadOctets == 80_000)
        #expect(abs(EModel.meanOpinionScore(statistics, payloadType: 8) - 4.40) < 0.02)
    }

    /// Dropping every 10th packet of 1,000 across a sequence wrap: 100 lost of 1,000 expected, the wrap counted as
    /// a cycle, not as loss.
    @Test func lossAcrossTheSequenceWrapIsCounted() {
        var statistics = RTPStreamStatistics(clockRate: 8_000)
        let sequences = (0..<1_000).map { UInt16(truncatingIfNeeded: 65_000 + $0) }.enumerated()
            .filter { $0.offset % 10 != 5 }.map(\.element)
        Self.feed(sequences, into: &statistics)
        #expect(statistics.expected == 1_000)
        #expect(statistics.lost == 100)
        #expect(abs(statistics.lossFraction - 0.1) < 1e-9)
        #expect(statistics.extendedHighestSequence == 65_536 + UInt32(UInt16(truncatingIfNeeded: 65_000 + 999)))
    }

    @Test func duplicatesAndReorderedPacketsAreToldApart() {
        var statistics = RTPStreamStatistics(clockRate: 8_000)
        Self.feed([1, 2, 4, 3, 5, 5, 2, 6], into: &statistics)
        #expect(statistics.received == 6)
        #expect(statistics.duplicates == 2)
        #expect(statistics.outOfOrder == 1)
        #expect(statistics.lost == 0)
    }

    /// RFC 3550 A.8 by hand: arrivals alternately 0 and 10 ms late give |D| = 80 units every packet, so J tends
    /// to 80 (10 ms) as J += (80 - J) / 16.
    @Test func jitterFollowsRFC3550AppendixA8() {
        var statistics = RTPStreamStatistics(clockRate: 8_000)
        Self.feed(Array(0..<400), into: &statistics) { $0 % 2 == 0 ? 0 : 10_000_000 }
        var expected = 0.0
        for _ in 1..<400 { expected += (80 - expected) / 16 }
        #expect(abs(statistics.jitter - expected) < 1e-6)
        #expect(abs(statistics.jitterMilliseconds - 10) < 0.01)
    }

    /// A sender that restarts its sequence numbers far away: the first jumped packet is held back, the second
    /// confirms the restart (RFC 3550 A.1), and loss is not counted for the jump.
    @Test func aSequenceRestartIsNotLoss() {
        var statistics = RTPStreamStatistics(clockRate: 8_000)
        Self.feed(Array(100..<110), into: &statistics)
        for sequence in UInt16(40_000)..<40_010 {
            statistics.record(sequence: sequence, timestamp: 0, arrivalNanoseconds: 9_000_000_000, payloadOctets: 160)
        }
        #expect(statistics.restarts == 1)
        #expect(statistics.lost == 0)
        #expect(statistics.expected == 9, "counted from the confirming packet")
    }

    /// G.107 anchors: R 93.2 is MOS 4.41 and R 50 is 2.58; a 150 ms one-way delay costs 3.6; 1 % random loss on
    /// G.711 with concealment costs 95 / 26.1.
    @Test func theEModelMatchesG107Anchors() {
        #expect(abs(EModel.meanOpinionScore(rating: 93.2) - 4.41) < 0.005)
        #expect(abs(EModel.meanOpinionScore(rating: 50) - 2.58) < 0.01)
        #expect(EModel.meanOpinionScore(rating: -3) == 1 && EModel.meanOpinionScore(rating: 120) == 4.5)
        #expect(abs(EModel.rating(lossFraction: 0, oneWayDelayMilliseconds: 150) - 89.6) < 0.001)
        #expect(abs(EModel.rating(lossFraction: 0.01, oneWayDelayMilliseconds: 0) - (93.2 - 95 / 26.1)) < 1e-9)
        #expect(EModel.rating(lossFraction: 0.05, oneWayDelayMilliseconds: 0, codec: .g729a)
                < EModel.rating(lossFraction: 0.05, oneWayDelayMilliseconds: 0, codec: .g711))
        #expect(EModel.rating(lossFraction: 0, oneWayDelayMilliseconds: 300) < 80, "past 177 ms delay costs more")
    }
}
