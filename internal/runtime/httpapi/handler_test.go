package httpapi

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/fleetapi/fleetapi/internal/bench/workload"
	"github.com/fleetapi/fleetapi/internal/local/dynalite"
	"github.com/fleetapi/fleetapi/internal/runtime/authz"
	"github.com/fleetapi/fleetapi/internal/runtime/dynamostore"
	"github.com/fleetapi/fleetapi/internal/runtime/lambdalog"
	"github.com/fleetapi/fleetapi/internal/shared/contract"
	"github.com/fleetapi/fleetapi/internal/shared/fleet"
)

var db *dynamodb.Client

func TestMain(m *testing.M) {
	os.Exit(dynalite.Main(m, func(c *dynamodb.Client) { db = c }))
}

var (
	testNow       = time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
	testRetention = 30 * 24 * time.Hour
	testKey       = []byte("0123456789abcdef0123456789abcdef")
)

// testAPI is the whole API as deployed: one handler per function of the
// spec, serving the operations the spec gives it, on one pair of tables.
// Every response is checked against the spec.
type testAPI struct {
	t        testing.TB
	handlers map[string]*Handler // by function
	logs     *bytes.Buffer
}

func newAPI(t testing.TB) *testAPI {
	t.Helper()
	tables := dynalite.NewTables(t, db)
	store, err := dynamostore.New(db, dynamostore.Tables{Vehicles: tables.Vehicles, Events: tables.Events, State: tables.State}, testKey)
	if err != nil {
		t.Fatal(err)
	}
	return newAPIWith(t, store)
}

// stores are the stores of every operation, as a *dynamostore.Store is.
type stores interface {
	VehicleStore
	EventStore
	StateStore
}

func newAPIWith(t testing.TB, store stores) *testAPI {
	t.Helper()
	return newAPIFor(t, testCallers, store)
}

// newAPIFor is newAPIWith with the callers of a policy of the test's own.
func newAPIFor(t testing.TB, callers *authz.Policy, store stores) *testAPI {
	t.Helper()
	a := &testAPI{t: t, handlers: map[string]*Handler{}, logs: &bytes.Buffer{}}
	for _, fn := range spec.Functions() {
		h, err := New(Config{
			Routes: routesOf(fn), Callers: callers, Vehicles: store, Events: store, States: store, EventRetention: testRetention,
			Logger:       lambdalog.New(a.logs, "FleetApi-test-"+fn),
			Now:          func() time.Time { return testNow },
			FunctionName: "FleetApi-test-" + fn,
		})
		if err != nil {
			t.Fatal(err)
		}
		a.handlers[fn] = h
	}
	return a
}

type call struct {
	method, path string
	query        map[string]string
	headers      map[string]string
	body         string
	// caller is the ARN of the identity API Gateway authenticated;
	// default: testFleetCaller, granted every operation.
	caller string
}

type result struct {
	status  int
	headers map[string]string
	body    map[string]any
	raw     string
}

// do routes a call as API Gateway would: it finds the operation of the
// path and method in the spec (its router), fills the path parameters and
// the operation name, and invokes the function that serves it. A path or
// method the spec lacks goes to a function of the path's resource, which
// must refuse it.
func (a *testAPI) do(c call) result {
	a.t.Helper()
	resource, params, opID := matchRoute(c.method, c.path)
	fn := functionOf(c.method, resource)
	if fn == "" {
		fn = functionOf("GET", resource)
	}
	ev := events.APIGatewayProxyRequest{
		HTTPMethod: c.method, Resource: resource, Path: c.path, PathParameters: params,
		QueryStringParameters: c.query, Headers: c.headers, Body: c.body,
		RequestContext: events.APIGatewayProxyRequestContext{RequestID: "req-" + c.method, OperationName: opID,
			Identity: events.APIGatewayRequestIdentity{UserArn: cmp.Or(c.caller, testFleetCaller)}},
	}
	if c.body != "" && c.headers == nil {
		ev.Headers = map[string]string{"content-type": "application/json"}
	}
	resp, err := a.handlers[fn].Handle(context.Background(), ev)
	if err != nil {
		a.t.Fatalf("%s %s: Handle returned error %v", c.method, c.path, err)
	}
	r := result{status: resp.StatusCode, headers: resp.Headers, raw: resp.Body}
	checkResponse(a.t, ev, resp)
	if err := json.Unmarshal([]byte(resp.Body), &r.body); err != nil {
		a.t.Fatalf("%s %s: body is not a JSON object: %q", c.method, c.path, resp.Body)
	}
	if resp.Headers["Content-Type"] != "application/json" {
		a.t.Errorf("%s %s: Content-Type %q", c.method, c.path, resp.Headers["Content-Type"])
	}
	return r
}

// matchRoute finds the resource, path parameters and operation of a
// concrete path with kin-openapi's router over the spec. For a method the
// resource does not have, it returns the resource and no operation.
func matchRoute(method, path string) (resource string, params map[string]string, operation string) {
	for _, m := range []string{method, http.MethodGet} {
		req, _ := http.NewRequest(m, "https://api.example"+(&url.URL{Path: path}).EscapedPath(), nil)
		route, params, err := specRouter.FindRoute(req)
		if err != nil {
			continue
		}
		for k, v := range params {
			if u, err := url.PathUnescape(v); err == nil {
				params[k] = u
			}
		}
		if m != method {
			return route.Path, params, ""
		}
		return route.Path, params, route.Operation.OperationID
	}
	panic(fmt.Sprintf("no resource of the spec matches %s", path))
}

func jsonBody(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

const carJSON = `{"vid":"car-1","make":"BMW","model":"i3","year":2017,"plate":"SE 317 RI","metadata":{"color":"silver"}}`

func uploadJSON(t testing.TB, seed uint64, start time.Time) string {
	return jsonBody(t, workload.NewDrive(seed, start).Upload(workload.SamplesPerUpload))
}

func wantError(t *testing.T, r result, status int, code, msgPart string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.raw)
	}
	e, _ := r.body["error"].(map[string]any)
	if e == nil || e["code"] != code || !strings.Contains(fmt.Sprint(e["message"]), msgPart) || e["requestId"] == "" {
		t.Errorf("error body %s, want code %s and a message containing %q and a requestId", r.raw, code, msgPart)
	}
	if len(r.body) != 1 {
		t.Errorf("error body has extra members: %s", r.raw)
	}
}

// A create retried with its Idempotency-Key answers 200 with the vehicle
// it stored, even after an update; the key with another body is 409, as
// is a create without a key; a malformed key is 400.
func TestCreateVehicleRetry(t *testing.T) {
	a := newAPI(t)
	key := map[string]string{"Idempotency-Key": "register-car-1"}
	first := a.do(call{method: "POST", path: "/vehicles", body: carJSON, headers: key})
	if first.status != http.StatusCreated {
		t.Fatalf("create: %d %s", first.status, first.raw)
	}
	retry := a.do(call{method: "POST", path: "/vehicles", body: carJSON, headers: key})
	if retry.status != http.StatusOK || retry.raw != first.raw || retry.headers["ETag"] != `"1"` || retry.headers["Location"] != "/vehicles/car-1" {
		t.Errorf("retry: %d %v %s, want 200 with the stored vehicle %s", retry.status, retry.headers, retry.raw, first.raw)
	}
	wantError(t, a.do(call{method: "POST", path: "/vehicles", body: strings.Replace(carJSON, "i3", "i8", 1), headers: key}), 409, "Conflict", `vehicle "car-1" already exists`)
	wantError(t, a.do(call{method: "POST", path: "/vehicles", body: carJSON}), 409, "Conflict", `vehicle "car-1" already exists`)
	wantError(t, a.do(call{method: "POST", path: "/vehicles", body: carJSON, headers: map[string]string{"Idempotency-Key": "a key"}}), 400, "BadRequest", "Idempotency-Key")
}

// A synthetic vehicle's vid is its stage's to register: the API refuses
// it, saying why, and stores nothing.
func TestCreateVehicleRefusesSyntheticVIDs(t *testing.T) {
	a := newAPI(t)
	body := strings.Replace(carJSON, `"car-1"`, `"fleetapi-synthetic-FleetApi-prod-Fleet"`, 1)
	wantError(t, a.do(call{method: "POST", path: "/vehicles", body: body}), 400, "BadRequest", "is reserved: a vid beginning with fleetapi-synthetic- is a synthetic vehicle's")
	wantError(t, a.do(call{method: "GET", path: "/vehicles/fleetapi-synthetic-FleetApi-prod-Fleet"}), 404, "NotFound", "")
}

func TestVehicleFlow(t *testing.T) {
	a := newAPI(t)
	r := a.do(call{method: "POST", path: "/vehicles", body: carJSON})
	if r.status != http.StatusCreated || r.headers["Location"] != "/vehicles/car-1" || r.headers["ETag"] != `"1"` {
		t.Fatalf("create: %d %v %s", r.status, r.headers, r.raw)
	}
	r = a.do(call{method: "GET", path: "/vehicles/car-1"})
	if r.status != 200 || r.body["model"] != "i3" || r.body["version"] != 1.0 {
		t.Fatalf("get: %d %s", r.status, r.raw)
	}
	update := `{"make":"BMW","model":"i3s","year":2018}`
	r = a.do(call{method: "PUT", path: "/vehicles/car-1", body: update, headers: map[string]string{"If-Match": `"1"`, "Content-Type": "application/json; charset=utf-8"}})
	if r.status != 200 || r.body["model"] != "i3s" || r.headers["ETag"] != `"2"` {
		t.Fatalf("update: %d %v %s", r.status, r.headers, r.raw)
	}
	r = a.do(call{method: "GET", path: "/vehicles", query: map[string]string{"limit": "10"}})
	if r.status != 200 || len(r.body["vehicles"].([]any)) != 1 {
		t.Fatalf("list: %d %s", r.status, r.raw)
	}
}

func TestEventFlow(t *testing.T) {
	a := newAPI(t)
	a.do(call{method: "POST", path: "/vehicles", body: carJSON})
	body := uploadJSON(t, 1, testNow.Add(-time.Hour))
	first := a.do(call{method: "POST", path: "/vehicles/car-1/events", body: body})
	if first.status != http.StatusCreated || first.body["sampleCount"] != 10.0 {
		t.Fatalf("upload: %d %s", first.status, first.raw)
	}
	eid := first.body["eid"].(string)
	if first.headers["Location"] != "/vehicles/car-1/events/"+eid {
		t.Errorf("Location %q", first.headers["Location"])
	}
	retry := a.do(call{method: "POST", path: "/vehicles/car-1/events", body: body})
	if retry.status != http.StatusOK || retry.body["eid"] != eid {
		t.Fatalf("retry: %d %s, want 200 with eid %s", retry.status, retry.raw, eid)
	}
	keyed := map[string]string{"Content-Type": "application/json", "Idempotency-Key": "upload-42"}
	k1 := a.do(call{method: "POST", path: "/vehicles/car-1/events", body: uploadJSON(t, 2, testNow.Add(-2*time.Hour)), headers: keyed})
	k2 := a.do(call{method: "POST", path: "/vehicles/car-1/events", body: uploadJSON(t, 2, testNow.Add(-2*time.Hour)), headers: keyed})
	if k1.status != 201 || k2.status != 200 || k1.body["eid"] != k2.body["eid"] {
		t.Errorf("keyed retry: %d %v then %d %v", k1.status, k1.body["eid"], k2.status, k2.body["eid"])
	}

	list := a.do(call{method: "GET", path: "/vehicles/car-1/events", query: map[string]string{"order": "desc", "limit": "5"}})
	evs, _ := list.body["events"].([]any)
	if list.status != 200 || len(evs) != 2 {
		t.Fatalf("list: %d %s, want 2 events (no duplicate from the retries)", list.status, list.raw)
	}
	if evs[0].(map[string]any)["eid"] != eid {
		t.Errorf("newest first: first eid %v, want %s", evs[0].(map[string]any)["eid"], eid)
	}
	got := a.do(call{method: "GET", path: "/vehicles/car-1/events/" + eid})
	if got.status != 200 || len(got.body["samples"].([]any)) != 10 {
		t.Fatalf("get event: %d %s", got.status, got.raw)
	}
	if strings.Contains(a.logs.String(), "Vehicle.Speed") {
		t.Error("a log line holds a request body")
	}
	if !strings.Contains(a.logs.String(), `"requestId":"req-POST"`) {
		t.Errorf("logs lack the request id:\n%s", a.logs.String())
	}
}

func TestBadInput(t *testing.T) {
	a := newAPI(t)
	a.do(call{method: "POST", path: "/vehicles", body: carJSON})
	car := func(replace string) string { return strings.Replace(carJSON, `"year":2017`, replace, 1) }
	past := testNow.Add(-time.Hour)
	upload := workload.NewDrive(3, past).Upload(10)
	tooMany := workload.NewDrive(3, past).Upload(fleet.MaxSamplesPerEvent + 1)
	future := workload.NewDrive(3, testNow.Add(time.Hour)).Upload(2)
	dup := workload.NewDrive(3, past).Upload(2)
	dup.Samples[1].Timestamp = dup.Samples[0].Timestamp
	outOfRange := workload.NewDrive(3, past).Upload(1)
	outOfRange.Samples[0].Signals[fleet.SignalStateOfCharge] = 101
	badSignal := workload.NewDrive(3, past).Upload(1)
	badSignal.Samples[0].Signals["9bad name"] = 1
	big := `{"samples":[` + strings.Repeat(`{"timestamp":"2026-11-26T07:00:00Z","signals":{"Vehicle.Speed":1}},`, 3000) + `]}`

	tests := []struct {
		desc   string
		call   call
		status int
		code   string
		msg    string
	}{
		{"malformed JSON", call{method: "POST", path: "/vehicles", body: `{"vid":`}, 400, "BadRequest", "malformed JSON"},
		{"syntax error", call{method: "POST", path: "/vehicles", body: `{"vid" "x"}`}, 400, "BadRequest", "malformed JSON at byte"},
		{"wrong type", call{method: "POST", path: "/vehicles", body: car(`"year":"2017"`)}, 400, "BadRequest", "year: must be a whole number, got string"},
		{"unknown field", call{method: "POST", path: "/vehicles", body: car(`"year":2017,"colour":"red"`)}, 400, "BadRequest", "colour: is not a known field"},
		{"missing field", call{method: "POST", path: "/vehicles", body: `{"vid":"car-2","make":"BMW","year":2017}`}, 400, "BadRequest", "model: is required"},
		{"empty body", call{method: "POST", path: "/vehicles", body: ""}, 400, "BadRequest", "body: is required"},
		{"array body", call{method: "POST", path: "/vehicles", body: `[1]`}, 400, "BadRequest", "must be a JSON object"},
		{"trailing data", call{method: "POST", path: "/vehicles", body: carJSON + `{}`}, 400, "BadRequest", "nothing after it"},
		{"trailing garbage after spaces", call{method: "POST", path: "/vehicles", body: carJSON + "  x"}, 400, "BadRequest", "nothing after it"},
		{"an unclosed second value", call{method: "POST", path: "/vehicles", body: carJSON + `{"vid"`}, 400, "BadRequest", "nothing after it"},
		{"not JSON media type", call{method: "POST", path: "/vehicles", body: carJSON, headers: map[string]string{"Content-Type": "text/plain"}}, 415, "UnsupportedMediaType", "application/json"},
		{"oversized body", call{method: "POST", path: "/vehicles/car-1/events", body: big}, 413, "PayloadTooLarge", "exceeds"},
		{"year out of range", call{method: "POST", path: "/vehicles", body: car(`"year":1800`)}, 400, "BadRequest", "year: must be between 1886 and 2027, got 1800"},
		{"invalid vid in body", call{method: "POST", path: "/vehicles", body: strings.Replace(carJSON, "car-1", "c!", 1)}, 400, "BadRequest", "vid: must be 3 to 64"},
		{"duplicate create", call{method: "POST", path: "/vehicles", body: carJSON}, 409, "Conflict", `vehicle "car-1" already exists`},
		{"invalid vid in path", call{method: "GET", path: "/vehicles/a b"}, 400, "BadRequest", "vid: must be 3 to 64"},
		{"unknown vehicle", call{method: "GET", path: "/vehicles/ghost"}, 404, "NotFound", `vehicle "ghost"`},
		{"update of a missing vehicle", call{method: "PUT", path: "/vehicles/ghost", body: `{"make":"BMW","model":"i3","year":2017}`}, 404, "NotFound", `vehicle "ghost"`},
		{"stale version", call{method: "PUT", path: "/vehicles/car-1", body: `{"make":"BMW","model":"i3","year":2017}`, headers: map[string]string{"If-Match": `"7"`}}, 412, "PreconditionFailed", "version 1, not 7"},
		{"malformed If-Match", call{method: "PUT", path: "/vehicles/car-1", body: `{"make":"BMW","model":"i3","year":2017}`, headers: map[string]string{"If-Match": `W/1`}}, 400, "BadRequest", "If-Match"},
		{"bad cursor", call{method: "GET", path: "/vehicles", query: map[string]string{"cursor": "abc.def"}}, 400, "BadRequest", "cursor: is not a cursor of this listing"},
		{"limit out of range", call{method: "GET", path: "/vehicles", query: map[string]string{"limit": "101"}}, 400, "BadRequest", "limit: must be a whole number from 1 to 100"},
		{"limit not a number", call{method: "GET", path: "/vehicles/car-1/events", query: map[string]string{"limit": "ten"}}, 400, "BadRequest", "limit"},
		{"unknown query parameter", call{method: "GET", path: "/vehicles", query: map[string]string{"page": "2"}}, 400, "BadRequest", "page: is not a query parameter"},
		{"from after to", call{method: "GET", path: "/vehicles/car-1/events", query: map[string]string{"from": "2026-11-26T08:00:00Z", "to": "2026-11-26T07:00:00Z"}}, 400, "BadRequest", "from: must not be after to"},
		{"bad from", call{method: "GET", path: "/vehicles/car-1/events", query: map[string]string{"from": "yesterday"}}, 400, "BadRequest", "from: must be an RFC 3339"},
		{"bad order", call{method: "GET", path: "/vehicles/car-1/events", query: map[string]string{"order": "up"}}, 400, "BadRequest", "order"},
		{"invalid eid", call{method: "GET", path: "/vehicles/car-1/events/123"}, 400, "BadRequest", "eid: must be 13 digits"},
		{"missing event", call{method: "GET", path: "/vehicles/car-1/events/1764140400000-0011223344556677"}, 404, "NotFound", "event"},
		{"event for an unknown vehicle", call{method: "POST", path: "/vehicles/ghost/events", body: jsonBody(t, upload)}, 403, "Forbidden", "vehicle ghost is not registered"},
		{"no samples", call{method: "POST", path: "/vehicles/car-1/events", body: `{"samples":[]}`}, 400, "BadRequest", "samples: must hold at least one sample"},
		{"too many samples", call{method: "POST", path: "/vehicles/car-1/events", body: jsonBody(t, tooMany)}, 400, "BadRequest", "samples: must hold at most 100 samples, got 101"},
		{"sample in the future", call{method: "POST", path: "/vehicles/car-1/events", body: jsonBody(t, future)}, 400, "BadRequest", "in the future"},
		{"duplicate timestamps", call{method: "POST", path: "/vehicles/car-1/events", body: jsonBody(t, dup)}, 400, "BadRequest", "two samples have the timestamp"},
		{"signal out of range", call{method: "POST", path: "/vehicles/car-1/events", body: jsonBody(t, outOfRange)}, 400, "BadRequest", "StateOfCharge.Current: 101 is out of range [0, 100]"},
		{"bad signal name", call{method: "POST", path: "/vehicles/car-1/events", body: jsonBody(t, badSignal)}, 400, "BadRequest", `name "9bad name"`},
		{"bad timestamp", call{method: "POST", path: "/vehicles/car-1/events", body: `{"samples":[{"timestamp":"noon","signals":{"Vehicle.Speed":1}}]}`}, 400, "BadRequest", "RFC 3339"},
		{"signal of the wrong type", call{method: "POST", path: "/vehicles/car-1/events", body: `{"samples":[{"timestamp":"2026-11-26T07:00:00Z","signals":{"Vehicle.Speed":"fast"}}]}`}, 400, "BadRequest", "must be a number, got string"},
		{"bad idempotency key", call{method: "POST", path: "/vehicles/car-1/events", body: jsonBody(t, upload), headers: map[string]string{"Idempotency-Key": "has space"}}, 400, "BadRequest", "Idempotency-Key"},
		{"method not allowed", call{method: "DELETE", path: "/vehicles/car-1"}, 405, "MethodNotAllowed", "DELETE"},
		// Strict JSON: names match case and all, once each, and no null.
		{"case-changed keys", call{method: "POST", path: "/vehicles", body: `{"VID":"car-2","MAKE":"BMW","MODEL":"i3","YEAR":2017}`}, 400, "BadRequest", "VID: is not a known field"},
		{"case-changed nested key", call{method: "POST", path: "/vehicles/car-1/events", body: `{"samples":[{"Timestamp":"2026-11-26T07:00:00Z","signals":{"Vehicle.Speed":1}}]}`}, 400, "BadRequest", "samples[0].Timestamp: is not a known field"},
		{"null signal value", call{method: "POST", path: "/vehicles/car-1/events", body: `{"samples":[{"timestamp":"2026-11-26T07:00:00Z","signals":{"Vehicle.Speed":null}}]}`}, 400, "BadRequest", "samples[0].signals.Vehicle.Speed: must not be null"},
		{"null string", call{method: "POST", path: "/vehicles", body: `{"vid":"car-2","make":null,"model":"i3","year":2017}`}, 400, "BadRequest", "make: must not be null"},
		{"null metadata", call{method: "POST", path: "/vehicles", body: `{"vid":"car-2","make":"BMW","model":"i3","year":2017,"metadata":null}`}, 400, "BadRequest", "metadata: must not be null"},
		{"null body", call{method: "POST", path: "/vehicles", body: `null`}, 400, "BadRequest", "body: must not be null"},
		{"duplicate member", call{method: "POST", path: "/vehicles", body: `{"vid":"car-2","vid":"car-3","make":"BMW","model":"i3","year":2017}`}, 400, "BadRequest", "vid: appears twice"},
		{"duplicate signal", call{method: "POST", path: "/vehicles/car-1/events", body: `{"samples":[{"timestamp":"2026-11-26T07:00:00Z","signals":{"Vehicle.Speed":1,"Vehicle.Speed":2}}]}`}, 400, "BadRequest", "samples[0].signals.Vehicle.Speed: appears twice"},
		{"fractional year", call{method: "POST", path: "/vehicles", body: car(`"year":2017.5`)}, 400, "BadRequest", "year: must be a whole number, got 2017.5"},
		// The spec's Timestamp: RFC 3339 of at most 35 characters.
		{"long timestamp", call{method: "POST", path: "/vehicles/car-1/events", body: `{"samples":[{"timestamp":"2026-11-26T07:00:00.0000000000000000Z","signals":{"Vehicle.Speed":1}}]}`}, 400, "BadRequest", "samples[0].timestamp: must be an RFC 3339 date-time of at most 35 characters"},
		{"timestamp not a string", call{method: "POST", path: "/vehicles/car-1/events", body: `{"samples":[{"timestamp":1764140400,"signals":{"Vehicle.Speed":1}}]}`}, 400, "BadRequest", "samples[0].timestamp: must be a string, got number"},
		{"long to", call{method: "GET", path: "/vehicles/car-1/events", query: map[string]string{"to": "2026-11-26T07:00:00.0000000000000000Z"}}, 400, "BadRequest", "to: must be an RFC 3339 date-time of at most 35 characters"},
		{"word null in a string", call{method: "POST", path: "/vehicles", body: strings.Replace(carJSON, `"model":"i3"`, `"model":"nullable"`, 1)}, 409, "Conflict", "already exists"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			wantError(t, a.do(tt.call), tt.status, tt.code, tt.msg)
		})
	}
	// Nothing of the refused uploads was stored.
	list := a.do(call{method: "GET", path: "/vehicles/car-1/events"})
	if evs := list.body["events"].([]any); len(evs) != 0 {
		t.Errorf("refused uploads stored %d events", len(evs))
	}
}

func TestBase64Body(t *testing.T) {
	a := newAPI(t)
	ev := signedBy(testFleetCaller, events.APIGatewayProxyRequest{HTTPMethod: "POST", Resource: "/vehicles", Body: base64.StdEncoding.EncodeToString([]byte(carJSON)), IsBase64Encoded: true})
	resp, _ := a.handlers[functionOf("POST", "/vehicles")].Handle(context.Background(), ev)
	if resp.StatusCode != 201 {
		t.Errorf("base64 body: %d %s", resp.StatusCode, resp.Body)
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	if _, err := New(Config{Callers: testCallers, Routes: []contract.Route{{Operation: "deleteVehicle", Method: "DELETE", Resource: "/vehicles/{vid}"}}, EventRetention: time.Hour}); err == nil || !strings.Contains(err.Error(), "operation deleteVehicle has no implementation") {
		t.Errorf("unknown operation: got %v", err)
	}
	if _, err := New(Config{Callers: testCallers, Routes: routesOf("ingest"), Vehicles: nopStore{}, EventRetention: time.Hour}); err == nil || !strings.Contains(err.Error(), "operation createEvent needs its store") {
		t.Errorf("createEvent without an event store: got %v", err)
	}
	if _, err := New(Config{Callers: testCallers, Routes: routesOf("vehicles"), Events: nopStore{}, EventRetention: time.Hour}); err == nil || !strings.Contains(err.Error(), "needs its store") {
		t.Errorf("vehicle operations without a vehicle store: got %v", err)
	}
	if _, err := New(Config{EventRetention: time.Hour}); err == nil {
		t.Error("a handler of no operation was accepted")
	}
	for _, retention := range []time.Duration{0, -time.Hour} {
		if _, err := New(Config{Callers: testCallers, Routes: routesOf("vehicles"), Vehicles: nopStore{}, EventRetention: retention}); err == nil || !strings.Contains(err.Error(), "EventRetention must be positive") {
			t.Errorf("retention %v: got %v", retention, err)
		}
	}
}

// If-Match is "*", or one strong ETag "N" of a version (N ≥ 1): anything
// else, "0" among them, would make an update unconditional, and is a 400.
func TestIfMatch(t *testing.T) {
	for h, want := range map[string]int64{"": 0, "*": 0, ` "3" `: 3, `"1"`: 1} {
		if got, err := parseIfMatch(h); err != nil || got != want {
			t.Errorf("parseIfMatch(%q) = %d, %v; want %d", h, got, err, want)
		}
	}
	for _, h := range []string{`"0"`, `"-1"`, `3`, `"3`, `3"`, `"x"`, `W/"3"`, `""`, `"3" "4"`} {
		if got, err := parseIfMatch(h); err == nil {
			t.Errorf("parseIfMatch(%q) = %d, want an error", h, got)
		}
	}
}

// A body of exactly MaxBodyBytes is read; one byte more is a 413.
func TestBodySizeBound(t *testing.T) {
	a := newAPI(t)
	pad := func(n int) string { return carJSON[:len(carJSON)-1] + strings.Repeat(" ", n-len(carJSON)) + "}" }
	if r := a.do(call{method: "POST", path: "/vehicles", body: pad(MaxBodyBytes)}); r.status != http.StatusCreated {
		t.Errorf("body of %d bytes: %d %s, want 201", MaxBodyBytes, r.status, r.raw)
	}
	wantError(t, a.do(call{method: "POST", path: "/vehicles", body: pad(MaxBodyBytes + 1)}), 413, "PayloadTooLarge", "exceeds")
	// The same bound when API Gateway passes the body base64-encoded.
	h := a.handlers[functionOf("POST", "/vehicles")]
	for n, want := range map[int]int{MaxBodyBytes: 409, MaxBodyBytes + 1: 413} {
		ev := signedBy(testFleetCaller, events.APIGatewayProxyRequest{HTTPMethod: "POST", Resource: "/vehicles", IsBase64Encoded: true,
			Body: base64.StdEncoding.EncodeToString([]byte(pad(n)))})
		if resp, _ := h.Handle(context.Background(), ev); resp.StatusCode != want {
			t.Errorf("base64 body of %d bytes: %d %s, want %d", n, resp.StatusCode, resp.Body, want)
		}
	}
}

// A timestamp of the spec's longest, 35 characters, is read; one more is a 400.
func TestTimestampLengthBound(t *testing.T) {
	a := newAPI(t)
	longest := "2026-11-26T07:00:00.123456789+01:00"
	if len(longest) != MaxTimestampLen {
		t.Fatalf("test timestamp of %d characters", len(longest))
	}
	if r := a.do(call{method: "GET", path: "/vehicles/car-1/events", query: map[string]string{"from": longest}}); r.status != http.StatusOK {
		t.Errorf("from of %d characters: %d %s", len(longest), r.status, r.raw)
	}
	wantError(t, a.do(call{method: "GET", path: "/vehicles/car-1/events", query: map[string]string{"from": "2026-11-26T07:00:00.1234567891+01:00"}}), 400, "BadRequest", "at most 35 characters")
}

// A function answers 404 to an operation the spec gives another function.
func TestHandlerServesOnlyItsOperations(t *testing.T) {
	a := newAPI(t)
	ev := signedBy(testFleetCaller, events.APIGatewayProxyRequest{HTTPMethod: "GET", Resource: "/vehicles/{vid}", PathParameters: map[string]string{"vid": "car-1"}})
	resp, _ := a.handlers[functionOf("POST", "/vehicles/{vid}/events")].Handle(context.Background(), ev)
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("ingest served getVehicle: %d %s", resp.StatusCode, resp.Body)
	}
}

// A far-future `to` is allowed by the spec (any date-time not before
// from): the listing answers 200, never DynamoDB's ValidationException.
func TestListEventsFarFutureRange(t *testing.T) {
	a := newAPI(t)
	a.do(call{method: "POST", path: "/vehicles", body: carJSON})
	if r := a.do(call{method: "POST", path: "/vehicles/car-1/events", body: uploadJSON(t, 1, testNow.Add(-time.Hour))}); r.status != http.StatusCreated {
		t.Fatalf("upload: %d %s", r.status, r.raw)
	}
	for _, q := range []map[string]string{
		{"to": "2300-01-01T00:00:00Z"},
		{"from": testNow.Add(-2 * time.Hour).Format(time.RFC3339), "to": "9999-12-31T23:59:59Z"},
	} {
		r := a.do(call{method: "GET", path: "/vehicles/car-1/events", query: q})
		if evs, _ := r.body["events"].([]any); r.status != http.StatusOK || len(evs) != 1 {
			t.Errorf("list %v: %d %s, want 200 with the event", q, r.status, r.raw)
		}
	}
	r := a.do(call{method: "GET", path: "/vehicles/car-1/events", query: map[string]string{"from": "2300-01-01T00:00:00Z", "to": "2400-01-01T00:00:00Z"}})
	if evs, _ := r.body["events"].([]any); r.status != http.StatusOK || len(evs) != 0 {
		t.Errorf("list after 2300: %d %s, want 200 with no event", r.status, r.raw)
	}
}

// A read of before the hot window (the stage's event retention) is no
// empty page: a 400 naming the parameter, the window and where the older
// samples are; an event of before it a 404 that says so too. Within the
// window, and a minute before it (a reader's clock ahead), reads answer.
func TestReadsBeforeTheHotWindow(t *testing.T) {
	a := newAPI(t)
	const history = "the Athena table fleetapi_prod_fleet.samples (workgroup FleetApi-prod-Fleet-History)"
	a.handlers["events"].cfg.History = history
	a.do(call{method: "POST", path: "/vehicles", body: carJSON})
	windowStart := testNow.Add(-testRetention)
	for _, tt := range []struct {
		query map[string]string
		field string
	}{
		{map[string]string{"from": windowStart.Add(-time.Hour).Format(time.RFC3339)}, "from"},
		{map[string]string{"from": "1960-01-01T00:00:00Z", "to": "9999-12-31T23:59:59Z"}, "from"},
		{map[string]string{"to": windowStart.Add(-time.Hour).Format(time.RFC3339)}, "to"},
	} {
		r := a.do(call{method: "GET", path: "/vehicles/car-1/events", query: tt.query})
		msg := errorMessage(r)
		if r.status != http.StatusBadRequest || !strings.HasPrefix(msg, tt.field+": ") || !strings.Contains(msg, "before the 30-day hot window") ||
			!strings.Contains(msg, windowStart.Format(time.RFC3339)) || !strings.Contains(msg, history) {
			t.Errorf("list %v: %d %q, want 400 naming %s, the window and the history", tt.query, r.status, msg, tt.field)
		}
	}
	for _, q := range []map[string]string{
		{"from": windowStart.Add(-30 * time.Second).Format(time.RFC3339)},
		{"from": windowStart.Add(time.Hour).Format(time.RFC3339), "to": testNow.Format(time.RFC3339)},
		{},
	} {
		if r := a.do(call{method: "GET", path: "/vehicles/car-1/events", query: q}); r.status != http.StatusOK {
			t.Errorf("list %v: %d %s, want 200", q, r.status, r.raw)
		}
	}
	old := fmt.Sprintf("%013d-0123456789abcdef", windowStart.Add(-24*time.Hour).UnixMilli())
	r := a.do(call{method: "GET", path: "/vehicles/car-1/events/" + old})
	if msg := errorMessage(r); r.status != http.StatusNotFound || !strings.Contains(msg, "before the 30-day hot window") || !strings.Contains(msg, history) {
		t.Errorf("an event of before the window: %d %q, want 404 saying where the history is", r.status, msg)
	}
	recent := fmt.Sprintf("%013d-0123456789abcdef", testNow.Add(-time.Hour).UnixMilli())
	r = a.do(call{method: "GET", path: "/vehicles/car-1/events/" + recent})
	if msg := errorMessage(r); r.status != http.StatusNotFound || strings.Contains(msg, "hot window") {
		t.Errorf("a missing event in the window: %d %q, want a plain 404", r.status, msg)
	}
	// A stage without history says so.
	a.handlers["events"].cfg.History = ""
	r = a.do(call{method: "GET", path: "/vehicles/car-1/events", query: map[string]string{"from": "1960-01-01T00:00:00Z"}})
	if msg := errorMessage(r); r.status != http.StatusBadRequest || !strings.Contains(msg, "this stage keeps no history") {
		t.Errorf("without history: %d %q", r.status, msg)
	}
}

// With a history, an upload may carry samples older than the hot window,
// up to the history's retention (an agent replaying its journal after a
// long time offline): stored, and so written to the history; without one,
// or past the history's retention, a 400 names the sample.
func TestUploadsOlderThanTheHotWindow(t *testing.T) {
	a := newAPI(t)
	a.do(call{method: "POST", path: "/vehicles", body: carJSON})
	old := testNow.Add(-testRetention - 10*24*time.Hour)
	if r := a.do(call{method: "POST", path: "/vehicles/car-1/events", body: uploadJSON(t, 1, old)}); r.status != http.StatusBadRequest || !strings.Contains(errorMessage(r), "older than the retention of 30 days") {
		t.Errorf("without a history: %d %s, want 400 naming the retention", r.status, r.raw)
	}
	a.handlers["ingest"].ingest.AcceptFor(365 * 24 * time.Hour)
	r := a.do(call{method: "POST", path: "/vehicles/car-1/events", body: uploadJSON(t, 1, old)})
	if r.status != http.StatusCreated {
		t.Errorf("with a year of history: %d %s, want 201", r.status, r.raw)
	}
	// Kept the window's length after it arrived, so that a retry in that
	// time is the same event, not a second one in the history.
	if want := testNow.Add(testRetention).Format(time.RFC3339); r.body["expiresAt"] != want {
		t.Errorf("a late upload expires at %v, want %s", r.body["expiresAt"], want)
	}
	if again := a.do(call{method: "POST", path: "/vehicles/car-1/events", body: uploadJSON(t, 1, old)}); again.status != http.StatusOK {
		t.Errorf("its retry: %d %s, want 200 (stored before)", again.status, again.raw)
	}
	if r := a.do(call{method: "POST", path: "/vehicles/car-1/events", body: uploadJSON(t, 2, testNow.Add(-400*24*time.Hour))}); r.status != http.StatusBadRequest || !strings.Contains(errorMessage(r), "older than the retention of 365 days") {
		t.Errorf("past the history: %d %s, want 400 naming its retention", r.status, r.raw)
	}
}

// errorMessage is the message of an error answer's JSON.
func errorMessage(r result) string {
	e, _ := r.body["error"].(map[string]any)
	m, _ := e["message"].(string)
	return m
}

// The spec counts lengths in characters (JSON Schema's maxLength) and
// bounds metadata by entries and value length: a request at those bounds,
// in non-ASCII text, is stored, and so is a metadata key with a space.
func TestSpecBoundsInCharacters(t *testing.T) {
	a := newAPI(t)
	body := jsonBody(t, map[string]any{
		"vid": "car-7", "make": strings.Repeat("Š", 64), "model": strings.Repeat("€", 64), "year": 2017,
		"metadata": map[string]string{"fleet number": strings.Repeat("ü", 256), strings.Repeat("ß", 64): "x"},
	})
	r := a.do(call{method: "POST", path: "/vehicles", body: body})
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.raw)
	}
	got := a.do(call{method: "GET", path: "/vehicles/car-7"})
	if got.body["model"] != strings.Repeat("€", 64) || got.body["metadata"].(map[string]any)["fleet number"] != strings.Repeat("ü", 256) {
		t.Errorf("read back %s", got.raw)
	}
	over := strings.Replace(body, strings.Repeat("€", 64), strings.Repeat("€", 65), 1)
	wantError(t, a.do(call{method: "PUT", path: "/vehicles/car-7", body: strings.Replace(over, `"vid":"car-7",`, "", 1)}), 400, "BadRequest", "model: must be valid text of at most 64 characters")
}

// An upload at the bounds of the spec (100 samples of 64 signals, every
// signal distinct) is stored and can be read back whole.
func TestLargestUploadIsReadable(t *testing.T) {
	a := newAPI(t)
	a.do(call{method: "POST", path: "/vehicles", body: carJSON})
	var up fleet.Upload
	for i := range fleet.MaxSamplesPerEvent {
		s := fleet.Sample{Timestamp: testNow.Add(time.Duration(i-200) * time.Second), Signals: map[string]float64{}}
		for j := range fleet.MaxSignalsPerSample {
			s.Signals[fmt.Sprintf("X.s%d", i*fleet.MaxSignalsPerSample+j)] = float64(j)
		}
		up.Samples = append(up.Samples, s)
	}
	r := a.do(call{method: "POST", path: "/vehicles/car-1/events", body: jsonBody(t, up)})
	if r.status != http.StatusCreated {
		t.Fatalf("upload: %d %s", r.status, r.raw)
	}
	got := a.do(call{method: "GET", path: "/vehicles/car-1/events/" + r.body["eid"].(string)})
	if got.status != http.StatusOK {
		t.Fatalf("read back: %d %s", got.status, got.raw)
	}
	samples := got.body["samples"].([]any)
	last := samples[len(samples)-1].(map[string]any)["signals"].(map[string]any)
	if len(samples) != fleet.MaxSamplesPerEvent || len(last) != fleet.MaxSignalsPerSample {
		t.Errorf("read back %d samples, the last with %d signals", len(samples), len(last))
	}
	list := a.do(call{method: "GET", path: "/vehicles/car-1/events"})
	if evs, _ := list.body["events"].([]any); list.status != http.StatusOK || len(evs) != 1 {
		t.Errorf("list: %d, %d events", list.status, len(evs))
	}
}

// A listing with the default time range can be paged through while the
// clock moves, and a next cursor means there is more: 7 vehicles or events
// in pages of 7 end without a cursor, in pages of 3 after three pages.
func TestListingsPageThrough(t *testing.T) {
	tables := dynalite.NewTables(t, db)
	store, err := dynamostore.New(db, dynamostore.Tables{Vehicles: tables.Vehicles, Events: tables.Events, State: tables.State}, testKey)
	if err != nil {
		t.Fatal(err)
	}
	a := newAPIWith(t, store)
	// Every request of this API sees the clock one second later.
	ticks := 0
	ticking := newAPIWith(t, store)
	for _, h := range ticking.handlers {
		h.cfg.Now = func() time.Time { ticks++; return testNow.Add(time.Duration(ticks) * time.Second) }
	}
	for i := range 7 {
		a.do(call{method: "POST", path: "/vehicles", body: strings.Replace(carJSON, "car-1", fmt.Sprintf("car-%d", i+1), 1)})
		if r := a.do(call{method: "POST", path: "/vehicles/car-1/events", body: uploadJSON(t, uint64(i), testNow.Add(-time.Duration(i+1)*time.Hour))}); r.status != http.StatusCreated {
			t.Fatalf("upload: %d %s", r.status, r.raw)
		}
	}
	for _, tt := range []struct {
		path, items, limit string
		pages              string
	}{
		{"/vehicles", "vehicles", "7", "[7]"},
		{"/vehicles", "vehicles", "3", "[3 3 1]"},
		{"/vehicles/car-1/events", "events", "7", "[7]"},
		{"/vehicles/car-1/events", "events", "3", "[3 3 1]"},
		{"/vehicles/car-1/events", "events", "1", "[1 1 1 1 1 1 1]"},
	} {
		var sizes []int
		seen := map[string]bool{}
		for cur := ""; len(sizes) < 10; {
			q := map[string]string{"limit": tt.limit}
			if cur != "" {
				q["cursor"] = cur
			}
			r := ticking.do(call{method: "GET", path: tt.path, query: q})
			if r.status != http.StatusOK {
				t.Fatalf("%s limit %s page %d: %d %s", tt.path, tt.limit, len(sizes)+1, r.status, r.raw)
			}
			items := r.body[tt.items].([]any)
			sizes = append(sizes, len(items))
			for _, it := range items {
				id := fmt.Sprint(it.(map[string]any)["vid"], it.(map[string]any)["eid"])
				if seen[id] {
					t.Errorf("%s: %s listed twice", tt.path, id)
				}
				seen[id] = true
			}
			next, _ := r.body["nextCursor"].(string)
			if cur = next; cur == "" {
				break
			}
		}
		if fmt.Sprint(sizes) != tt.pages {
			t.Errorf("%s limit %s: pages of %v, want %s", tt.path, tt.limit, sizes, tt.pages)
		}
	}
}

// A function finds the operation of a request by the operation name API
// Gateway puts in its context (the imported spec's operationId), or, when
// there is none, by its method and resource; an operation of another
// function is a 404.
func TestRoutingByOperationNameOrPath(t *testing.T) {
	a := newAPI(t)
	a.do(call{method: "POST", path: "/vehicles", body: carJSON})
	h := a.handlers[functionOf("GET", "/vehicles/{vid}")]
	for _, tt := range []struct {
		name, method, resource string
		status                 int
	}{
		{"getVehicle", "GET", "/vehicles/{vid}", 200},
		{"", "GET", "/vehicles/{vid}", 200},
		{"getEvent", "GET", "/vehicles/{vid}", 404},
		{"", "DELETE", "/vehicles/{vid}", 405},
	} {
		ev := signedBy(testFleetCaller, events.APIGatewayProxyRequest{HTTPMethod: tt.method, Resource: tt.resource, Path: "/vehicles/car-1",
			PathParameters: map[string]string{"vid": "car-1"}, RequestContext: events.APIGatewayProxyRequestContext{OperationName: tt.name}})
		if resp, _ := h.Handle(context.Background(), ev); resp.StatusCode != tt.status {
			t.Errorf("operation %q, %s %s: %d %s, want %d", tt.name, tt.method, tt.resource, resp.StatusCode, resp.Body, tt.status)
		}
	}
}
