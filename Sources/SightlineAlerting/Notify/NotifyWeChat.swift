import Foundation
import SightlineCore
import Synchronization

/// A WeChat Work delivery, as Alertmanager's WeChat integration makes it: `GET gettoken?corpid=…&corpsecret=…` for an
/// access token (kept two hours per API URL, corp id and secret), then `POST message/send?access_token=…` with the
/// message (`text` or `markdown`), its recipients and agent id. The answer's `errcode` decides: 0 is delivered,
/// 42001 (token expired) forgets the token and retries, anything else fails with `errmsg`; an answer that is not JSON
/// is retried.
struct WeChatDelivery: Sendable {
    var apiURL: String
    var corpID: String
    var secret: String
    var message: [UInt8]
    var tls: NotifyTLSOptions?

    /// Access tokens by API URL, corp id and secret, with when they were fetched.
    private static let tokens = Mutex<[String: (token: String, fetchedAtMs: Int64)]>([:])
    static let tokenLifetimeMs: Int64 = 2 * 3_600_000

    /// - Throws: `configuration` when a template fails.
    init(_ data: NotificationData, config: WeChatConfig) throws {
        func text(_ template: String, _ field: String) throws -> String { try data.render(template, field: "wechat \(field)") }
        let content = "{\"content\":" + JSONText.quoted(try text(config.message, "message")) + "}"
        let empty = "{\"content\":\"\"}"
        // Go's encoding/json writes the two content objects always, and the strings only when not empty.
        var members = [("text", config.messageType == "markdown" ? empty : content)]
        for (name, template) in [("touser", config.toUser), ("toparty", config.toParty), ("totag", config.toTag), ("agentid", config.agentID)] {
            let value = try text(template, name)
            if !value.isEmpty { members.append((name, JSONText.quoted(value))) }
        }
        members += [("safe", "\"0\""), ("msgtype", JSONText.quoted(config.messageType)), ("markdown", config.messageType == "markdown" ? content : empty)]
        message = Array(("{" + members.map { "\"\($0.0)\":" + $0.1 }.joined(separator: ",") + "}\n").utf8)
        apiURL = config.apiURL
        corpID = try text(config.corpID, "corp_id")
        secret = try text(config.apiSecret, "api_secret")
        tls = config.tls
    }

    private var cacheKey: String { apiURL + "\n" + corpID + "\n" + secret }

    func perform(transport: any NotificationTransport, timeoutMs: Int64, nowMs: Int64 = Int64(Date().timeIntervalSince1970 * 1000)) async -> NotifyOutcome {
        var token = Self.tokens.withLock { $0[cacheKey] }.flatMap { nowMs - $0.fetchedAtMs < Self.tokenLifetimeMs ? $0.token : nil }
        if token == nil {
            let query = PercentEncoding.form([("corpid", corpID), ("corpsecret", secret)], spaceAsPlus: true)
            let request = OutboundPost(url: apiURL + "gettoken?" + query, headers: [], body: [], tls: tls, method: .get)
            switch await NotifyAttempt.exchange(request, transport: transport, timeoutMs: timeoutMs) {
            case .failure(let outcome): return outcome
            case .success(let body):
                let answer = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any]
                guard let fetched = answer?["access_token"] as? String, !fetched.isEmpty else {
                    return .failed("invalid APISecret for CorpID: \(corpID)")
                }
                let key = cacheKey
                Self.tokens.withLock { $0[key] = (fetched, nowMs) }
                token = fetched
            }
        }
        let url = apiURL + "message/send?" + PercentEncoding.form([("access_token", token ?? "")], spaceAsPlus: true)
        let send = OutboundPost(url: url, headers: [("Content-Type", "application/json")], body: message, tls: tls)
        switch await NotifyAttempt.exchange(send, transport: transport, timeoutMs: timeoutMs) {
        case .failure(let outcome): return outcome
        case .success(let body):
            guard let answer = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] else {
                return .retry("wechat: the answer is not JSON")
            }
            let code = answer["errcode"] as? Int ?? 0
            let reason = answer["errmsg"] as? String ?? ""
            switch code {
            case 0: return .delivered
            case 42001:
                let key = cacheKey
                Self.tokens.withLock { $0[key] = nil }
                return .retry("wechat: \(reason)")
            default: return .failed("wechat: \(reason) (errcode \(code))")
            }
        }
    }
}
