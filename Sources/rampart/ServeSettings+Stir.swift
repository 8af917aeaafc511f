import Edge
import Foundation
import SecurityPolicy
import StirShaken
import StirShakenNIO

extension ServeSettings {
    /// `[stir]`: the STI-AS with a signing key and its certificate URL, the STI-VS with STI-CA roots; nil when the
    /// section names neither.
    static func identity(_ section: ServeConfiguration.Stir?) throws -> IdentityService? {
        guard let section else { return nil }
        func bounded(_ value: Int?, _ name: String, default fallback: Int, in range: ClosedRange<Int>) throws -> Int {
            try Self.bounded(value, "stir." + name, default: fallback, in: range)
        }
        var configuration = IdentityService.Configuration()
        switch (section.keyFile, section.certificateURL) {
        case (nil, nil): break
        case (let file?, let url?):
            guard CertificateFetcher.Target.isUsable(url) else {
                throw UsageError(message: "stir.certificate_url must be an https URL, not \(url)")
            }
            // The signing key is a secret: the file must be its owner's only, as the data directory's keys are.
            let attributes = try? FileManager.default.attributesOfItem(atPath: file)
            guard let mode = attributes?[.posixPermissions] as? Int, let text = try? String(contentsOfFile: file, encoding: .utf8)
            else { throw UsageError(message: "stir.key_file: cannot read \(file)") }
            guard mode & 0o077 == 0 else {
                throw UsageError(message: "stir.key_file: \(file) is readable by others (chmod 600 it)")
            }
            do { configuration.signer = try StirSigner(keyPEM: text, certificateURL: url) } catch {
                throw UsageError(message: "stir.key_file: \(file) is not a P-256 private key (PEM)")
            }
        default:
            throw UsageError(message: "stir.key_file and stir.certificate_url go together")
        }
        func attestation(_ text: String, _ name: String) throws -> PASSporT.Attestation {
            guard let level = PASSporT.Attestation(rawValue: text) else {
                throw UsageError(message: "stir.\(name) must be \"A\", \"B\" or \"C\", not \(text)")
            }
            return level
        }
        configuration.defaultAttestation = try attestation(section.attestation ?? "A", "attestation")
        configuration.attestationByAccount = try (section.attestationByAccount ?? [:]).mapValues {
            try attestation($0, "attestation_by_account")
        }
        if let files = section.caFiles, !files.isEmpty {
            configuration.trust = try StirCommand.trust(caFiles: files, crlFiles: section.crlFiles ?? [],
                                                        caSetting: "stir.ca_files", crlSetting: "stir.crl_files")
        } else if section.crlFiles?.isEmpty == false {
            throw UsageError(message: "stir.crl_files needs stir.ca_files")
        }
        func action(_ text: String?, _ name: String) throws -> IdentityService.Action {
            guard let action = IdentityService.Action(rawValue: text ?? "mark") else {
                throw UsageError(message: "stir.\(name) must be \"mark\" or \"reject\"")
            }
            return action
        }
        configuration.onFailure = try action(section.onFailure, "on_failure")
        configuration.onMissing = try action(section.onMissing, "on_missing")
        configuration.maxAgeSeconds = Int64(try bounded(section.maxAgeSeconds, "max_age_seconds", default: 60, in: 5...3_600))
        let allowed: NetworkList
        do { allowed = try NetworkList(parsing: section.x5uAllowedNetworks ?? []) } catch {
            throw UsageError(message: "stir.x5u_allowed_networks: \(error)")
        }
        if let file = section.x5uCAFile, !FileManager.default.isReadableFile(atPath: file) {
            throw UsageError(message: "stir.x5u_ca_file: cannot read \(file)")
        }
        configuration.fetchRules = CertificateFetcher.Rules(
            addressPolicy: AddressPolicy(allowedNetworks: allowed), httpsCAFile: section.x5uCAFile,
            timeout: .seconds(try bounded(section.fetchTimeoutSeconds, "fetch_timeout_seconds", default: 2, in: 1...10)))
        configuration.cacheEntries = try bounded(section.cacheEntries, "cache_entries", default: 1_000, in: 1...100_000)
        configuration.cacheMinSeconds = try bounded(section.cacheMinSeconds, "cache_min_seconds", default: 300, in: 0...86_400)
        configuration.cacheMaxSeconds = try bounded(section.cacheMaxSeconds, "cache_max_seconds", default: 86_400,
                                                    in: configuration.cacheMinSeconds...604_800)
        guard configuration.signer != nil || configuration.trust != nil else {
            throw UsageError(message: "[stir] needs key_file and certificate_url (signing), ca_files (verification), or both")
        }
        do { return try IdentityService(configuration: configuration) } catch {
            throw UsageError(message: "stir: \(error)")
        }
    }
}
