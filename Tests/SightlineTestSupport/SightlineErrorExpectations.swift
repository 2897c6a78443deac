package import SightlineCore
package import Testing

/// The ``SightlineError`` that `body` throws, or nil when it returns.
///
/// Any other error is recorded as a test issue ("unexpected error …") and gives nil.
/// - Parameters:
///   - sourceLocation: Where an unexpected error is reported.
///   - body: The call under test.
package func sightlineError(
    sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void
) -> SightlineError? {
    do {
        try body()
        return nil
    } catch let error as SightlineError {
        return error
    } catch {
        Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

/// Expects `body`, a decoder fed damaged input, to return or to throw a ``SightlineError`` with one of `codes`:
/// never another error (a trap ends the test run anyway).
/// - Parameters:
///   - codes: The codes the error may have.
///   - sourceLocation: Where a failed expectation is reported.
///   - body: The decoding call.
package func expectDecodesOrFails(
    with codes: SightlineError.Code..., sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void
) {
    if let error = sightlineError(sourceLocation: sourceLocation, body) {
        #expect(codes.contains(error.code), "unexpected code \(error.code): \(error.message)", sourceLocation: sourceLocation)
    }
}

/// The ``SightlineError`` an async call throws, or nil when it returns; other errors are recorded as issues.
package func asyncSightlineError(sourceLocation: SourceLocation = #_sourceLocation, _ body: () async throws -> Void) async -> SightlineError? {
    do {
        try await body()
        return nil
    } catch let error as SightlineError {
        return error
    } catch {
        Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
        return nil
    }
}
