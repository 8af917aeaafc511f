import Hummingbird
import NIOCore

/// The live dashboard (issue 20): three static files compiled into the binary, served without a token (they hold
/// no data; the page asks the API for everything with the token the person signs in with). The page's
/// Content-Security-Policy (``SecurityHeaders``) lets no script run but `/dashboard.js`.
enum DashboardFiles {
    static let files: [(path: String, type: String, bytes: [UInt8])] = [
        ("/", "text/html; charset=utf-8", PackageResources.index_html),
        ("/dashboard.css", "text/css; charset=utf-8", PackageResources.dashboard_css),
        ("/dashboard.js", "text/javascript; charset=utf-8", PackageResources.dashboard_js),
    ]
}

/// Who the caller's token is: the dashboard shows it, and offers the buttons its role may use.
struct TokenIdentity: Codable, Sendable {
    var name: String
    var role: String
}

extension AdminServer {
    func addDashboardRoutes(to router: Router<AdminRequestContext>) {
        for file in DashboardFiles.files {
            let body = ByteBuffer(bytes: file.bytes)
            router.get(RouterPath(file.path)) { _, _ in
                Response(status: .ok, headers: [.contentType: file.type], body: .init(byteBuffer: body))
            }
        }
        // Browsers ask for it unprompted: nothing, rather than a 404 in the console.
        router.get("/favicon.ico") { _, _ in Response(status: .noContent) }
    }

    func addIdentityRoute(to group: RouterGroup<AdminRequestContext>) {
        group.get("/api/whoami") { _, context in
            JSONBody(TokenIdentity(name: context.token?.name ?? "", role: context.token?.role.rawValue ?? ""))
        }
    }
}
