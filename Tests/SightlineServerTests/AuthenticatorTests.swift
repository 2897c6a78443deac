import Testing

@testable import SightlineCore
@testable import SightlineServer

struct AuthenticatorTests {
    let authenticator = Authenticator(tokens: [
        TokenGrant(token: "a-ingest", tenant: Tenant(uncheckedID: "acme"), roles: [.ingest, .query]),
        TokenGrant(token: "a-read", tenant: Tenant(uncheckedID: "acme"), roles: [.query]),
        TokenGrant(token: "g-all", tenant: Tenant(uncheckedID: "globex"), roles: [.ingest, .query, .admin]),
    ])

    @Test func withoutTokensEveryCallerIsTheDefaultTenant() throws {
        let open = Authenticator(tokens: [])
        let identity = try open.identify(authorization: nil, requiring: .admin)
        #expect(identity.tenant == .default)
        #expect(identity.roles == Set(Role.allCases))
    }

    @Test func missingTokenIsUnauthenticated() {
        #expect(throws: SightlineError.self) { try authenticator.identify(authorization: nil, requiring: .query) }
        do {
            _ = try authenticator.identify(authorization: nil, requiring: .query)
        } catch let error as SightlineError {
            #expect(error.code == .unauthenticated)
            #expect(error.message.contains("Authorization"))
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func wrongTokenIsUnauthenticated() {
        for header in ["Bearer nope", "Basic YTpi", "Bearer", "a-ingest", "ApiKey a-ingest"] {
            do {
                _ = try authenticator.identify(authorization: header, requiring: .query)
                Issue.record("\(header) was accepted")
            } catch let error as SightlineError {
                #expect(error.code == .unauthenticated, "\(header)")
            } catch {
                Issue.record("unexpected \(error)")
            }
        }
    }

    @Test func wrongRoleIsPermissionDenied() {
        do {
            _ = try authenticator.identify(authorization: "Bearer a-read", requiring: .ingest)
            Issue.record("a query-only token was allowed to ingest")
        } catch let error as SightlineError {
            #expect(error.code == .permissionDenied)
            #expect(error.message.contains("ingest"))
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func elasticsearchAPIKeysCarryTheTokenAsKey() throws {
        // "VuaCfGcBCdbkQm-e5aOx:g-all" in base64, as Filebeat's api_key setting sends it.
        #expect(try authenticator.identify(authorization: "ApiKey VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6Zy1hbGw=", requiring: .ingest).tenant.id == "globex")
    }

    @Test func basicAuthCarriesTheTokenAsPassword() throws {
        // "filebeat:g-all" and "x:nope" in base64.
        #expect(try authenticator.identify(authorization: "Basic ZmlsZWJlYXQ6Zy1hbGw=", requiring: .ingest).tenant.id == "globex")
        for header in ["Basic eDpub3Bl", "Basic !!!", "Basic Zy1hbGw="] {
            do {
                _ = try authenticator.identify(authorization: header, requiring: .ingest)
                Issue.record("\(header) was accepted")
            } catch let error as SightlineError {
                #expect(error.code == .unauthenticated, "\(header)")
            } catch {
                Issue.record("unexpected \(error)")
            }
        }
    }

    @Test func eachTokenMapsToItsTenant() throws {
        #expect(try authenticator.identify(authorization: "Bearer a-ingest", requiring: .ingest).tenant.id == "acme")
        #expect(try authenticator.identify(authorization: "bearer g-all", requiring: .admin).tenant.id == "globex")
    }
}
