package import SightlineCore

/// Decodes the body of `POST /api/v1/audit/events`: `{"events": [ … ]}`, each event in the JSON shape AuditKit sends
/// (see docs/audit.md). Either every event decodes or the request is refused; errors name the event and the field,
/// e.g. `events[3].outcome: "ok" is not one of success, failure, denied`.
package enum AuditEventDecoder {
    /// The longest event id.
    package static let maxIDLength = 128
    /// The longest value of any other string field, in bytes.
    package static let maxFieldLength = 4096
    /// The most attributes on one event.
    package static let maxAttributes = 64

    /// Decodes a request body.
    /// - Parameters:
    ///   - body: UTF-8 JSON.
    ///   - tenant: the caller's tenant; an event naming another tenant is refused.
    /// - Throws: `invalidArgument` naming the event and field; `permissionDenied` for an event of another tenant.
    package static func decode(_ body: [UInt8], tenant: Tenant) throws -> [AuditEvent] {
        let document = try JSONParser.parse(body)
        let list: [JSONValue]
        if let array = document.arrayValue {
            list = array
        } else if let array = document.objectValue?["events"]?.arrayValue {
            list = array
        } else {
            throw SightlineError(.invalidArgument, "the body must be a JSON object with an \"events\" array")
        }
        return try list.enumerated().map { index, value in
            try event(value, at: "events[\(index)]", tenant: tenant)
        }
    }

    private static func event(_ value: JSONValue, at path: String, tenant: Tenant) throws -> AuditEvent {
        guard let object = value.objectValue else {
            throw SightlineError(.invalidArgument, "\(path): expected an object, found \(value.typeName)")
        }
        let fields = Fields(object: object, path: path)
        if let named = try fields.optionalString("tenant"), named != tenant.id {
            throw SightlineError(.permissionDenied, "\(path).tenant: \"\(named)\" is not the caller's tenant \"\(tenant.id)\"")
        }
        let id = try fields.string("id", maxLength: maxIDLength)
        let timeText = try fields.string("time")
        guard let time = ISO8601Time.nanoseconds(timeText.utf8), time <= UInt64(Int64.max) else {
            throw SightlineError(.invalidArgument, "\(path).time: \"\(timeText)\" is not an RFC 3339 time after 1970")
        }
        let actorFields = try fields.object("actor")
        let actor = AuditEvent.Actor(
            id: try actorFields.string("id"), type: try actorFields.optionalString("type"), display: try actorFields.optionalString("display"))
        let action = try fields.string("action")
        let resourceFields = try fields.object("resource")
        let resource = AuditEvent.Resource(type: try resourceFields.string("type"), id: try resourceFields.optionalString("id"))
        let outcomeText = try fields.string("outcome")
        guard let outcome = AuditEvent.Outcome(rawValue: outcomeText) else {
            throw SightlineError(.invalidArgument, "\(path).outcome: \"\(outcomeText)\" is not one of success, failure, denied")
        }
        var attributes: [(key: String, value: String)] = []
        if let member = object["attributes"], member != .null {
            guard let map = member.objectValue else {
                throw SightlineError(.invalidArgument, "\(path).attributes: expected an object of strings, found \(member.typeName)")
            }
            guard map.count <= maxAttributes else {
                throw SightlineError(.invalidArgument, "\(path).attributes: \(map.count) attributes, more than the limit of \(maxAttributes)")
            }
            for (key, value) in zip(map.keys, map.values) {
                guard let text = value.stringValue else {
                    throw SightlineError(.invalidArgument, "\(path).attributes.\(key): expected a string, found \(value.typeName)")
                }
                attributes.append((key, text))
            }
        }
        return AuditEvent(
            id: id, timeNano: Int64(time), actor: actor, action: action, resource: resource, outcome: outcome,
            requestID: try fields.optionalString("request_id"), clientAddress: try fields.optionalString("client_address"),
            userAgent: try fields.optionalString("user_agent"), reason: try fields.optionalString("reason"),
            before: fields.json("before"), after: fields.json("after"), attributes: attributes)
    }

    /// Typed access to one object's members with errors that name the member's path.
    private struct Fields {
        let object: JSONObject
        let path: String

        func string(_ key: String, maxLength: Int = AuditEventDecoder.maxFieldLength) throws -> String {
            guard let text = try optionalString(key, maxLength: maxLength), !text.isEmpty else {
                throw SightlineError(.invalidArgument, "\(path).\(key): required, must be a non-empty string")
            }
            return text
        }

        func optionalString(_ key: String, maxLength: Int = AuditEventDecoder.maxFieldLength) throws -> String? {
            guard let value = object[key], value != .null else { return nil }
            guard let text = value.stringValue else {
                throw SightlineError(.invalidArgument, "\(path).\(key): expected a string, found \(value.typeName)")
            }
            guard text.utf8.count <= maxLength else {
                throw SightlineError(.invalidArgument, "\(path).\(key): \(text.utf8.count) bytes, longer than the limit of \(maxLength)")
            }
            return text
        }

        func object(_ key: String) throws -> Fields {
            guard let value = object[key], let member = value.objectValue else {
                throw SightlineError(.invalidArgument, "\(path).\(key): required, must be an object")
            }
            return Fields(object: member, path: "\(path).\(key)")
        }

        /// Any JSON value as compact text; nil when absent or null.
        func json(_ key: String) -> String? {
            guard let value = object[key], value != .null else { return nil }
            return value.jsonText
        }
    }
}
