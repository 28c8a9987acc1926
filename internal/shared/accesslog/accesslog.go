// Package accesslog is the API stage's access log format, declared once:
// the construct gives it to API Gateway, and the local API renders its
// lines from it, so that both write the same fields, each a string.
package accesslog

import (
	"encoding/json"
	"strconv"
	"strings"
)

// Field is a member of an access log line and the $context variable API
// Gateway writes into it.
type Field struct{ Name, Variable string }

// Fields are the members of a line: what an on-call engineer needs to
// follow one request through the gateway, the function and X-Ray.
var Fields = []Field{
	{"requestId", "$context.requestId"},
	{"extendedRequestId", "$context.extendedRequestId"},
	{"requestTime", "$context.requestTime"},
	{"ip", "$context.identity.sourceIp"},
	{"caller", "$context.identity.caller"},
	{"callerArn", "$context.identity.userArn"},
	{"userAgent", "$context.identity.userAgent"},
	{"httpMethod", "$context.httpMethod"},
	{"resourcePath", "$context.resourcePath"},
	{"protocol", "$context.protocol"},
	{"status", "$context.status"},
	{"responseLength", "$context.responseLength"},
	{"responseLatency", "$context.responseLatency"},
	{"integrationStatus", "$context.integration.status"},
	{"integrationError", "$context.integration.error"},
	{"integrationLatency", "$context.integration.latency"},
	{"errorMessage", "$context.error.message"},
	{"errorResponseType", "$context.error.responseType"},
	{"xrayTraceId", "$context.xrayTraceId"},
}

// Missing is what API Gateway writes for a variable without a value.
const Missing = "-"

// Format is the stage's access log format: one JSON object per request,
// every value quoted, since API Gateway writes Missing for a value it does
// not have (and substitutes the variables without escaping).
func Format() string {
	parts := make([]string, len(Fields))
	for i, f := range Fields {
		parts[i] = strconv.Quote(f.Name) + ":" + strconv.Quote(f.Variable)
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// Line renders a line of Format from the variables' values, by variable;
// one without a value is Missing. Unlike API Gateway, it escapes the values.
func Line(values map[string]string) json.RawMessage {
	var b strings.Builder
	b.WriteByte('{')
	for i, f := range Fields {
		if i > 0 {
			b.WriteByte(',')
		}
		v, ok := values[f.Variable]
		if !ok || v == "" {
			v = Missing
		}
		name, _ := json.Marshal(f.Name)
		value, _ := json.Marshal(v)
		b.Write(name)
		b.WriteByte(':')
		b.Write(value)
	}
	b.WriteByte('}')
	return json.RawMessage(b.String())
}
