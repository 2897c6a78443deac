import AuditKit
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The request context: Hummingbird's core storage plus the client's address, which audit events record.
struct InvoiceRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let remoteAddress: String?

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress?.ipAddress
    }
}

/// The app's HTTP routes. Tenants come from the path; the actor from `X-Actor-ID`/`X-Actor-Type`/`X-Actor-Name`
/// (a real app takes them from its authentication), the request id from `X-Request-ID` (or a new one).
enum Routes {
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = .sortedKeys
        return encoder
    }()
    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return decoder
    }()

    struct NewInvoice: Decodable {
        var customer: String
        var amountCents: Int64
        var currency: String?
    }

    struct NewAccount: Decodable {
        var id: String
        var balanceCents: Int64
    }

    struct NewTransfer: Decodable {
        var from: String
        var to: String
        var amountCents: Int64
    }

    static func router(store: any InvoiceStore) -> Router<InvoiceRequestContext> {
        let router = Router(context: InvoiceRequestContext.self)
        router.get("/health") { _, _ in json(["status": "ok"]) }
        router.get("/outbox") { _, _ in
            let counts = try await store.outboxCounts()
            return json(["unsent": counts.unsent, "total": counts.total])
        }
        router.post("/tenants/:tenant/invoices") { request, context in
            try await handle {
                let tenant = try context.parameters.require("tenant")
                let body = try await decode(NewInvoice.self, request)
                guard body.amountCents >= 0 else { throw InvoiceAppError.badRequest("amount_cents must not be negative") }
                let invoice = try await store.createInvoice(
                    tenant: tenant, customer: body.customer, amountCents: body.amountCents, currency: body.currency ?? "EUR",
                    origin: origin(request, context)
                )
                return json(invoice, status: .created)
            }
        }
        router.put("/tenants/:tenant/invoices/:id") { request, context in
            try await handle {
                let tenant = try context.parameters.require("tenant")
                let id = try context.parameters.require("id")
                let change = try await decode(InvoiceChange.self, request)
                let invoice = try await store.updateInvoice(tenant: tenant, id: id, change: change, origin: origin(request, context))
                return json(invoice)
            }
        }
        router.get("/tenants/:tenant/invoices/:id") { _, context in
            try await handle {
                let id = try context.parameters.require("id")
                guard let invoice = try await store.invoice(tenant: try context.parameters.require("tenant"), id: id) else {
                    throw InvoiceAppError.notFound("invoice \(id)")
                }
                return json(invoice)
            }
        }
        router.post("/tenants/:tenant/accounts") { request, context in
            try await handle {
                let body = try await decode(NewAccount.self, request)
                guard !body.id.isEmpty, body.balanceCents >= 0 else { throw InvoiceAppError.badRequest("id must be set and balance_cents >= 0") }
                let account = try await store.createAccount(
                    tenant: try context.parameters.require("tenant"), id: body.id, balanceCents: body.balanceCents, origin: origin(request, context)
                )
                return json(account, status: .created)
            }
        }
        router.get("/tenants/:tenant/accounts/:id") { _, context in
            try await handle {
                let id = try context.parameters.require("id")
                guard let account = try await store.account(tenant: try context.parameters.require("tenant"), id: id) else {
                    throw InvoiceAppError.notFound("account \(id)")
                }
                return json(account)
            }
        }
        router.post("/tenants/:tenant/transfers") { request, context in
            try await handle {
                let body = try await decode(NewTransfer.self, request)
                guard body.amountCents > 0, body.from != body.to else {
                    throw InvoiceAppError.badRequest("amount_cents must be positive and from differ from to")
                }
                let transfer = try await store.transfer(
                    tenant: try context.parameters.require("tenant"), from: body.from, to: body.to, amountCents: body.amountCents,
                    origin: origin(request, context)
                )
                return json(transfer, status: .created)
            }
        }
        return router
    }

    /// The audit origin of a request.
    static func origin(_ request: Request, _ context: InvoiceRequestContext) -> RequestOrigin {
        let header = { (name: String) -> String? in HTTPField.Name(name).flatMap { request.headers[$0] } }
        return RequestOrigin(
            actor: .init(id: header("X-Actor-ID") ?? "anonymous", type: header("X-Actor-Type") ?? "user", display: header("X-Actor-Name")),
            requestID: header("X-Request-ID") ?? UUID().uuidString.lowercased(),
            clientAddress: context.remoteAddress,
            userAgent: request.headers[.userAgent]
        )
    }

    /// Decodes a JSON body (snake_case keys).
    static func decode<T: Decodable>(_ type: T.Type, _ request: Request) async throws -> T {
        var request = request
        let buffer = try await request.collectBody(upTo: 1 << 20)
        do {
            return try decoder.decode(T.self, from: Data(buffer.readableBytesView))
        } catch {
            throw InvoiceAppError.badRequest("body is not a valid \(T.self): \(error)")
        }
    }

    /// Runs a handler and maps business errors to statuses with a JSON body.
    static func handle(_ body: () async throws -> Response) async throws -> Response {
        do {
            return try await body()
        } catch let error as InvoiceAppError {
            switch error {
            case .notFound(let what): return json(["error": "\(what) not found"], status: .notFound)
            case .conflict(let what): return json(["error": what], status: .conflict)
            case .badRequest(let what): return json(["error": what], status: .badRequest)
            case .insufficientFunds(let account, let transferID, let rolledBackEventID, let eventID):
                return json(
                    [
                        "error": "insufficient funds in account \(account)", "transfer_id": transferID,
                        "rolled_back_event_id": rolledBackEventID, "audit_event_id": eventID,
                    ],
                    status: .conflict
                )
            }
        } catch let error as AuditKitError {
            return json(["error": error.description], status: .badRequest)
        }
    }

    /// A JSON response.
    static func json<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) -> Response {
        let data = (try? encoder.encode(value)) ?? Data("{}".utf8)
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
