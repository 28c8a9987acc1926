package httpapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/fleetapi/fleetapi/internal/shared/contract"
)

// ruleEvent is what the upload rule hands the ingest function for a
// message vehicle vid published with this body.
func ruleEvent(vid, body string) contract.RuleEvent {
	return contract.RuleEvent{
		Source: contract.RuleEventSource, Topic: contract.UploadTopic(vid), VID: vid, ClientID: vid,
		Payload: base64.StdEncoding.EncodeToString([]byte(body)), ReceivedAt: testNow.UnixMilli(),
	}
}

// invokeRule invokes the ingest function as Lambda does, with the raw
// event, and returns its error.
func (a *testAPI) invokeRule(ev contract.RuleEvent) error {
	a.t.Helper()
	raw, err := json.Marshal(ev)
	if err != nil {
		a.t.Fatal(err)
	}
	out, err := a.handlers["ingest"].Invoke(context.Background(), raw)
	if out != nil {
		a.t.Errorf("the rule's invocation answered %s: an asynchronous invocation has no answer", out)
	}
	return err
}

// An upload over MQTT is stored as the same upload over HTTPS is, with the
// same eid, so that a vehicle switching paths mid-batch stores nothing
// twice; a redelivered message stores nothing new.
func TestRuleUploadIsTheRESTUpload(t *testing.T) {
	a := newAPI(t)
	a.do(call{method: "POST", path: "/vehicles", body: carJSON})
	body := uploadJSON(t, 1, testNow.Add(-time.Hour))
	if err := a.invokeRule(ruleEvent("car-1", body)); err != nil {
		t.Fatalf("upload over MQTT: %v", err)
	}
	if err := a.invokeRule(ruleEvent("car-1", body)); err != nil {
		t.Fatalf("redelivered: %v", err)
	}
	rest := a.do(call{method: "POST", path: "/vehicles/car-1/events", body: body})
	if rest.status != http.StatusOK {
		t.Errorf("the same upload over HTTPS: %d %s, want 200 (stored already)", rest.status, rest.raw)
	}
	list := a.do(call{method: "GET", path: "/vehicles/car-1/events"})
	if evs, _ := list.body["events"].([]any); len(evs) != 1 {
		t.Errorf("%d events, want 1", len(evs))
	}
	// Compressed as the agent publishes it, the same upload is the same
	// event: stored before.
	if err := a.invokeRule(ruleEvent("car-1", string(contract.GzipUpload([]byte(body))))); err != nil {
		t.Fatalf("the upload compressed: %v", err)
	}
	// A new upload compressed is stored, as its JSON would be.
	if err := a.invokeRule(ruleEvent("car-1", string(contract.GzipUpload([]byte(uploadJSON(t, 2, testNow.Add(-time.Hour))))))); err != nil {
		t.Fatalf("a new upload compressed: %v", err)
	}
	list = a.do(call{method: "GET", path: "/vehicles/car-1/events"})
	if evs, _ := list.body["events"].([]any); len(evs) != 2 {
		t.Errorf("%d events after a compressed redelivery and a compressed upload, want 2", len(evs))
	}
	logs := a.logs.String()
	if n := strings.Count(logs, `"outcome":"stored before"`); n != 2 {
		t.Errorf("%d redeliveries logged, want 2 (the JSON one, the compressed one)", n)
	}
	for _, want := range []string{`"source":"mqtt"`, `"outcome":"stored"`, `"outcome":"stored before"`, `"SamplesIngested":10`} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %s:\n%s", want, logs)
		}
	}
}

// What the REST path answers 4xx goes on the failure path with its reason,
// not marked for a retry, and nothing is stored: the vid comes from the topic alone, the client
// must be the topic's thing, the body is decoded as strictly.
func TestRuleBadInput(t *testing.T) {
	a := newAPI(t)
	a.do(call{method: "POST", path: "/vehicles", body: carJSON})
	good := uploadJSON(t, 1, testNow.Add(-time.Hour))
	var withVID map[string]any
	_ = json.Unmarshal([]byte(good), &withVID)
	withVID["vid"] = "car-2"
	otherVID, _ := json.Marshal(withVID)
	future := uploadJSON(t, 3, testNow.Add(time.Hour))
	huge := `{"samples":[{"timestamp":"2026-11-26T07:00:00Z","signals":{"Vehicle.Speed":1}}],"x":"` + strings.Repeat("a", MaxBodyBytes) + `"}`
	for _, tt := range []struct {
		name string
		ev   func() contract.RuleEvent
		want string
	}{
		{"not base64", func() contract.RuleEvent { e := ruleEvent("car-1", good); e.Payload = "%%%"; return e }, "invalid: payload: is not valid base64"},
		{"not JSON", func() contract.RuleEvent { return ruleEvent("car-1", "samples=1") }, "invalid: body: malformed JSON"},
		{"a vid of its own", func() contract.RuleEvent { return ruleEvent("car-1", string(otherVID)) }, `invalid: vid: is not a known field`},
		{"future-dated", func() contract.RuleEvent { return ruleEvent("car-1", future) }, "invalid: samples[0].timestamp"},
		{"too large", func() contract.RuleEvent { return ruleEvent("car-1", huge) }, "invalid: request body too large"},
		// Named by the payload's own size (209,804 bytes), not its base64's
		// (279,740), which a vehicle never sent.
		{"too large, by its size", func() contract.RuleEvent { return ruleEvent("car-1", strings.Repeat("b", 209804)) },
			"payload of 209804 bytes exceeds 131072"},
		{"another vehicle's client", func() contract.RuleEvent { e := ruleEvent("car-1", good); e.ClientID = "car-2"; return e }, `refused: client "car-2" may not upload for vehicle car-1`},
		{"vid not the topic's", func() contract.RuleEvent { e := ruleEvent("car-1", good); e.VID = "car-2"; return e }, "invalid: topic: must be vehicles/VID/events"},
		{"another topic", func() contract.RuleEvent {
			e := ruleEvent("car-1", good)
			e.Topic = "vehicles/car-1/commands"
			return e
		}, "invalid: topic"},
		{"unregistered vehicle", func() contract.RuleEvent { return ruleEvent("car-9", good) }, "refused: vehicle car-9 is not registered"},
		{"gzip cut short", func() contract.RuleEvent {
			z := contract.GzipUpload([]byte(good))
			return ruleEvent("car-1", string(z[:len(z)-1]))
		},
			"invalid: payload: is not valid gzip"},
		{"gzip of no JSON", func() contract.RuleEvent { return ruleEvent("car-1", string(contract.GzipUpload([]byte("samples=1")))) }, "invalid: body: malformed JSON"},
		// A few hundred bytes that inflate to 16 MB are refused by the
		// body's limit, not read whole.
		{"gzip bomb", func() contract.RuleEvent {
			return ruleEvent("car-1", string(contract.GzipUpload([]byte(strings.Repeat(" ", 16<<20)))))
		}, "invalid: request body too large: payload inflates past the limit of 131072 bytes"},
	} {
		err := a.invokeRule(tt.ev())
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.want)
		}
		if errors.Is(err, ErrRetry) {
			t.Errorf("%s: %v is marked for a retry, which cannot store it", tt.name, err)
		}
	}
	list := a.do(call{method: "GET", path: "/vehicles/car-1/events"})
	if evs, _ := list.body["events"].([]any); len(evs) != 0 {
		t.Errorf("%d events stored from bad messages", len(evs))
	}
	// The two refusals, and nothing else, count as refused.
	if n := strings.Count(a.logs.String(), `"AccessRefused":1`); n != 2 {
		t.Errorf("%d AccessRefused metrics, want 2: the client of another vehicle and the unregistered vehicle", n)
	}
}

// Lambda's raw handler tells the events apart: a proxy event gets a proxy
// response, the rule's event none; anything else, and the rule's event at
// a function that serves no uploads, is an error.
func TestInvokeTellsTheEventsApart(t *testing.T) {
	a := newAPI(t)
	proxy, _ := json.Marshal(events.APIGatewayProxyRequest{HTTPMethod: "GET", Resource: "/vehicles/{vid}", Path: "/vehicles/car-1",
		PathParameters: map[string]string{"vid": "car-1"},
		RequestContext: events.APIGatewayProxyRequestContext{RequestID: "r1", OperationName: "getVehicle",
			Identity: events.APIGatewayRequestIdentity{UserArn: testFleetCaller}}})
	out, err := a.handlers["vehicles"].Invoke(context.Background(), proxy)
	var resp events.APIGatewayProxyResponse
	if err != nil || json.Unmarshal(out, &resp) != nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("proxy event: %s, %v; want a proxy response 404 (no such vehicle)", out, err)
	}
	if _, err := a.handlers["ingest"].Invoke(context.Background(), []byte(`{"hello":"world"}`)); err == nil {
		t.Error("an unknown event was served")
	}
	raw, _ := json.Marshal(ruleEvent("car-1", uploadJSON(t, 1, testNow.Add(-time.Hour))))
	if _, err := a.handlers["vehicles"].Invoke(context.Background(), raw); err == nil || !strings.Contains(err.Error(), "serves no uploads") {
		t.Errorf("the rule's event at the vehicles function: %v", err)
	}
}
