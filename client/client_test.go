package client

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/fleetapi/fleetapi/internal/bench/workload"
	"github.com/fleetapi/fleetapi/internal/local/dynalite"
	"github.com/fleetapi/fleetapi/internal/local/localapi"
	"github.com/fleetapi/fleetapi/internal/local/localauth"
)

var db *dynamodb.Client

func TestMain(m *testing.M) {
	os.Exit(dynalite.Main(m, func(c *dynamodb.Client) { db = c }))
}

// generated.go is what oapi-codegen makes of api/swagger.yaml today.
func TestGeneratedCodeIsFresh(t *testing.T) {
	dir := t.TempDir()
	cfg, err := os.ReadFile("oapi-codegen.yaml")
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "generated.go")
	if err := os.WriteFile(filepath.Join(dir, "c.yaml"), []byte(strings.Replace(string(cfg), "output: generated.go", "output: "+out, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "tool", "-modfile=../tools/go.mod", "oapi-codegen", "-config", filepath.Join(dir, "c.yaml"), "../api/swagger.yaml")
	if log, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("oapi-codegen: %v\n%s", err, log)
	}
	fresh, _ := os.ReadFile(out)
	committed, _ := os.ReadFile("generated.go")
	if string(fresh) != string(committed) {
		t.Error("client/generated.go is stale: run go generate ./client")
	}
}

var local = aws.Credentials{AccessKeyID: "AKIDTEST", SecretAccessKey: "test-secret"}

// The transport signs every attempt anew and retries 429, 503 and network
// errors, honouring Retry-After, with the same headers and body.
func TestTransportRetries(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	answers := []int{503, 429, 201}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, r.Header.Get("Idempotency-Key")+" "+string(body)+" "+strings.Fields(r.Header.Get("Authorization"))[0])
		code := answers[min(len(seen)-1, len(answers)-1)]
		if code != 201 {
			w.Header().Set("Retry-After", "2")
		}
		w.WriteHeader(code)
	}))
	defer srv.Close()
	var waits []time.Duration
	tr := &Transport{Credentials: credentials.StaticCredentialsProvider{Value: local}, Region: "eu-west-1",
		Sleep: func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }}
	req, _ := http.NewRequest("POST", srv.URL+"/vehicles/car-1/events", strings.NewReader(`{"samples":[]}`))
	req.Header.Set("Idempotency-Key", "k1")
	resp, err := tr.RoundTrip(req)
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("got %v, %v; want 201 on the third attempt", resp, err)
	}
	if len(seen) != 3 || seen[0] != seen[2] || seen[0] != `k1 {"samples":[]} AWS4-HMAC-SHA256` {
		t.Errorf("attempts %q, want three, signed, with the same key and body", seen)
	}
	if len(waits) != 2 || waits[0] != 2*time.Second {
		t.Errorf("waits %v, want Retry-After's 2s twice", waits)
	}
	// 400 is not retried; attempts stop at MaxAttempts.
	answers, seen, waits = []int{400}, nil, nil
	req, _ = http.NewRequest("GET", srv.URL+"/vehicles", nil)
	if resp, _ := tr.RoundTrip(req); resp.StatusCode != 400 || len(seen) != 1 {
		t.Errorf("400: %d after %d attempts, want 1", resp.StatusCode, len(seen))
	}
	answers, seen = []int{503}, nil
	tr.MaxAttempts = 3
	req, _ = http.NewRequest("GET", srv.URL+"/vehicles", nil)
	if resp, _ := tr.RoundTrip(req); resp.StatusCode != 503 || len(seen) != 3 {
		t.Errorf("503 for ever: %d after %d attempts, want 3", resp.StatusCode, len(seen))
	}
	// A network error is retried too.
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	tr.MaxAttempts, waits = 2, nil
	req, _ = http.NewRequest("GET", dead.URL+"/vehicles", nil)
	if _, err := tr.RoundTrip(req); err == nil || len(waits) != 1 {
		t.Errorf("network error: %v after %d waits, want an error after 1", err, len(waits))
	}
}

func TestRegionOf(t *testing.T) {
	for url, want := range map[string]string{
		"https://abcdef1234.execute-api.eu-west-1.amazonaws.com/prod": "eu-west-1",
		"http://127.0.0.1:3000": "",
	} {
		if got := RegionOf(url); got != want {
			t.Errorf("RegionOf(%s) = %q, want %q", url, got, want)
		}
	}
}

// The generated client drives every operation of the local API over HTTP,
// signed, each as its callers sign it: the fleet admin's and the fleet
// reader's keys, and vehicle car-1 with the credentials its certificate
// gets it (over mutual TLS with the local credentials endpoint, then STS).
func TestClientAgainstTheLocalAPI(t *testing.T) {
	local := newLocal(t)
	ctx := context.Background()
	check := newSpecCheckingTransport(t, local.URL)
	keys := func(k aws.Credentials) *ClientWithResponses {
		c, err := New(ctx, local.URL, Options{Credentials: credentials.StaticCredentialsProvider{Value: k}, Region: localauth.Region, HTTPClient: &http.Client{Transport: check}})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	admin, reader := keys(localauth.AdminKeys), keys(localauth.ReaderKeys)
	plate := "SE 317 RI"
	created, err := RegisterVehicle(ctx, admin, NewVehicle{Vid: "car-1", Make: "BMW", Model: "i3", Year: 2017, Plate: &plate}, "register-car-1")
	if err != nil || created.StatusCode() != 201 || created.JSON201.Version != 1 {
		t.Fatalf("create: %v %v", err, created.Status())
	}
	car := local.vehicleClient(t, "car-1", check)
	if again, _ := RegisterVehicle(ctx, admin, NewVehicle{Vid: "car-1", Make: "BMW", Model: "i3", Year: 2017, Plate: &plate}, "register-car-1"); again.StatusCode() != 200 || again.JSON200 == nil || again.JSON200.Version != 1 {
		t.Errorf("a retry of the create: %v, want 200 with the vehicle", again.Status())
	}
	if again, _ := admin.CreateVehicleWithResponse(ctx, nil, NewVehicle{Vid: "car-1", Make: "BMW", Model: "i3", Year: 2017}); again.JSON409 == nil {
		t.Errorf("duplicate create: %s, want 409 with the error", again.Status())
	}
	got, err := car.GetVehicleWithResponse(ctx, "car-1")
	if err != nil || got.JSON200 == nil || *got.JSON200.Plate != plate {
		t.Fatalf("get: %v %s", err, got.Status())
	}
	etag := `"1"`
	updated, err := admin.UpdateVehicleWithResponse(ctx, "car-1", &UpdateVehicleParams{IfMatch: &etag}, VehicleFields{Make: "BMW", Model: "i3s", Year: 2018})
	if err != nil || updated.JSON200 == nil || updated.JSON200.Version != 2 {
		t.Fatalf("update: %v %s", err, updated.Status())
	}
	if stale, _ := admin.UpdateVehicleWithResponse(ctx, "car-1", &UpdateVehicleParams{IfMatch: &etag}, VehicleFields{Make: "BMW", Model: "i3", Year: 2018}); stale.JSON412 == nil {
		t.Errorf("stale update: %s, want 412", stale.Status())
	}
	list, err := reader.ListVehiclesWithResponse(ctx, &ListVehiclesParams{})
	if err != nil || list.JSON200 == nil || len(list.JSON200.Vehicles) != 1 {
		t.Fatalf("list: %v %s", err, list.Status())
	}
	var samples []Sample
	for _, s := range workload.NewDrive(1, time.Now().Add(-time.Hour)).Upload(10).Samples {
		samples = append(samples, Sample{Timestamp: s.Timestamp, Signals: s.Signals})
	}
	up, err := UploadSamples(ctx, car, "car-1", samples, "upload-1")
	if err != nil || up.JSON201 == nil || up.JSON201.SampleCount != 10 {
		t.Fatalf("upload: %v %s", err, up.Status())
	}
	if retry, _ := UploadSamples(ctx, car, "car-1", samples, "upload-1"); retry.JSON200 == nil || retry.JSON200.Eid != up.JSON201.Eid {
		t.Errorf("retried upload: %s, want 200 with the same eid", retry.Status())
	}
	events, err := reader.ListEventsWithResponse(ctx, "car-1", &ListEventsParams{})
	if err != nil || events.JSON200 == nil || len(events.JSON200.Events) != 1 {
		t.Fatalf("list events: %v %s", err, events.Status())
	}
	ev, err := car.GetEventWithResponse(ctx, "car-1", up.JSON201.Eid)
	if err != nil || ev.JSON200 == nil || len(ev.JSON200.Samples) != 10 || ev.JSON200.Samples[0].Signals["Vehicle.Speed"] != samples[0].Signals["Vehicle.Speed"] {
		t.Fatalf("get event: %v %s", err, ev.Status())
	}
	// Bad input, refused by the gateway's validator or policies, or by the
	// functions' rules: a JSON error the client decodes, never a 5xx.
	type answer interface{ StatusCode() int }
	json := "application/json"
	future := Timestamp(time.Now().Add(time.Hour))
	past := Timestamp(time.Now().Add(-2 * time.Hour))
	for _, bad := range []struct {
		name string
		want int
		call func() (answer, error)
	}{
		{"vid too short", 400, func() (answer, error) {
			return admin.CreateVehicleWithResponse(ctx, nil, NewVehicle{Vid: "c", Make: "BMW", Model: "i3", Year: 2017})
		}},
		{"unknown member", 400, func() (answer, error) {
			return admin.CreateVehicleWithBodyWithResponse(ctx, nil, json, strings.NewReader(`{"vid":"car-2","make":"BMW","model":"i3","year":2017,"colour":"red"}`))
		}},
		{"member name in other case", 400, func() (answer, error) {
			return admin.CreateVehicleWithBodyWithResponse(ctx, nil, json, strings.NewReader(`{"vid":"car-2","Make":"BMW","model":"i3","year":2017}`))
		}},
		{"duplicate member", 400, func() (answer, error) {
			return admin.CreateVehicleWithBodyWithResponse(ctx, nil, json, strings.NewReader(`{"vid":"car-2","make":"BMW","make":"VW","model":"i3","year":2017}`))
		}},
		{"year after next", 400, func() (answer, error) {
			return admin.CreateVehicleWithResponse(ctx, nil, NewVehicle{Vid: "car-2", Make: "BMW", Model: "i3", Year: int32(time.Now().Year() + 2)})
		}},
		{"not JSON", 400, func() (answer, error) {
			return admin.CreateVehicleWithBodyWithResponse(ctx, nil, json, strings.NewReader(`{"vid":`))
		}},
		{"If-Match not an ETag", 400, func() (answer, error) {
			return admin.UpdateVehicleWithResponse(ctx, "car-1", &UpdateVehicleParams{IfMatch: new("2")}, VehicleFields{Make: "BMW", Model: "i3", Year: 2018})
		}},
		{"unknown vehicle", 404, func() (answer, error) { return reader.GetVehicleWithResponse(ctx, "car-404") }},
		{"upload for another vehicle", 403, func() (answer, error) { return UploadSamples(ctx, car, "car-404", samples, "") }},
		{"upload by the fleet", 403, func() (answer, error) { return UploadSamples(ctx, admin, "car-1", samples, "") }},
		{"a vehicle renames itself", 403, func() (answer, error) {
			return car.UpdateVehicleWithResponse(ctx, "car-1", &UpdateVehicleParams{}, VehicleFields{Make: "BMW", Model: "i3", Year: 2018})
		}},
		{"a vehicle reads its history", 403, func() (answer, error) { return car.ListEventsWithResponse(ctx, "car-1", &ListEventsParams{}) }},
		{"the reader registers", 403, func() (answer, error) {
			return reader.CreateVehicleWithResponse(ctx, nil, NewVehicle{Vid: "car-3", Make: "BMW", Model: "i3", Year: 2017})
		}},
		{"upload without samples", 400, func() (answer, error) { return UploadSamples(ctx, car, "car-1", nil, "") }},
		{"sample from the future", 400, func() (answer, error) {
			return UploadSamples(ctx, car, "car-1", []Sample{{Timestamp: time.Time(future), Signals: samples[0].Signals}}, "")
		}},
		{"from after to", 400, func() (answer, error) {
			return reader.ListEventsWithResponse(ctx, "car-1", &ListEventsParams{From: &future, To: &past})
		}},
		{"forged cursor", 400, func() (answer, error) {
			return reader.ListEventsWithResponse(ctx, "car-1", &ListEventsParams{Cursor: new(Cursor("eyJ2IjoiY2FyLTEifQ"))})
		}},
		{"malformed eid", 400, func() (answer, error) { return car.GetEventWithResponse(ctx, "car-1", "123") }},
		{"unknown event", 404, func() (answer, error) {
			return car.GetEventWithResponse(ctx, "car-1", "1795691178000-06f7b0bafe34c7e1")
		}},
	} {
		r, err := bad.call()
		if err != nil || r.StatusCode() != bad.want {
			t.Errorf("%s: %v, want %d", bad.name, statusOf(r, err), bad.want)
		}
	}
	// Unsigned: the gateway's 403.
	unsigned, _ := NewClientWithResponses(local.URL, WithHTTPClient(&http.Client{Transport: check}))
	if r, _ := unsigned.GetVehicleWithResponse(ctx, "car-1"); r.JSON403 == nil {
		t.Errorf("unsigned: %s, want 403", r.Status())
	}
	// Every operation answered with success, each answer checked against the spec.
	for _, op := range []string{"createVehicle 201", "getVehicle 200", "updateVehicle 200", "listVehicles 200", "createEvent 201", "createEvent 200", "listEvents 200", "getEvent 200"} {
		if !check.seen[op] {
			t.Errorf("no %s answer was checked against the spec (checked: %v)", op, check.seen)
		}
	}
}

// testLocal is the local API with its credentials endpoint, for the client.
type testLocal struct {
	*localapi.TestServer
	caFile string
}

func newLocal(t *testing.T) *testLocal {
	t.Helper()
	srv := localapi.NewTestServerOn(t, db, localapi.Config{EventRetention: 30 * 24 * time.Hour})
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, srv.CAPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return &testLocal{TestServer: srv, caFile: ca}
}

// vehicleOptions are vehicle vid's, with cert its certificate.
func (l *testLocal) vehicleOptions(vid string, cert tls.Certificate) VehicleOptions {
	return VehicleOptions{Endpoint: l.CredentialsURL, CAFile: l.caFile, RoleAlias: localauth.RoleAlias, ThingName: vid, Certificate: &cert,
		VehicleRoleArn: localauth.VehicleRole, Region: localauth.Region, STSEndpoint: l.STSURL}
}

// vehicleClient registers a certificate for vid and returns a client that
// signs with the credentials it gets.
func (l *testLocal) vehicleClient(t *testing.T, vid string, transport http.RoundTripper) *ClientWithResponses {
	t.Helper()
	cert, _ := l.Provision(t, vid)
	creds, err := NewVehicleCredentials(l.vehicleOptions(vid, cert))
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(context.Background(), l.URL, Options{Credentials: creds, Region: localauth.Region, HTTPClient: &http.Client{Transport: transport}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func statusOf(r interface{ StatusCode() int }, err error) string {
	if err != nil {
		return err.Error()
	}
	return fmt.Sprint(r.StatusCode())
}
