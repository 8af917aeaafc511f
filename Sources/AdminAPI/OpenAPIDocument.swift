/// The admin API as OpenAPI 3.1, served at `/openapi.json`. Kept true by a test that runs schemathesis against a
/// running edge: every documented operation, fuzzed, must answer a documented status with a body of its schema.
enum OpenAPIDocument {
    static let json = #"""
{
  "openapi": "3.1.0",
  "info": {"title": "Rampart admin API", "version": "1"},
  "components": {
    "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
    "schemas": {
      "Error": {"type": "object", "required": ["error"],
        "properties": {"error": {"type": "object", "required": ["message"], "properties": {"message": {"type": "string"}}}}},
      "Ban": {"type": "object", "required": ["subject", "reason", "evidenceCount", "since"], "additionalProperties": false,
        "properties": {"subject": {"type": "string"}, "reason": {"type": "string"}, "evidenceCount": {"type": "integer"},
          "since": {"type": "integer"}, "until": {"type": "integer"}}},
      "NewBan": {"type": "object", "required": ["subject"], "additionalProperties": false,
        "properties": {"subject": {"type": "string", "maxLength": 300,
            "examples": ["192.0.2.7", "2001:db8:1:2::/64", "account:alice", "alice@192.0.2.7"]},
          "reason": {"type": "string", "maxLength": 200, "examples": ["scanner"]},
          "seconds": {"type": "integer", "minimum": 1, "maximum": 315360000}}},
      "Binding": {"type": "object", "required": ["addressOfRecord", "contact", "expires"], "additionalProperties": false,
        "properties": {"addressOfRecord": {"type": "string"}, "contact": {"type": "string"}, "expires": {"type": "integer"},
          "flow": {"type": "string"}, "instance": {"type": "string"}}},
      "CallRecord": {"type": "object",
        "required": ["id", "startedAtMilliseconds", "caller", "callee", "disposition", "finalStatus", "mediaEncryption",
          "securityEvents", "media"],
        "properties": {"id": {"type": "string"}, "startedAtMilliseconds": {"type": "integer"},
          "answeredAtMilliseconds": {"type": "integer"}, "endedAtMilliseconds": {"type": "integer"},
          "caller": {"type": "string"}, "callee": {"type": "string"}, "account": {"type": "string"},
          "trunk": {"type": "string"},
          "disposition": {"enum": ["answered", "busy", "cancelled", "rejected", "failed", "no-answer"]},
          "finalStatus": {"type": "integer"}, "hangupSide": {"enum": ["caller", "callee", "edge"]},
          "hangupReason": {"type": "string"}, "mediaEncryption": {"type": "string"}, "srtpSuite": {"type": "string"},
          "securityEvents": {"type": "array", "items": {"type": "string"}},
          "media": {"type": "array", "items": {"type": "object"}}, "pseudonymKeyID": {"type": "string"}}},
      "Event": {"type": "object", "required": ["time", "kind", "reason"], "additionalProperties": false,
        "properties": {"time": {"type": "integer"}, "kind": {"type": "string"}, "source": {"type": "string"},
          "account": {"type": "string"}, "reason": {"type": "string"}}}
    },
    "parameters": {
      "limit": {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 10000}},
      "since": {"name": "since", "in": "query", "schema": {"type": "integer", "minimum": 0, "maximum": 1099511627776}}
    },
    "responses": {
      "BadRequest": {"description": "a parameter or the body does not read",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
      "Unauthorized": {"description": "no valid bearer token",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
      "Forbidden": {"description": "the token's role may not do that",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
      "NotFound": {"description": "no such thing",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
      "TooLarge": {"description": "the body is over 64 KiB"},
      "TooMany": {"description": "too many failed authentications from this address",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    }
  },
  "security": [{"bearer": []}],
  "paths": {
    "/api/health": {"get": {"operationId": "health", "security": [],
      "responses": {"200": {"description": "the edge runs", "content": {"application/json": {"schema": {
        "type": "object", "required": ["status"], "properties": {"status": {"const": "ok"}}}}}}}}},
    "/api/version": {"get": {"operationId": "version",
      "responses": {"200": {"description": "version and uptime", "content": {"application/json": {"schema": {
        "type": "object", "required": ["version", "uptimeSeconds"],
        "properties": {"version": {"type": "string"}, "uptimeSeconds": {"type": "string"}}}}}},
        "401": {"$ref": "#/components/responses/Unauthorized"}, "429": {"$ref": "#/components/responses/TooMany"}}}},
    "/api/bans": {
      "get": {"operationId": "listBans",
        "responses": {"200": {"description": "every ban", "content": {"application/json": {"schema": {
          "type": "array", "items": {"$ref": "#/components/schemas/Ban"}}}}},
          "401": {"$ref": "#/components/responses/Unauthorized"}, "429": {"$ref": "#/components/responses/TooMany"}}},
      "post": {"operationId": "addBan",
        "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/NewBan"}}}},
        "responses": {"201": {"description": "banned", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Ban"}}}},
          "400": {"$ref": "#/components/responses/BadRequest"}, "401": {"$ref": "#/components/responses/Unauthorized"},
          "403": {"$ref": "#/components/responses/Forbidden"}, "413": {"$ref": "#/components/responses/TooLarge"},
          "429": {"$ref": "#/components/responses/TooMany"}}}},
    "/api/bans/{subject}": {"delete": {"operationId": "liftBan",
      "parameters": [{"name": "subject", "in": "path", "required": true,
        "schema": {"type": "string", "minLength": 1, "examples": ["192.0.2.7", "account:alice"]}}],
      "responses": {"204": {"description": "lifted"}, "400": {"$ref": "#/components/responses/BadRequest"},
        "401": {"$ref": "#/components/responses/Unauthorized"}, "403": {"$ref": "#/components/responses/Forbidden"},
        "404": {"$ref": "#/components/responses/NotFound"}, "429": {"$ref": "#/components/responses/TooMany"}}}},
    "/api/registrations": {"get": {"operationId": "listRegistrations",
      "parameters": [{"$ref": "#/components/parameters/limit"}],
      "responses": {"200": {"description": "bindings", "content": {"application/json": {"schema": {
        "type": "array", "items": {"$ref": "#/components/schemas/Binding"}}}}},
        "400": {"$ref": "#/components/responses/BadRequest"}, "401": {"$ref": "#/components/responses/Unauthorized"},
        "429": {"$ref": "#/components/responses/TooMany"}}}},
    "/api/calls": {"get": {"operationId": "listCalls",
      "parameters": [{"$ref": "#/components/parameters/limit"}],
      "responses": {"200": {"description": "live calls as their records stand", "content": {"application/json": {"schema": {
        "type": "array", "items": {"$ref": "#/components/schemas/CallRecord"}}}}},
        "400": {"$ref": "#/components/responses/BadRequest"}, "401": {"$ref": "#/components/responses/Unauthorized"},
        "429": {"$ref": "#/components/responses/TooMany"}}}},
    "/api/calls/{id}": {"delete": {"operationId": "endCall",
      "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string", "minLength": 1}}],
      "responses": {"204": {"description": "ended"}, "400": {"$ref": "#/components/responses/BadRequest"},
        "401": {"$ref": "#/components/responses/Unauthorized"}, "403": {"$ref": "#/components/responses/Forbidden"},
        "404": {"$ref": "#/components/responses/NotFound"}, "429": {"$ref": "#/components/responses/TooMany"}}}},
    "/api/cdrs": {"get": {"operationId": "listCallRecords",
      "parameters": [{"$ref": "#/components/parameters/limit"}, {"$ref": "#/components/parameters/since"},
        {"name": "until", "in": "query", "schema": {"type": "integer", "minimum": 0, "maximum": 1099511627776}},
        {"name": "party", "in": "query", "schema": {"type": "string", "maxLength": 256}},
        {"name": "account", "in": "query", "schema": {"type": "string", "maxLength": 256}},
        {"name": "disposition", "in": "query",
          "schema": {"enum": ["answered", "busy", "cancelled", "rejected", "failed", "no-answer"]}}],
      "responses": {"200": {"description": "records, oldest first", "content": {"application/json": {"schema": {
        "type": "array", "items": {"$ref": "#/components/schemas/CallRecord"}}}}},
        "400": {"$ref": "#/components/responses/BadRequest"}, "401": {"$ref": "#/components/responses/Unauthorized"},
        "429": {"$ref": "#/components/responses/TooMany"}}}},
    "/api/events": {"get": {"operationId": "listEvents",
      "parameters": [{"$ref": "#/components/parameters/limit"}, {"$ref": "#/components/parameters/since"},
        {"name": "type", "in": "query", "schema": {"type": "string", "maxLength": 256}}],
      "responses": {"200": {"description": "the newest events, oldest first", "content": {"application/json": {"schema": {
        "type": "array", "items": {"$ref": "#/components/schemas/Event"}}}}},
        "400": {"$ref": "#/components/responses/BadRequest"}, "401": {"$ref": "#/components/responses/Unauthorized"},
        "429": {"$ref": "#/components/responses/TooMany"}}}},
    "/metrics": {"get": {"operationId": "metrics",
      "responses": {"200": {"description": "Prometheus text exposition", "content": {"text/plain": {"schema": {"type": "string"}}}},
        "401": {"$ref": "#/components/responses/Unauthorized"}, "429": {"$ref": "#/components/responses/TooMany"}}}}
  }
}
"""#
}
