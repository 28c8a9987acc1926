package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/fleetapi/fleetapi/client"
	"github.com/fleetapi/fleetapi/internal/bench/workload"
	"github.com/fleetapi/fleetapi/internal/local/dynalite"
	"github.com/fleetapi/fleetapi/internal/local/localapi"
	"github.com/fleetapi/fleetapi/internal/local/localauth"
	"github.com/fleetapi/fleetapi/internal/ops/redrive"
	"github.com/fleetapi/fleetapi/internal/shared/contract"
	"github.com/fleetapi/fleetapi/internal/testutil/awsstandin"
	"github.com/fleetapi/fleetapi/internal/testutil/localfleet"
)

var db *dynamodb.Client

func TestMain(m *testing.M) {
	os.Exit(dynalite.Main(m, func(c *dynamodb.Client) { db = c }))
}

// stage is make local with vehicle car-1 registered, and the failure
// messages of three of its uploads: a destination record (the same one
// twice: a redelivered record), a rule's error action message, and a
// future-dated upload the function refuses again; and a line that is no
// failure record.
type stage struct {
	local    *localapi.TestServer
	reader   *client.ClientWithResponses
	messages []string
}

func newStage(t *testing.T) *stage {
	t.Helper()
	local := localapi.NewTestServerOn(t, db, localapi.Config{EventRetention: 24 * time.Hour})
	localfleet.Register(t, local, "car-1")
	upload := func(at time.Time) string {
		b, _ := json.Marshal(workload.NewDrive(uint64(at.Unix()), at).Upload(10))
		return base64.StdEncoding.EncodeToString(b)
	}
	event := func(payload string) contract.RuleEvent {
		return contract.RuleEvent{Source: contract.RuleEventSource, Topic: contract.UploadTopic("car-1"), VID: "car-1", ClientID: "car-1",
			Payload: payload, ReceivedAt: time.Now().UnixMilli()}
	}
	record := func(payload, why string) string {
		b, _ := json.Marshal(contract.DestinationRecord{Version: "1.0", Timestamp: time.Now().UTC(),
			RequestContext: contract.DestinationRequestContext{RequestID: "r", FunctionArn: "local-ingest", Condition: "RetriesExhausted", ApproximateInvokeCount: 3},
			RequestPayload: event(payload), ResponsePayload: map[string]any{"errorMessage": why}})
		return string(b)
	}
	stored := record(upload(time.Now().Add(-time.Hour)), "upload on vehicles/car-1/events not stored: DynamoDB unavailable")
	action, _ := json.Marshal(map[string]any{"ruleName": localapi.UploadRule, "topic": contract.BasicIngestTopic(localapi.UploadRule, "car-1"),
		"cloudwatchTraceId": "t", "clientId": "car-1", "base64OriginalPayload": upload(time.Now().Add(-2 * time.Hour)),
		"failures": []map[string]string{{"failedAction": "LambdaAction", "failedResource": "local-ingest", "errorMessage": "throttled"}}})
	future := record(upload(time.Now().Add(time.Hour)), "upload on vehicles/car-1/events invalid: samples[0].timestamp: in the future")
	return &stage{local: local, reader: localfleet.Client(t, local, localauth.ReaderKeys),
		messages: []string{stored, stored, string(action), future, `{"Records":[]}`}}
}

// events counts car-1's stored events.
func (s *stage) events(t *testing.T) int {
	t.Helper()
	res, err := s.reader.ListEventsWithResponse(context.Background(), "car-1", nil)
	if err != nil || res.JSON200 == nil {
		t.Fatalf("list events: %v", err)
	}
	return len(res.JSON200.Events)
}

func check(t *testing.T, r redrive.Report, s *stage) {
	t.Helper()
	if r.Received != 5 || r.Stored != 3 || r.Refused != 1 || r.Unreadable != 1 || r.SetAside != 2 || r.Left() != 0 {
		t.Errorf("report %v, want 5 received, 3 stored (one record twice), 1 refused again and 1 unreadable set aside, none left", r)
	}
	if n := s.events(t); n != 2 {
		t.Errorf("car-1 has %d events, want the 2 uploads (the record redriven twice stored once)", n)
	}
	var why []string
	for _, v := range r.Reasons {
		why = append(why, v)
	}
	if joined := strings.Join(why, "|"); !strings.Contains(joined, "invalid: samples[0].timestamp") || !strings.Contains(joined, "neither a destination record") {
		t.Errorf("reasons %v: want the function's 400 and the unreadable line's", r.Reasons)
	}
}

// make local's dead-letter file, through its Lambda Invoke of the ingest
// function: what was stored is deleted from the file; what no retry
// stores (refused again, unreadable) is set aside beside it, with its
// reason, and deleted: a second run finds nothing and exits 0 (it exited
// 1 on every run until they were removed by hand).
func TestRedriveTheLocalDeadLetters(t *testing.T) {
	s := newStage(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "upload-failures.jsonl")
	if err := os.WriteFile(file, []byte(strings.Join(s.messages, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	r, err := run(context.Background(), options{deadLetters: file, url: s.local.URL}, &out)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(out.String())
	check(t, r, s)
	if left, err := os.ReadFile(file); err == nil && strings.TrimSpace(string(left)) != "" {
		t.Errorf("the file keeps %q, want nothing", left)
	}
	aside, _ := os.ReadFile(filepath.Join(dir, "upload-failures.set-aside.jsonl"))
	if lines := strings.Split(strings.TrimSpace(string(aside)), "\n"); len(lines) != 2 || !strings.Contains(lines[0], "in the future") || !strings.Contains(lines[1], "neither a destination record") {
		t.Errorf("set aside: %q, want the refused record and the unreadable line with their reasons", lines)
	}
	again, err := run(context.Background(), options{deadLetters: file, url: s.local.URL}, &out)
	if err != nil || again.Received != 0 || again.Left() != 0 {
		t.Errorf("a second run: %v, %v; want nothing to do", again, err)
	}
}

// A stage's failure queue (SQS's wire protocol, by the stand-in) through
// Lambda's Invoke (make local's, the ingest code itself).
func TestRedriveTheFailureQueue(t *testing.T) {
	s := newStage(t)
	sqs := awsstandin.Start(awsstandin.State{Queue: s.messages})
	defer sqs.Close()
	var out bytes.Buffer
	aside := filepath.Join(t.TempDir(), "set-aside.jsonl")
	r, err := run(context.Background(), options{queueURL: sqs.URL + "/123456789012/FleetApi-prod-UploadFailures", function: "local-ingest",
		lambdaEndpoint: s.local.URL + localauth.LambdaPath, sqsEndpoint: sqs.URL, setAside: aside}, &out)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(out.String())
	check(t, r, s)
	if left := sqs.QueueLeft(); len(left) != 0 {
		t.Errorf("the queue keeps %d messages, want none (2 set aside)", len(left))
	}
	if data, _ := os.ReadFile(aside); strings.Count(string(data), "\n") != 2 {
		t.Errorf("set aside: %s", data)
	}
}

// Without a queue, or with two, the command says what it needs.
func TestRedriveNeedsOneQueue(t *testing.T) {
	for _, o := range []options{{}, {queueURL: "https://sqs.eu-west-1.amazonaws.com/1/q", deadLetters: "f"}, {queueURL: "https://sqs.eu-west-1.amazonaws.com/1/q"}} {
		if _, err := run(context.Background(), o, &bytes.Buffer{}); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
	if got := regionOf("https://sqs.eu-west-1.amazonaws.com/123456789012/q"); got != "eu-west-1" {
		t.Errorf("region of a queue URL: %q", got)
	}
}
