package contract

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// Both kinds of failure queue message give back the rule's event: a
// destination record its requestPayload, an error action message one
// made of its topic (the Basic Ingest prefix dropped), client and payload.
func TestFailedUpload(t *testing.T) {
	at := time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)
	ev := RuleEvent{Source: RuleEventSource, Topic: UploadTopic("car-1"), VID: "car-1", ClientID: "car-1", Payload: "e30=", ReceivedAt: 1}
	record, _ := json.Marshal(DestinationRecord{Version: "1.0", Timestamp: at,
		RequestContext: DestinationRequestContext{RequestID: "r", FunctionArn: "arn:aws:lambda:eu-west-1:123456789012:function:f", Condition: "RetriesExhausted", ApproximateInvokeCount: 3},
		RequestPayload: ev, ResponsePayload: map[string]any{"errorMessage": "upload on vehicles/car-1/events not stored: temporarily unavailable"}})
	action, _ := json.Marshal(map[string]any{"ruleName": "FleetApi_prod_Fleet_Uploads", "topic": BasicIngestTopic("FleetApi_prod_Fleet_Uploads", "car-2"),
		"clientId": "car-2", "base64OriginalPayload": "e30=", "failures": []map[string]string{{"failedAction": "LambdaAction", "errorMessage": "throttled"}}})
	for _, tt := range []struct {
		name, body string
		want       RuleEvent
		err        string
	}{
		{"destination record", string(record), ev, ""},
		{"error action message", string(action), RuleEvent{Source: RuleEventSource, Topic: "vehicles/car-2/events", VID: "car-2", ClientID: "car-2", Payload: "e30=", ReceivedAt: at.UnixMilli()}, ""},
		{"record of another event", `{"requestPayload":{"source":"aws.s3"}}`, RuleEvent{}, "another event"},
		{"error action of another topic", `{"ruleName":"r","topic":"$aws/rules/r/telemetry/car-1","base64OriginalPayload":"e30="}`, RuleEvent{}, "not an upload topic"},
		{"neither", `{"Records":[]}`, RuleEvent{}, "neither a destination record"},
		{"not JSON", `upload`, RuleEvent{}, "not JSON"},
	} {
		got, err := FailedUpload([]byte(tt.body), at)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s: error %v, want one saying %q", tt.name, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%s: got %+v, %v, want %+v", tt.name, got, err, tt.want)
		}
	}
}

// What a failure's message says of a retry, as the ingest function writes
// it and Lambda carries it (with its "Unhandled: " prefix, in a redrive).
func TestFinalUploadFailure(t *testing.T) {
	for msg, final := range map[string]bool{
		UploadFailure("vehicles/car-1/events", UploadInvalid, errors.New("body: malformed JSON")).Error():                            true,
		"Unhandled: " + UploadFailure("vehicles/car-1/events", UploadRefused, errors.New("vehicle car-1 is not registered")).Error(): true,
		UploadFailure("vehicles/car-1/events", UploadNotStored, errors.New("DynamoDB unavailable")).Error():                          false,
		"Task timed out after 10.00 seconds":                       false,
		"upload on vehicles/car-1/events invalidated by something": false,
	} {
		if got := FinalUploadFailure(msg); got != final {
			t.Errorf("FinalUploadFailure(%q) = %v, want %v", msg, got, final)
		}
	}
}
