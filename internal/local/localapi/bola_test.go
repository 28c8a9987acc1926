package localapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/fleetapi/fleetapi/api"
	"github.com/fleetapi/fleetapi/internal/bench/workload"
	"github.com/fleetapi/fleetapi/internal/local/localauth"
	"github.com/fleetapi/fleetapi/internal/shared/metrics"
	"github.com/fleetapi/fleetapi/internal/testutil/logbuf"
	"github.com/fleetapi/fleetapi/internal/testutil/specresponse"
)

// requestOf is a valid request of an operation on vehicle vid: method,
// path and body.
func requestOf(op api.Operation, vid, eid string, now time.Time) (string, string, string) {
	path := strings.NewReplacer("{vid}", vid, "{eid}", eid).Replace(op.Path)
	body := ""
	switch op.ID {
	case "createVehicle":
		body = `{"vid":"` + vid + `-new","make":"VW","model":"ID.3","year":2021}`
	case "updateVehicle":
		body = `{"make":"VW","model":"ID.4","year":2022}`
	case "createEvent":
		b, _ := json.Marshal(workload.NewDrive(uint64(len(vid)), now.Add(-30*time.Minute)).Upload(10))
		body = string(b)
	}
	return op.Method, path, body
}

// TestVehiclesActOnlyOnTheirOwnData runs OWASP API1 (broken object level
// authorization) against the local API over real HTTP: vehicle car-A,
// signed with the credentials its own certificate got it (mutual TLS with
// the local credentials provider, then STS into the vehicle role), calls
// every operation on car-A and on car-B, beside a fleet reader and admin;
// then every trick on the vid we know of. Allowed are exactly the spec's
// caller classes, a vehicle on its own vid only; every refusal is a 403
// with the JSON error, and nothing of car-B changes.
func TestVehiclesActOnlyOnTheirOwnData(t *testing.T) {
	c := newClient(t)
	spec, err := api.Load()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	eids := map[string]string{}
	for i, vid := range []string{"car-A", "car-B"} {
		if a := c.do("POST", "/vehicles", `{"vid":"`+vid+`","make":"BMW","model":"i3","year":2017}`, true, nil); a.status != 201 {
			t.Fatalf("register %s: %d %v", vid, a.status, a.body)
		}
		up, _ := json.Marshal(workload.NewDrive(uint64(10+i), now.Add(-2*time.Hour)).Upload(10))
		a := c.as(c.vehicle(vid)).do("POST", "/vehicles/"+vid+"/events", string(up), true, nil)
		if a.status != 201 {
			t.Fatalf("upload of %s: %d %v", vid, a.status, a.body)
		}
		eids[vid] = a.body["eid"].(string)
	}
	carA := c.as(c.vehicle("car-A"))
	callers := []struct {
		class string
		c     *client
	}{{"vehicle", carA}, {"fleet-read", c.as(localauth.ReaderKeys)}, {"fleet-admin", c.as(localauth.AdminKeys)}}
	var matrix []string
	for _, op := range spec.Operations {
		row := fmt.Sprintf("%-13s", op.ID)
		for _, caller := range callers {
			for _, target := range []string{"car-A", "car-B"} {
				method, path, body := requestOf(op, target, eids[target], now)
				a := caller.c.do(method, path, body, true, nil)
				allowed := slices.Contains(op.Callers, caller.class) && (caller.class != "vehicle" || target == "car-A")
				switch {
				case allowed && a.status >= 300:
					t.Errorf("%s %s %s: %d %v, want it served", caller.class, method, path, a.status, a.body)
				case !allowed:
					wantCode(t, a, 403, "Forbidden")
				}
				row += fmt.Sprintf(" %s/%s:%d", caller.class, target[len(target)-1:], a.status)
			}
		}
		matrix = append(matrix, row)
	}
	t.Logf("answers over HTTP (vehicle car-A, fleet reader, fleet admin; on car-A and on car-B):\n%s", strings.Join(matrix, "\n"))

	// Tricks on the vid, by car-A: every one refused, with a JSON error.
	up, _ := json.Marshal(workload.NewDrive(3, now.Add(-20*time.Minute)).Upload(10))
	var tricks []string
	for _, tt := range []struct {
		name, method, path, body string
		want                     int
	}{
		{"an encoded slash", "POST", "/vehicles/car-A%2F..%2Fcar-B/events", string(up), 403},
		{"dot segments", "POST", "/vehicles/car-A/../car-B/events", string(up), 403},
		{"a vid differing only in case", "POST", "/vehicles/CAR-A/events", string(up), 403},
		{"a longer vid", "POST", "/vehicles/car-A2/events", string(up), 403},
		{"a trailing segment", "POST", "/vehicles/car-B/events/x", string(up), 403},
		{"a trailing slash", "POST", "/vehicles/car-B/events/", string(up), 403},
		{"an encoded vid", "GET", "/vehicles/car%2DB", "", 403},
		{"a vid in the query string", "POST", "/vehicles/car-A/events?vid=car-B", string(up), 400},
		{"a vid in the body", "POST", "/vehicles/car-A/events", `{"vid":"car-B",` + string(up)[1:], 400},
		{"another vehicle's event by its eid", "GET", "/vehicles/car-B/events/" + eids["car-B"], "", 403},
		{"its own path, another's eid", "GET", "/vehicles/car-A/events/" + eids["car-B"], "", 404},
	} {
		a := carA.do(tt.method, tt.path, tt.body, true, nil)
		if a.status != tt.want {
			t.Errorf("%s (%s %s): %d %v, want %d", tt.name, tt.method, tt.path, a.status, a.body, tt.want)
		}
		msg, _ := a.body["error"].(map[string]any)
		tricks = append(tricks, fmt.Sprintf("%s: %s %s → %d %v", tt.name, tt.method, tt.path, a.status, msg["message"]))
	}
	t.Logf("tricks by car-A:\n%s", strings.Join(tricks, "\n"))

	// Nothing of car-B changed: its one upload, its first version.
	reader := c.as(localauth.ReaderKeys)
	if a := reader.do("GET", "/vehicles/car-B/events", "", true, nil); len(a.body["events"].([]any)) != 1 {
		t.Errorf("car-B has %d events, want its own 1", len(a.body["events"].([]any)))
	}
	if a := reader.do("GET", "/vehicles/car-B", "", true, nil); a.body["version"] != 2.0 {
		t.Errorf("car-B at version %v, want 2 (the fleet admin's one update)", a.body["version"])
	}
	for _, vid := range []string{"CAR-A", "car-A2"} {
		if a := reader.do("GET", "/vehicles/"+vid+"/events", "", true, nil); len(a.body["events"].([]any)) != 0 {
			t.Errorf("%s has events", vid)
		}
	}
}

// TestVehicleIdentityIsItsCertificatesOnly: the ways to a vehicle's
// identity other than its own certificate, named, are refused, and a
// thing without a registered vehicle is refused by the function, counted
// in AccessRefused.
func TestVehicleIdentityIsItsCertificatesOnly(t *testing.T) {
	c := newClient(t)
	certA, _ := c.local.Provision(t, "car-A")
	certB, idB := c.local.Provision(t, "car-B")
	// "The ThingName that you provide in x-amzn-iot-thingname must match
	// the name of the AWS IoT Thing resource assigned to a cert."
	if _, status := tryCredentials(t, c.local, certA, "car-B"); status != 403 {
		t.Errorf("car-A's certificate naming car-B: %d, want 403", status)
	}
	if err := c.local.Registry.Revoke(idB); err != nil {
		t.Fatal(err)
	}
	if _, status := tryCredentials(t, c.local, certB, "car-B"); status != 403 {
		t.Errorf("a revoked certificate: %d, want 403", status)
	}
	certCreds := credentialsFor(t, c.local, certA, "car-A")
	unnamed := credentialsFor(t, c.local, certA, "")
	for _, tt := range []struct {
		name         string
		creds        aws.Credentials
		session, tag string
	}{
		{"as another vehicle", certCreds, "car-B", "car-B"},
		{"its own name, another's tag", certCreds, "car-A", "car-B"},
		{"another's name, its own tag", certCreds, "car-B", "car-A"},
		{"no tag", certCreds, "car-A", ""},
		{"no thing named to the credentials provider", unnamed, "car-A", "car-A"},
		{"the fleet admin's keys", localauth.AdminKeys, "car-A", "car-A"},
	} {
		if _, err := tryAssume(c.local, tt.creds, tt.session, tt.tag); err == nil || !strings.Contains(err.Error(), "AccessDenied") {
			t.Errorf("%s: %v, want AccessDenied", tt.name, err)
		}
	}
	// A thing whose vehicle is not registered: its identity is valid, the
	// function refuses it (and counts it), and writes nothing.
	ghost := c.as(assumeVehicleRole(t, c.local, certCreds, "car-A", "car-A"))
	up, _ := json.Marshal(workload.NewDrive(1, time.Now().Add(-time.Hour)).Upload(10))
	a := ghost.do("POST", "/vehicles/car-A/events", string(up), true, nil)
	wantCode(t, a, http.StatusForbidden, "Forbidden")
	if msg := a.body["error"].(map[string]any)["message"]; msg != "vehicle car-A is not registered" {
		t.Errorf("message %v", msg)
	}
	if !strings.Contains(c.logs.String(), `"`+metrics.AccessRefused+`":1`) {
		t.Error("the refusal is not counted in the function's log line")
	}
}

// With AllowUnsigned (make local -no-auth, for curl) an unsigned request
// is the local developer's: both fleet classes, and still no vehicle.
func TestUnsignedIsTheDeveloper(t *testing.T) {
	local := NewTestServerOn(t, db, Config{EventRetention: 24 * time.Hour, AllowUnsigned: true})
	spec, _ := specresponse.New(local.URL)
	c := &client{t: t, base: local.URL, spec: spec, logs: &logbuf.Buffer{}, local: local}
	if a := c.do("POST", "/vehicles", `{"vid":"car-1","make":"VW","model":"ID.3","year":2021}`, false, nil); a.status != 201 {
		t.Errorf("register: %d %v", a.status, a.body)
	}
	if a := c.do("GET", "/vehicles/car-1/events", "", false, nil); a.status != 200 {
		t.Errorf("read events: %d %v", a.status, a.body)
	}
	up, _ := json.Marshal(workload.NewDrive(1, time.Now().Add(-time.Hour)).Upload(10))
	wantCode(t, c.do("POST", "/vehicles/car-1/events", string(up), false, nil), 403, "Forbidden")
	// A signed request is still its signer's.
	wantCode(t, c.as(localauth.ReaderKeys).do("POST", "/vehicles", `{"vid":"car-2","make":"VW","model":"ID.3","year":2021}`, true, nil), 403, "Forbidden")
}

// A session's credentials are nothing without their own token.
func TestSessionCredentialsNeedTheirToken(t *testing.T) {
	c := newClient(t)
	c.do("POST", "/vehicles", `{"vid":"car-1","make":"VW","model":"ID.3","year":2021}`, true, nil)
	creds := c.vehicle("car-1")
	if a := c.as(creds).do("GET", "/vehicles/car-1", "", true, nil); a.status != 200 {
		t.Fatalf("with its token: %d %v", a.status, a.body)
	}
	noToken := creds
	noToken.SessionToken = ""
	wantCode(t, c.as(noToken).do("GET", "/vehicles/car-1", "", true, nil), 403, "Forbidden")
	otherToken := creds
	otherToken.SessionToken = "forged"
	wantCode(t, c.as(otherToken).do("GET", "/vehicles/car-1", "", true, nil), 403, "Forbidden")
}
