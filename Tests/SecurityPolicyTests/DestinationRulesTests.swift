import Foundation
import SecurityPolicy
import Testing

@Suite struct DestinationRulesTests {
    func reason(_ verdict: DestinationVerdict) -> DestinationDenial.Reason? {
        if case .denied(let denial) = verdict { return denial.reason }
        return nil
    }

    func denyListed(_ prefix: String) -> DestinationVerdict { .denied(.init(reason: .denyListed(prefix: prefix))) }

    @Test func theLongestAllowOrDenyPrefixDecidesAndTiesGoToDeny() throws {
        let rules = try DestinationRules(homeCountryCode: "49", denyPrefixes: ["+49900", "+1", "4930"],
                                         internationalByDefault: true)
        #expect(rules.verdict(account: "alice", number: "+4930123456") == denyListed("+4930"))
        #expect(rules.verdict(account: "alice", number: "+49900123456") == denyListed("+49900"))
        #expect(rules.verdict(account: "alice", number: "+4989123456") == .allowed(international: false))
        #expect(rules.verdict(account: "alice", number: "+12125550100") == denyListed("+1"))

        let mixed = try DestinationRules(homeCountryCode: "1", allowPrefixes: ["+1800", "+1212", "+44"],
                                         denyPrefixes: ["+1", "+1212555", "+44"], internationalByDefault: true)
        #expect(mixed.verdict(account: "a", number: "+18005550100") == .allowed(international: false))
        #expect(mixed.verdict(account: "a", number: "+12125550100") == denyListed("+1212555"))
        #expect(mixed.verdict(account: "a", number: "+12124440100") == .allowed(international: false))
        #expect(mixed.verdict(account: "a", number: "+13105550100") == denyListed("+1"))
        #expect(mixed.verdict(account: "a", number: "+442071234567") == denyListed("+44"))
        #expect(mixed.verdict(account: "a", number: "+33123456789") == .denied(.init(reason: .notAllowListed)))
        #expect(mixed.allowPrefixes == ["+1212", "+1800", "+44"])
        #expect(mixed.denyPrefixes == ["+1", "+1212555", "+44"])
    }

    @Test func anAllowListAdmitsOnlyItsDestinations() throws {
        let rules = try DestinationRules(homeCountryCode: "44", allowPrefixes: ["+4420", "+4480"])
        #expect(rules.verdict(account: "a", number: "+442071234567") == .allowed(international: false))
        let denial = DestinationDenial(reason: .notAllowListed)
        #expect(rules.verdict(account: "a", number: "+441611234567") == .denied(denial))
        #expect(denial.sipStatus == 403)
        #expect(denial.description == "destination not allow-listed")
    }

    @Test func internationalCallsNeedThePermissionWhichIsOffByDefault() throws {
        let rules = try DestinationRules(homeCountryCode: "49", internationalAccounts: ["bob"])
        let denial = DestinationDenial(reason: .international)
        #expect(rules.verdict(account: "alice", number: "+4930123456") == .allowed(international: false))
        #expect(rules.verdict(account: "alice", number: "+33123456789") == .denied(denial))
        #expect(rules.verdict(account: "bob", number: "+33123456789") == .allowed(international: true))
        // "+4" is not "+49": a number in another country code sharing the first digit is international.
        #expect(rules.verdict(account: "alice", number: "+41441234567") == .denied(denial))
        #expect(denial.sipStatus == 403)

        var open = rules
        open.internationalByDefault = true
        #expect(open.verdict(account: "alice", number: "+33123456789") == .allowed(international: true))
    }

    @Test func highRiskDestinationsAreRefusedWithTheirLabelUnlessTheAccountMayCallThem() throws {
        let list = try DestinationRules.parsePrefixList("+881,Satellite\n+8816,Iridium satellite\n+49900,DE premium\n")
        let rules = try DestinationRules(homeCountryCode: "49", highRiskPrefixes: list,
                                         internationalAccounts: ["ops", "bob"], highRiskAccounts: ["ops", "carol"])
        let iridium = DestinationDenial(reason: .highRisk(prefix: "+8816", label: "Iridium satellite"))
        #expect(rules.verdict(account: "bob", number: "+881612345678") == .denied(iridium))
        #expect(iridium.description == "high-risk destination (+8816: Iridium satellite)")
        #expect(rules.verdict(account: "bob", number: "+881212345678")
            == .denied(.init(reason: .highRisk(prefix: "+881", label: "Satellite"))))
        #expect(rules.verdict(account: "ops", number: "+881612345678") == .allowed(international: true))
        // Permission for high risk is not permission for international: carol may call domestic premium only.
        #expect(rules.verdict(account: "carol", number: "+49900123456") == .allowed(international: false))
        #expect(rules.verdict(account: "carol", number: "+881612345678") == .denied(.init(reason: .international)))
        #expect(rules.verdict(account: "alice", number: "+49900123456")
            == .denied(.init(reason: .highRisk(prefix: "+49900", label: "DE premium"))))
        #expect(rules.highRiskPrefixes.map(\.prefix) == ["+49900", "+881", "+8816"])
    }

    @Test(arguments: ["", "+", "4930123", "+49 30", "+4930x", "+1234567890123456", "tel:+4930"])
    func aNumberThatIsNotE164IsRefused(number: String) throws {
        let rules = try DestinationRules(homeCountryCode: "49", internationalByDefault: true)
        #expect(rules.verdict(account: "a", number: number) == .denied(.init(reason: .invalidNumber)))
    }

    @Test func invalidConfigurationThrowsATypedError() {
        #expect(throws: FraudRuleError(.invalidPrefix, "")) { try DestinationRules(homeCountryCode: "4a") }
        #expect(throws: FraudRuleError(.invalidPrefix, "")) { try DestinationRules(homeCountryCode: "") }
        #expect(throws: FraudRuleError(.invalidPrefix, "")) { try DestinationRules(homeCountryCode: "1234") }
        #expect(throws: FraudRuleError(.invalidPrefix, "")) {
            try DestinationRules(homeCountryCode: "49", denyPrefixes: ["+49-900"])
        }
        #expect(throws: FraudRuleError(.invalidPrefix, "")) {
            try DestinationRules(homeCountryCode: "49", highRiskPrefixes: [("+", "empty")])
        }
    }

    @Test func aPrefixListParsesBothSpellingsCommentsAndBlankLines() throws {
        let text = """
            # header comment

            +882,International Networks
            8816 Iridium satellite   # trailing comment
            +53 , Cuba\r
            \t+979\t
            239
            """
        let entries = try DestinationRules.parsePrefixList(text)
        #expect(entries.map(\.prefix) == ["+882", "+8816", "+53", "+979", "+239"])
        #expect(entries.map(\.label) == ["International Networks", "Iridium satellite", "Cuba", "", ""])
    }

    @Test(arguments: [("+882,ok\n+88x,bad", 2), ("# c\n\n+1\n+\n", 4), ("12-34", 1), ("+1234567890123456", 1)])
    func aBadPrefixNamesItsLine(text: String, lineNumber: Int) {
        do {
            _ = try DestinationRules.parsePrefixList(text)
            Issue.record("parsed \(text)")
        } catch {
            #expect(error.code == .invalidPrefix)
            #expect(error.lineNumber == lineNumber)
            #expect(error.description.hasPrefix("invalidPrefix: line \(lineNumber): "))
        }
    }

    @Test func anOverlongLineIsRefused() {
        let text = "+1,ok\n+2," + String(repeating: "x", count: DestinationRules.maxLineLength)
        #expect(throws: FraudRuleError(.tooLarge, "")) { try DestinationRules.parsePrefixList(text) }
        do {
            _ = try DestinationRules.parsePrefixList(text)
        } catch {
            #expect(error.lineNumber == 2)
        }
    }

    @Test func theShippedHighRiskListParsesAndIsUsable() throws {
        let entries = try DestinationRules.parsePrefixList(DestinationRules.builtInHighRiskText)
        #expect(entries.count >= 40)
        #expect(entries.allSatisfy { !$0.label.isEmpty })
        #expect(Set(entries.map(\.prefix)).count == entries.count, "a prefix listed twice")
        let rules = try DestinationRules(homeCountryCode: "49", highRiskPrefixes: entries, internationalByDefault: true)
        #expect(rules.verdict(account: "a", number: "+881612345678")
            == .denied(.init(reason: .highRisk(prefix: "+8816", label: "Iridium satellite"))))
        #expect(rules.verdict(account: "a", number: "+4930123456") == .allowed(international: false))
        #expect(rules.verdict(account: "a", number: "+33123456789") == .allowed(international: true))
    }

    @Test func aLargeListMatchesEveryEntryLongestFirst() throws {
        // 100 000 pseudo-random 6-9 digit prefixes: a lookup walks the number's digits, not the list.
        var state: UInt64 = 42
        var prefixes: [String] = []
        for _ in 0..<100_000 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            prefixes.append("+" + String(state % 1_000_000_000 + 100_000))
        }
        let rules = try DestinationRules(homeCountryCode: "49", denyPrefixes: prefixes, internationalByDefault: true)
        for prefix in prefixes.prefix(10_000) {
            let number = prefix + "0000"
            guard case .denied(let denial) = rules.verdict(account: "a", number: number),
                  case .denyListed(let matched) = denial.reason else {
                Issue.record("\(number) not denied")
                return
            }
            #expect(number.hasPrefix(matched) && matched.count >= prefix.count)
        }
        #expect(rules.verdict(account: "a", number: "+4930123456") == .allowed(international: false))
    }
}
