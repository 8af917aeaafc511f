import SecurityPolicy

// The attack checks the edge runs per message, alone (no sockets, no parsing), single thread, release build:
// nanoseconds per check for a phone that has authenticated, next to a dictionary lookup as the yardstick.
// Usage: swift run -c release SecurityPolicyBenchmark [iterations]

let iterations = CommandLine.arguments.dropFirst().first.flatMap(Int.init) ?? 2_000_000
let clock = ContinuousClock()

func measure(_ name: String, _ body: (Int) -> Void) {
    body(1_000)  // warm up
    let start = clock.now
    body(iterations)
    let elapsed = clock.now - start
    let nanoseconds = Double(elapsed.components.seconds) * 1e9 + Double(elapsed.components.attoseconds) / 1e9
    let perCheck = (nanoseconds / Double(iterations) * 10).rounded() / 10
    print("  " + name + String(repeating: " ", count: max(1, 46 - name.count)) + "\(perCheck) ns")
}

var configuration = AttackGuard.Configuration()
let unlimited = RateLimiter.Budget(perSecond: 1e9, burst: 1e9)
let noLimit = RateLimiter.Budgets(register: unlimited, invite: unlimited, options: unlimited, other: unlimited)
configuration.rateLimits = RateLimiter.Limits(perSource: noLimit, perAccount: noLimit, perPair: noLimit)
var attackGuard = AttackGuard(configuration: configuration)
let phones = (0..<1_000).map { IPAddress(ipv4: 0x0A00_0000 | UInt32($0)) }
let accounts = (0..<1_000).map { "user\($0)" }
for (phone, account) in zip(phones, accounts) {
    attackGuard.authenticationSucceeded(account: account, source: phone, epochSeconds: 1)
}
var sink = 0
var table: [SourceKey: Int] = [:]
for phone in phones { table[SourceKey(phone)] = 1 }

print("SecurityPolicyBenchmark: \(iterations) iterations each")
measure("yardstick: [SourceKey: Int] lookup") { count in
    for index in 0..<count { sink &+= table[SourceKey(phones[index % 1_000])] ?? 0 }
}
measure("screen(source:) in a dialog (no budget)") { count in
    for index in 0..<count {
        if case .pass = attackGuard.screen(source: phones[index % 1_000], method: nil, now: .seconds(2),
                                           epochSeconds: 2).verdict { sink &+= 1 }
    }
}
measure("screen(source:) of a new request") { count in
    for index in 0..<count {
        if case .pass = attackGuard.screen(source: phones[index % 1_000], method: .invite,
                                           now: .milliseconds(2_000 + Int64(index / 1_000)), epochSeconds: 2).verdict { sink &+= 1 }
    }
}
measure("screen(account:) of a known device") { count in
    for index in 0..<count {
        if case .pass = attackGuard.screen(account: accounts[index % 1_000], source: phones[index % 1_000],
                                           method: .invite, now: .milliseconds(2_000 + Int64(index / 1_000)),
                                           epochSeconds: 2).verdict { sink &+= 1 }
    }
}
measure("authenticationSucceeded (again)") { count in
    for index in 0..<count {
        attackGuard.authenticationSucceeded(account: accounts[index % 1_000], source: phones[index % 1_000],
                                            epochSeconds: 2)
    }
}
let signatures = ScannerSignatures.builtIn
measure("built-in signatures on a phone's request") { count in
    for _ in 0..<count {
        let matched = signatures.match { field in
            switch field {
            case .userAgent: "Linphone/5.2.0 (belle-sip/5.2.0)"
            case .fromTag: "a8f3c01bd9e2"
            case .viaBranch: "z9hG4bK.8YzqPwM"
            case .contact: "<sip:alice@192.0.2.7:5060>"
            default: nil
            }
        }
        if matched == nil { sink &+= 1 }
    }
}
precondition(sink != 0)
