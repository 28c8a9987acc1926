package redrive

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/fleetapi/fleetapi/internal/shared/contract"
	"github.com/fleetapi/fleetapi/internal/testutil/awsstandin"
)

// memoryQueue is a Queue of messages held in memory, delivered in
// batches of two.
type memoryQueue struct {
	waiting []Message
	deleted []string
}

func (q *memoryQueue) Receive(context.Context) ([]Message, error) {
	n := min(2, len(q.waiting))
	batch := q.waiting[:n]
	q.waiting = q.waiting[n:]
	return batch, nil
}

func (q *memoryQueue) Delete(_ context.Context, m Message) error {
	q.deleted = append(q.deleted, m.ID)
	return nil
}

func record(t *testing.T, vid, payload string) []byte {
	t.Helper()
	b, err := json.Marshal(contract.DestinationRecord{Version: "1.0", Timestamp: time.Now().UTC(),
		RequestPayload: contract.RuleEvent{Source: contract.RuleEventSource, Topic: contract.UploadTopic(vid), VID: vid, ClientID: vid, Payload: payload}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Run hands each readable message's event to the function and deletes
// exactly the messages the function stored; without an Aside the others
// stay, counted and with their reasons.
func TestRunDeletesOnlyWhatWasStored(t *testing.T) {
	q := &memoryQueue{waiting: []Message{
		{ID: "a", Body: record(t, "car-1", "ok")},
		{ID: "b", Body: record(t, "car-2", "refused")},
		{ID: "c", Body: []byte(`{"Records":[]}`)},
		{ID: "d", Body: []byte(`{"ruleName":"R","topic":"$aws/rules/R/vehicles/car-3/events","clientId":"car-3","base64OriginalPayload":"ok"}`)},
		{ID: "e", Body: []byte(`not json`)},
	}}
	var invoked []contract.RuleEvent
	r, err := Run(context.Background(), q, func(_ context.Context, event []byte) error {
		var ev contract.RuleEvent
		if err := json.Unmarshal(event, &ev); err != nil {
			t.Fatalf("invoked with %s: %v", event, err)
		}
		invoked = append(invoked, ev)
		if ev.Payload == "refused" {
			return errors.New("Unhandled: upload on vehicles/car-2/events invalid: samples[0].timestamp: in the future")
		}
		return nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Received != 5 || r.Stored != 2 || r.Refused != 1 || r.Failed != 0 || r.Unreadable != 2 || r.SetAside != 0 {
		t.Errorf("report %v, want 5 received, 2 stored, 1 refused, 2 unreadable, none set aside", r)
	}
	if got := strings.Join(q.deleted, ","); got != "a,d" {
		t.Errorf("deleted %s, want a,d", got)
	}
	if len(invoked) != 3 || invoked[2].VID != "car-3" || invoked[2].Topic != "vehicles/car-3/events" {
		t.Errorf("invoked with %+v: want the three readable events, the error action's as its rule event", invoked)
	}
	if !strings.Contains(r.Reasons["b"], "invalid: samples[0].timestamp") || !strings.Contains(r.Reasons["c"], "neither") || !strings.Contains(r.Reasons["e"], "not JSON") {
		t.Errorf("reasons %v", r.Reasons)
	}
	if r.Reasons["a"] != "" || r.Reasons["d"] != "" {
		t.Errorf("a stored message has a reason: %v", r.Reasons)
	}
}

// With an Aside, what no retry stores (not a failure record, invalid or
// refused) is set aside with its reason and deleted; what a later run may
// store (not stored) stays: the run is done when only that is left.
func TestRunSetsAsideWhatNoRetryStores(t *testing.T) {
	q := &memoryQueue{waiting: []Message{
		{ID: "stored", Body: record(t, "car-1", "ok")},
		{ID: "invalid", Body: record(t, "car-1", "invalid")},
		{ID: "refused", Body: record(t, "car-9", "refused")},
		{ID: "unavailable", Body: record(t, "car-1", "unavailable")},
		{ID: "not-json", Body: []byte(`{"samples":`)},
		{ID: "empty", Body: []byte(``)},
	}}
	errs := map[string]error{
		"invalid":     contract.UploadFailure("vehicles/car-1/events", contract.UploadInvalid, errors.New("samples: must hold at least one sample")),
		"refused":     contract.UploadFailure("vehicles/car-9/events", contract.UploadRefused, errors.New("vehicle car-9 is not registered")),
		"unavailable": contract.UploadFailure("vehicles/car-1/events", contract.UploadNotStored, errors.New("DynamoDB unavailable")),
	}
	path := filepath.Join(t.TempDir(), "set-aside.jsonl")
	r, err := Run(context.Background(), q, func(_ context.Context, event []byte) error {
		var ev contract.RuleEvent
		json.Unmarshal(event, &ev)
		if e := errs[ev.Payload]; e != nil {
			return errors.New("Unhandled: " + e.Error())
		}
		return nil
	}, FileAside(path))
	if err != nil {
		t.Fatal(err)
	}
	if r.Stored != 1 || r.Refused != 2 || r.Unreadable != 2 || r.SetAside != 4 || r.Failed != 1 || r.Left() != 1 {
		t.Errorf("report %v, want 1 stored, 4 set aside, 1 left", r)
	}
	if got := strings.Join(q.deleted, ","); got != "stored,invalid,refused,not-json,empty" {
		t.Errorf("deleted %s", got)
	}
	data, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 4 || !strings.Contains(lines[0], `"messageId":"invalid"`) || !strings.Contains(lines[0], "must hold at least one sample") ||
		!strings.Contains(lines[2], `"raw":"{\"samples\":"`) || !strings.Contains(lines[3], `"messageId":"empty"`) {
		t.Errorf("set aside:\n%s", data)
	}
}

// A run cancelled while the function runs stops, and deletes nothing it
// did not see stored.
func TestRunStopsWhenCancelled(t *testing.T) {
	q := &memoryQueue{waiting: []Message{{ID: "a", Body: record(t, "car-1", "x")}, {ID: "b", Body: record(t, "car-1", "y")}}}
	ctx, cancel := context.WithCancel(context.Background())
	_, err := Run(ctx, q, func(ctx context.Context, _ []byte) error { cancel(); return ctx.Err() }, nil)
	if !errors.Is(err, context.Canceled) || len(q.deleted) != 0 {
		t.Errorf("err %v, deleted %v: want the cancellation and nothing deleted", err, q.deleted)
	}
}

// The dead-letter file keeps the lines not deleted, replaced whole, and
// goes when none is left; a missing file is an empty queue.
func TestFileQueue(t *testing.T) {
	path := filepath.Join(t.TempDir(), "upload-failures.jsonl")
	if err := os.WriteFile(path, []byte("one\n\ntwo\nthree\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	q, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	msgs, _ := q.Receive(ctx)
	if len(msgs) != 3 || string(msgs[1].Body) != "two" || msgs[1].ID != "line 2" {
		t.Fatalf("received %+v", msgs)
	}
	if again, _ := q.Receive(ctx); len(again) != 0 {
		t.Errorf("received %d lines again", len(again))
	}
	if err := q.Delete(ctx, msgs[1]); err != nil {
		t.Fatal(err)
	}
	if err := q.Delete(ctx, Message{Receipt: "7"}); err == nil {
		t.Error("deleted a line the file does not have")
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadFile(path); string(left) != "one\nthree\n" {
		t.Errorf("the file keeps %q", left)
	}
	q, _ = OpenFile(path)
	msgs, _ = q.Receive(ctx)
	for _, m := range msgs {
		q.Delete(ctx, m)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("the emptied file is still there (%v)", err)
	}
	q, err = OpenFile(path)
	if msgs, _ := q.Receive(ctx); err != nil || len(msgs) != 0 {
		t.Errorf("a missing file: %v, %d messages", err, len(msgs))
	}
}

func awsConfig(endpoint string) aws.Config {
	return aws.Config{Region: "eu-west-1", BaseEndpoint: aws.String(endpoint),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDSTANDIN", "standin", "")}
}

// The failure queue over SQS's wire protocol (a local stand-in): every
// message received, a deleted one gone, the others kept.
func TestSQSQueue(t *testing.T) {
	standin := awsstandin.Start(awsstandin.State{Queue: []string{"m1", "m2", "m3"}})
	defer standin.Close()
	q := &SQSQueue{Client: sqs.NewFromConfig(awsConfig(standin.URL)), URL: standin.URL + "/123456789012/failures"}
	ctx := context.Background()
	var got []Message
	for {
		msgs, err := q.Receive(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) == 0 {
			break
		}
		got = append(got, msgs...)
	}
	if len(got) != 3 || string(got[0].Body) != "m1" || got[0].Receipt == "" {
		t.Fatalf("received %+v", got)
	}
	if err := q.Delete(ctx, got[1]); err != nil {
		t.Fatal(err)
	}
	if left := standin.QueueLeft(); strings.Join(left, ",") != "m1,m3" {
		t.Errorf("the queue keeps %v", left)
	}
}

// LambdaInvoke reads a function error as Lambda reports it (Lambda API
// Reference, Invoke: a function error is a 200 with X-Amz-Function-Error
// and the error in the payload), and a stored upload as no error.
func TestLambdaInvoke(t *testing.T) {
	var gotType, gotPath string
	lambdaAPI := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotType, gotPath = r.Header.Get("X-Amz-Invocation-Type"), r.URL.Path
		var ev contract.RuleEvent
		json.NewDecoder(r.Body).Decode(&ev)
		if ev.Payload == "refused" {
			w.Header().Set("X-Amz-Function-Error", "Unhandled")
			w.Write([]byte(`{"errorMessage":"upload on vehicles/car-1/events invalid: samples[0].timestamp: in the future","errorType":"errorString"}`))
			return
		}
		w.Write([]byte("null"))
	}))
	defer lambdaAPI.Close()
	invoke := LambdaInvoke(lambda.NewFromConfig(awsConfig(lambdaAPI.URL)), "FleetApi-prod-Ingest")
	ok, _ := json.Marshal(contract.RuleEvent{Payload: "fine"})
	if err := invoke(context.Background(), ok); err != nil {
		t.Errorf("a stored upload: %v", err)
	}
	if gotType != "RequestResponse" || gotPath != "/2015-03-31/functions/FleetApi-prod-Ingest/invocations" {
		t.Errorf("invoked %s with type %q, want a synchronous invocation of the function", gotPath, gotType)
	}
	refused, _ := json.Marshal(contract.RuleEvent{Payload: "refused"})
	if err := invoke(context.Background(), refused); err == nil || !strings.Contains(err.Error(), "Unhandled: upload on vehicles/car-1/events invalid: samples[0].timestamp") {
		t.Errorf("a refused upload: %v", err)
	}
}
