package costmodel

import (
	"fmt"
	"regexp"
	"strings"
)

// PlatformLogBytes is what Lambda itself writes to a function's log group
// for an invocation in the JSON log format: a platform.start and a
// platform.report record, as the Lambda developer guide shows them
// ("Configuring JSON and plain text log formats"), rendered with a request
// ID, this stack's memory and, with active tracing, the trace header. An
// estimate from the documented format; nothing here runs in Lambda.
func PlatformLogBytes(memoryMiB int, tracing bool) int {
	const (
		at        = `"time":"2026-11-26T08:00:00.000Z"`
		requestID = `"requestId":"79b4f56e-95b1-4643-9700-2807f4e68189"`
	)
	start := `{` + at + `,"type":"platform.start","record":{` + requestID + `,"version":"$LATEST"}}` + "\n"
	trace := ""
	if tracing {
		trace = `,"tracing":{"spanId":"0b9a1c2d3e4f5a6b","type":"X-Amzn-Trace-Id","value":"Root=1-6745a1b0-4f8e2c1d9a7b3e5f6c0d1a2b;Parent=53995c3f42cd8ad8;Sampled=1"}`
	}
	report := `{` + at + `,"type":"platform.report","record":{` + requestID +
		`,"metrics":{"durationMs":11.542,"billedDurationMs":12,"memorySizeMB":` + fmt.Sprint(memoryMiB) + `,"maxMemoryUsedMB":31}` +
		trace + `,"status":"success"}}` + "\n"
	return len(start) + len(report)
}

// SyntheticLogLineBytes is one log line of a synthetic vehicle's step (an
// embedded metric format record of its success and latency), as the
// function's logger writes it with a name as CloudFormation makes them
// (TestMeasuredSyntheticLogLines; make local's lines, with a short name
// and a time, were 452).
const SyntheticLogLineBytes = 505

// syntheticSteps is the lines of a run: five steps and the run's.
const syntheticSteps = 6

// accessLogValues are what API Gateway substitutes for the $context
// variables of an access log format in an upload's line: a signed request
// from a vehicle's role. A variable not listed is an error, so that a new
// one in the stage's format is given a size before it is priced.
var accessLogValues = map[string]string{
	"requestId":                   "c0a8e1f2-3b4d-4e5f-8a9b-0123456789ab",
	"extendedRequestId":           "Lf4GxGkFIAMEbBw=",
	"requestTime":                 "26/Nov/2026:08:00:00 +0000",
	"identity.sourceIp":           "203.0.113.10",
	"identity.caller":             "AROA3XFRBF535PLBIFPI4:WBY1Z21000V123456",
	"identity.userArn":            "arn:aws:sts::123456789012:assumed-role/FleetVehicle/WBY1Z21000V123456",
	"identity.userAgent":          "fleetapi-client/0.1.0 aws-sdk-go-v2/1.39.6",
	"httpMethod":                  "POST",
	"resourcePath":                "/vehicles/{vid}/events",
	"protocol":                    "HTTP/1.1",
	"status":                      "201",
	"responseLength":              "214",
	"responseLatency":             "38",
	"integration.status":          "201",
	"integration.error":           "-",
	"integration.latency":         "31",
	"error.message":               "-",
	"error.responseType":          "-",
	"xrayTraceId":                 "Root=1-6745a1b0-4f8e2c1d9a7b3e5f6c0d1a2b;Parent=53995c3f42cd8ad8;Sampled=1",
	"identity.accountId":          "123456789012",
	"integration.requestId":       "79b4f56e-95b1-4643-9700-2807f4e68189",
	"integrationLatency":          "31",
	"integrationStatus":           "201",
	"identity.user":               "AROA3XFRBF535PLBIFPI4:WBY1Z21000V123456",
	"domainName":                  "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com",
	"stage":                       "prod",
	"error.validationErrorString": "-",
}

var contextVariable = regexp.MustCompile(`\$context\.([A-Za-z0-9_.]+[A-Za-z0-9_])`)

// AccessLogBytes is the size of an upload's access log line in the stage's
// format, with a representative value for each $context variable, plus the
// newline. It is an error to use a variable the model has no value for.
func AccessLogBytes(format string) (int, error) {
	var unknown []string
	line := contextVariable.ReplaceAllStringFunc(format, func(v string) string {
		name := strings.TrimPrefix(v, "$context.")
		value, ok := accessLogValues[name]
		if !ok {
			unknown = append(unknown, v)
		}
		return value
	})
	if len(unknown) > 0 {
		return 0, fmt.Errorf("access log format: no size known for %s: add a representative value to costmodel.accessLogValues", strings.Join(unknown, ", "))
	}
	return len(line) + 1, nil
}
