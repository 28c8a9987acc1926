// Package redrive stores again the uploads over MQTT a stage could not
// store: it reads the failure queue (or make local's dead-letter file),
// takes the upload rule's event out of each message, invokes the ingest
// function with it, synchronously, and deletes the message only once the
// function stored it. A message the function refuses again stays, with
// its reason in the report. Invoking twice stores nothing twice: the
// ingest function's put is idempotent.
//
// The queue holds two kinds of message: the ingest function's on-failure
// destination records (Lambda Developer Guide, "Capturing records of
// Lambda asynchronous invocations": the event in requestPayload, the error
// in responsePayload), and the upload rule's error action messages (AWS
// IoT Core Developer Guide, "Error handling (error action)": topic,
// clientId, base64OriginalPayload, failures).
package redrive

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/fleetapi/fleetapi/internal/shared/contract"
)

// Message is one message of a queue.
type Message struct {
	// ID names it in a report; Receipt deletes it.
	ID, Receipt string
	Body        []byte
}

// Queue is where the failed uploads wait.
type Queue interface {
	// Receive returns the next messages, none when no more are waiting.
	// A message received is not received again by the same run.
	Receive(ctx context.Context) ([]Message, error)
	Delete(ctx context.Context, m Message) error
}

// Invoke runs the ingest function with an event, synchronously: nil when
// it stored the upload (now or before), else its error.
type Invoke func(ctx context.Context, event []byte) error

// Report is what a run did.
type Report struct {
	Received, Stored, Failed, Unreadable int
	// Reasons of the messages left, by message ID (the first 20).
	Reasons map[string]string
}

func (r Report) String() string {
	return fmt.Sprintf("messages received %d, stored and deleted %d, failed again %d, unreadable %d (both kept)", r.Received, r.Stored, r.Failed, r.Unreadable)
}

// DestinationRecord is the ingest function's on-failure destination
// record, as Lambda writes it; make local's dead-letter file holds the same.
type DestinationRecord struct {
	Version        string             `json:"version"`
	Timestamp      time.Time          `json:"timestamp"`
	RequestContext RequestContext     `json:"requestContext"`
	RequestPayload contract.RuleEvent `json:"requestPayload"`
	// ResponsePayload is the function's error: errorMessage, errorType.
	ResponsePayload map[string]any `json:"responsePayload"`
}

// RequestContext says which invocation failed, and how often it ran.
type RequestContext struct {
	RequestID              string `json:"requestId"`
	FunctionArn            string `json:"functionArn"`
	Condition              string `json:"condition"`
	ApproximateInvokeCount int    `json:"approximateInvokeCount"`
}

// errorActionMessage is the rule's error action message.
type errorActionMessage struct {
	RuleName              string `json:"ruleName"`
	Topic                 string `json:"topic"`
	ClientID              string `json:"clientId"`
	Base64OriginalPayload string `json:"base64OriginalPayload"`
	Failures              []struct {
		FailedAction, FailedResource, ErrorMessage string
	} `json:"failures"`
}

// Event returns the upload rule's event a message holds.
func Event(body []byte) (contract.RuleEvent, error) {
	var probe struct {
		RequestPayload *contract.RuleEvent `json:"requestPayload"`
		errorActionMessage
	}
	if err := json.Unmarshal(body, &probe); err != nil {
		return contract.RuleEvent{}, fmt.Errorf("not JSON: %w", err)
	}
	switch {
	case probe.RequestPayload != nil:
		ev := *probe.RequestPayload
		if ev.Source != contract.RuleEventSource {
			return contract.RuleEvent{}, fmt.Errorf("a destination record of another event (source %q)", ev.Source)
		}
		return ev, nil
	case probe.Base64OriginalPayload != "":
		// The topic the message arrived on; with Basic Ingest, the rule's
		// prefix may be part of it.
		topic := probe.Topic
		if rest, ok := strings.CutPrefix(topic, "$aws/rules/"+probe.RuleName+"/"); ok {
			topic = rest
		}
		vid, ok := contract.ParseUploadTopic(topic)
		if !ok {
			return contract.RuleEvent{}, fmt.Errorf("an error action message of topic %q, not an upload topic", probe.Topic)
		}
		return contract.RuleEvent{Source: contract.RuleEventSource, Topic: topic, VID: vid, ClientID: probe.ClientID,
			Payload: probe.Base64OriginalPayload, ReceivedAt: time.Now().UnixMilli()}, nil
	}
	return contract.RuleEvent{}, errors.New("neither a destination record (requestPayload) nor a rule's error action message (base64OriginalPayload)")
}

// Run redrives every message of q through invoke.
func Run(ctx context.Context, q Queue, invoke Invoke) (Report, error) {
	r := Report{Reasons: map[string]string{}}
	keep := func(m Message, why string) {
		if len(r.Reasons) < 20 {
			r.Reasons[m.ID] = why
		}
	}
	for {
		msgs, err := q.Receive(ctx)
		if err != nil {
			return r, fmt.Errorf("receive: %w", err)
		}
		if len(msgs) == 0 {
			return r, nil
		}
		for _, m := range msgs {
			r.Received++
			ev, err := Event(m.Body)
			if err != nil {
				r.Unreadable++
				keep(m, err.Error())
				continue
			}
			payload, err := json.Marshal(ev)
			if err != nil {
				return r, err
			}
			if err := invoke(ctx, payload); err != nil {
				if ctx.Err() != nil {
					return r, ctx.Err()
				}
				r.Failed++
				keep(m, err.Error())
				continue
			}
			if err := q.Delete(ctx, m); err != nil {
				return r, fmt.Errorf("delete message %s (stored: a rerun stores nothing twice): %w", m.ID, err)
			}
			r.Stored++
		}
	}
}
