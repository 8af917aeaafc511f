import ArgumentParser
import Forensics
import Foundation
import MediaSecurity
import Pcap

/// `rampart srtp decrypt|check`: SRTP in captures.
struct SRTPCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "srtp", abstract: "Decrypt SRTP in captures, and check that media really is encrypted.",
        subcommands: [Decrypt.self, Check.self])

    struct Decrypt: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a pcap with the SRTP/SRTCP of a pcap or pcapng capture decrypted.",
            discussion: """
                Packets that fail authentication are counted and left out, never passed through. Other traffic \
                (SIP...) is kept unless --drop-other. The output is readable by its owner only. Prefer --key-file to --key: a command line is visible to \
                other users of the machine and stays in shell history.
                """)

        @Option(name: .customLong("in"), help: "The capture (pcap or pcapng).") var input: String
        @Option(name: .customLong("out"), help: "The classic pcap to write.") var output: String
        @Option(name: .long, help: "The SDES suite, e.g. AES_CM_128_HMAC_SHA1_80, AEAD_AES_128_GCM.") var suite: String?
        @Option(name: .long, help: "The base64 master key and salt, as in an a=crypto inline: parameter.") var key: String?
        @Option(name: .long, help: "A file holding the base64 key instead of --key.") var keyFile: String?
        @Flag(name: .long, help: "Use SDES keys from a=crypto lines in the capture's own SIP.") var keysFromSip = false
        @Option(name: .long, help: "Only this SSRC (decimal or 0x hex); repeatable.") var ssrc: [String] = []
        @Option(name: .long, help: "Only datagrams from or to this UDP port; repeatable.") var port: [UInt16] = []
        @Flag(name: .long, help: "Leave out traffic that is not RTP/RTCP.") var dropOther = false
        @Flag(name: .long, help: "Print the report as JSON.") var json = false

        func validate() throws {
            if key != nil, keyFile != nil { throw ValidationError("give --key or --key-file, not both") }
            let hasKey = key != nil || keyFile != nil
            if hasKey, suite == nil { throw ValidationError("--key and --key-file need --suite") }
            if suite != nil, !hasKey { throw ValidationError("--suite needs --key or --key-file") }
            if suite == nil, !keysFromSip {
                throw ValidationError("give --suite with --key or --key-file, or --keys-from-sip")
            }
        }

        func run() throws {
            var options = SRTPCaptureDecryptor.Options(policy: try policy(), keysFromSIP: keysFromSip)
            options.ssrcs = Set(try ssrc.map(Self.parseSSRC))
            options.ports = Set(port)
            options.keepOtherTraffic = !dropOther
            let decryptor = SRTPCaptureDecryptor(options: options)
            // Decrypted media is as private as the call: the file is the owner's only.
            try? FileManager.default.removeItem(atPath: output)
            guard FileManager.default.createFile(atPath: output, contents: nil, attributes: [.posixPermissions: 0o600]),
                let sink = FileHandle(forWritingAtPath: output)
            else { throw UsageError(message: "cannot write \(output)") }
            defer { try? sink.close() }
            var headerWritten = false
            var pending: [UInt8] = []
            try CaptureInput.read(input) { packet in
                guard let out = decryptor.process(packet) else { return }
                if !headerWritten {
                    pending += PcapWriter(linkType: decryptor.outputLinkType ?? packet.linkType).fileHeader()
                    headerWritten = true
                }
                pending += PcapWriter(linkType: out.linkType).record(out)
                if pending.count >= 1 << 20 {
                    sink.write(Data(pending))
                    pending.removeAll(keepingCapacity: true)
                }
            }
            if !headerWritten { pending += PcapWriter(linkType: 1).fileHeader() }
            sink.write(Data(pending))
            let report = decryptor.finish()
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                print(String(decoding: try encoder.encode(report), as: UTF8.self))
            } else {
                Self.printReport(report)
            }
            guard report.rtpDecrypted + report.rtcpDecrypted > 0 else {
                FileHandle.standardError.write(Data("rampart: nothing was decrypted\n".utf8))
                throw CheckFailed(exitCode: 1)
            }
        }

        private func policy() throws -> SRTPPolicy? {
            guard let suite else { return nil }
            guard let profile = SRTPProfile(name: suite) else {
                throw UsageError(message: "unknown suite \(suite); one of "
                    + SRTPProfile.allCases.map(\.name).joined(separator: ", "))
            }
            var text = key ?? ""
            if let keyFile {
                guard let contents = FileManager.default.contents(atPath: keyFile) else {
                    throw UsageError(message: "cannot read \(keyFile)")
                }
                text = String(decoding: contents, as: UTF8.self)
            }
            text = text.trimmingCharacters(in: .whitespacesAndNewlines)
            if text.hasPrefix("inline:") { text.removeFirst(7) }
            if let bar = text.firstIndex(of: "|") { text = String(text[..<bar]) }  // lifetime / MKI not needed here
            guard let decoded = Data(base64Encoded: text), decoded.count == profile.keyLength + profile.saltLength else {
                throw UsageError(message: "the key is not base64 of \(profile.keyLength + profile.saltLength) octets "
                    + "(master key and salt of \(profile.name))")
            }
            var material = [UInt8](decoded)
            defer { for index in material.indices { material[index] = 0 } }
            return SRTPPolicy(profile: profile, masterKey: Array(material.prefix(profile.keyLength)),
                              masterSalt: Array(material.suffix(profile.saltLength)))
        }

        static func parseSSRC(_ text: String) throws -> UInt32 {
            let value = text.lowercased().hasPrefix("0x") ? UInt32(text.dropFirst(2), radix: 16) : UInt32(text)
            guard let value else { throw ValidationError("--ssrc takes a decimal or 0x hex 32-bit value") }
            return value
        }

        static func printReport(_ report: SRTPCaptureDecryptor.Report) {
            print("packets read          \(report.packetsRead)")
            print("RTP decrypted         \(report.rtpDecrypted)")
            print("RTCP decrypted        \(report.rtcpDecrypted)")
            print("failed authentication \(report.authenticationFailures) (left out)")
            print("replayed or too late  \(report.replayedOrLate) (left out)")
            print("no key to try         \(report.withoutKey) (left out)")
            print("filtered out          \(report.filteredOut)")
            print("truncated by capture  \(report.truncated) (left out)")
            print("other traffic         \(report.otherTraffic)")
            print("unreadable frames     \(report.unreadableFrames)")
            if report.overStreamLimit > 0 { print("over the stream limit \(report.overStreamLimit) (left out)") }
            if report.keysFromSIP > 0 { print("keys found in SIP     \(report.keysFromSIP)") }
            for stream in report.streams {
                print("  \(stream.rtcp ? "SRTCP" : "SRTP ") \(stream.source) -> \(stream.destination) SSRC "
                    + String(format: "0x%08x", stream.ssrc) + ": \(stream.decrypted) decrypted, key: \(stream.key)")
            }
        }
    }

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Say per RTP stream whether its payload is encrypted or plaintext.",
            discussion: """
                Judged from the payload's byte entropy and from how often its first octet repeats (codec \
                headers). Exit status 1 when any stream looks like plaintext, 0 otherwise.
                """)

        @Argument(help: "The capture (pcap or pcapng).") var capture: String
        @Flag(name: .long, help: "Print the streams as JSON.") var json = false

        func run() throws {
            var survey = RTPStreamSurvey()
            try CaptureInput.read(capture) { survey.add($0) }
            let streams = survey.streams
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                print(String(decoding: try encoder.encode(streams), as: UTF8.self))
            } else {
                print("\(survey.packetsRead) packets, \(streams.count) RTP stream\(streams.count == 1 ? "" : "s"), "
                    + "\(survey.rtcpPackets) RTCP")
                for stream in streams {
                    print("\(stream.source) -> \(stream.destination) SSRC " + String(format: "0x%08x", stream.ssrc)
                        + ": \(stream.verdict) (\(stream.packets) packets, PT \(stream.payloadTypeNames), entropy "
                        + String(format: "%.2f", stream.entropy) + " bits/octet, first octet repeated in "
                        + String(format: "%.0f%%", stream.repeatedFirstOctet * 100) + ")")
                }
            }
            if streams.contains(where: { $0.verdict == "plaintext" }) { throw CheckFailed(exitCode: 1) }
        }
    }
}

/// Reads a pcap or pcapng file in 1 MiB chunks, handing each packet to `body`; shows progress on a terminal.
enum CaptureInput {
    static func read(_ path: String, _ body: (PcapPacket) throws -> Void) throws {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw UsageError(message: "cannot read \(path)") }
        defer { try? handle.close() }
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        let showProgress = isatty(STDERR_FILENO) == 1 && size > 16 << 20
        var reader = PcapReader()
        var done = 0, lastShown = Date()
        while true {
            let chunk = handle.readData(ofLength: 1 << 20)
            if chunk.isEmpty { break }
            reader.append(chunk)
            done += chunk.count
            do {
                while let packet = try reader.next() { try body(packet) }
            } catch let error as PcapError {
                throw UsageError(message: "\(path): \(error)")
            }
            if showProgress, Date().timeIntervalSince(lastShown) >= 1 {
                FileHandle.standardError.write(Data("\r\(done * 100 / max(size, 1))% of \(size >> 20) MiB".utf8))
                lastShown = Date()
            }
        }
        if showProgress { FileHandle.standardError.write(Data("\r100%\n".utf8)) }
        do { try reader.finish() } catch { throw UsageError(message: "\(path): \(error)") }
    }
}
