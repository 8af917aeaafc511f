import Foundation
import Hummingbird

/// What `POST /api/config/check` answers: whether the posted configuration would start the edge (as
/// `rampart serve --check-config` reads it), why not, and `rampart lint`'s findings on it.
public struct ConfigurationCheck: Codable, Sendable {
    public struct Finding: Codable, Sendable {
        public var id: String
        public var severity: String
        public var setting: String
        public var why: String
        public var fix: String

        public init(id: String, severity: String, setting: String, why: String, fix: String) {
            (self.id, self.severity, self.setting, self.why, self.fix) = (id, severity, setting, why, fix)
        }
    }

    public var valid: Bool
    public var error: String?
    public var findings: [Finding]

    public init(valid: Bool, error: String? = nil, findings: [Finding] = []) {
        (self.valid, self.error, self.findings) = (valid, error, findings)
    }
}

extension AdminServer {
    /// `POST /api/config/check` (admin role): a TOML configuration in the body (64 KiB at most), checked by the
    /// CLI's own reading of configurations (the API layer does not know their format). Nothing is changed.
    func addConfigurationCheck(to group: RouterGroup<AdminRequestContext>) {
        guard let check = settings.configurationCheck else { return }
        group.post("/api/config/check") { request, context in
            try Self.require(.admin, context)
            let buffer = try await request.body.collect(upTo: context.maxUploadSize)
            guard let text = String(validating: buffer.readableBytesView, as: UTF8.self) else {
                throw HTTPError(.badRequest, message: "the configuration must be UTF-8 text")
            }
            return JSONBody(check(text))
        }
    }
}
