package contract

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// The failure queue of the uploads over MQTT holds two kinds of message,
// both written by AWS: the ingest function's on-failure destination
// records (Lambda Developer Guide, "Capturing records of Lambda
// asynchronous invocations": the event in requestPayload, the error in
// responsePayload), and the upload rule's error action messages (AWS IoT
// Core Developer Guide, "Error handling (error action)": topic, clientId,
// base64OriginalPayload, failures). make local's dead-letter file holds
// the first kind; the redrive reads both.

// DestinationRecord is the ingest function's on-failure destination
// record, as Lambda writes it.
type DestinationRecord struct {
	Version        string                    `json:"version"`
	Timestamp      time.Time                 `json:"timestamp"`
	RequestContext DestinationRequestContext `json:"requestContext"`
	RequestPayload RuleEvent                 `json:"requestPayload"`
	// ResponsePayload is the function's error: errorMessage, errorType.
	ResponsePayload map[string]any `json:"responsePayload"`
}

// DestinationRequestContext says which invocation failed, and how often
// it ran.
type DestinationRequestContext struct {
	RequestID              string `json:"requestId"`
	FunctionArn            string `json:"functionArn"`
	Condition              string `json:"condition"`
	ApproximateInvokeCount int    `json:"approximateInvokeCount"`
}

// errorActionMessage is the upload rule's error action message.
type errorActionMessage struct {
	RuleName              string `json:"ruleName"`
	Topic                 string `json:"topic"`
	ClientID              string `json:"clientId"`
	Base64OriginalPayload string `json:"base64OriginalPayload"`
	Failures              []struct {
		FailedAction, FailedResource, ErrorMessage string
	} `json:"failures"`
}

// FailedUpload returns the upload rule's event a message of the failure
// queue holds, whichever of the two kinds it is. receivedAt stands in for
// the time IoT Core received the message, which an error action message
// does not carry.
func FailedUpload(body []byte, receivedAt time.Time) (RuleEvent, error) {
	var probe struct {
		RequestPayload *RuleEvent `json:"requestPayload"`
		errorActionMessage
	}
	if err := json.Unmarshal(body, &probe); err != nil {
		return RuleEvent{}, fmt.Errorf("not JSON: %w", err)
	}
	switch {
	case probe.RequestPayload != nil:
		ev := *probe.RequestPayload
		if ev.Source != RuleEventSource {
			return RuleEvent{}, fmt.Errorf("a destination record of another event (source %q)", ev.Source)
		}
		return ev, nil
	case probe.Base64OriginalPayload != "":
		// The topic the message arrived on; with Basic Ingest, the rule's
		// prefix may be part of it.
		topic := probe.Topic
		if rest, ok := strings.CutPrefix(topic, "$aws/rules/"+probe.RuleName+"/"); ok {
			topic = rest
		}
		vid, ok := ParseUploadTopic(topic)
		if !ok {
			return RuleEvent{}, fmt.Errorf("an error action message of topic %q, not an upload topic", probe.Topic)
		}
		return RuleEvent{Source: RuleEventSource, Topic: topic, VID: vid, ClientID: probe.ClientID,
			Payload: probe.Base64OriginalPayload, ReceivedAt: receivedAt.UnixMilli()}, nil
	}
	return RuleEvent{}, errors.New("neither a destination record (requestPayload) nor a rule's error action message (base64OriginalPayload)")
}
