package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/fleetapi/fleetapi/internal/local/dynalite"
	"github.com/fleetapi/fleetapi/internal/runtime/authz"
	"github.com/fleetapi/fleetapi/internal/runtime/dynamostore"
	"github.com/fleetapi/fleetapi/internal/shared/contract"
	"github.com/fleetapi/fleetapi/internal/shared/metrics"
)

// The identities the tests call as: a role granted every operation (the
// default), and sessions of the vehicle role, one per vehicle.
const (
	testVehicleRole = "arn:aws:iam::111122223333:role/fleetapi-test-vehicles"
	testFleetRole   = "arn:aws:iam::111122223333:role/fleetapi-test-fleet"
	testFleetCaller = "arn:aws:sts::111122223333:assumed-role/fleetapi-test-fleet/test"
)

// vehicleCaller is the ARN API Gateway gives a call signed in vehicle
// vid's session of the vehicle role.
func vehicleCaller(vid string) string {
	return "arn:aws:sts::111122223333:assumed-role/fleetapi-test-vehicles/" + vid
}

// testCallers grants the test role every operation.
var testCallers = func() *authz.Policy {
	p, err := authz.New(testVehicleRole, map[string][]string{testFleetRole: spec.IDs()})
	if err != nil {
		panic(err)
	}
	return p
}()

// signedBy returns ev as API Gateway passes it for a call signed by the
// caller of ARN arn.
func signedBy(arn string, ev events.APIGatewayProxyRequest) events.APIGatewayProxyRequest {
	ev.RequestContext.Identity.UserArn = arn
	return ev
}

// countingDB counts the DynamoDB calls a request makes.
type countingDB struct {
	dynamostore.API
	calls atomic.Int64
}

func (c *countingDB) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	c.calls.Add(1)
	return c.API.GetItem(ctx, in, o...)
}

func (c *countingDB) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	c.calls.Add(1)
	return c.API.PutItem(ctx, in, o...)
}

func (c *countingDB) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	c.calls.Add(1)
	return c.API.UpdateItem(ctx, in, o...)
}

func (c *countingDB) Query(ctx context.Context, in *dynamodb.QueryInput, o ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	c.calls.Add(1)
	return c.API.Query(ctx, in, o...)
}

func (c *countingDB) Scan(ctx context.Context, in *dynamodb.ScanInput, o ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	c.calls.Add(1)
	return c.API.Scan(ctx, in, o...)
}

// requestOf is a valid request of every operation, on vehicle vid.
func requestOf(t *testing.T, op, vid, eid string) call {
	t.Helper()
	switch op {
	case "listVehicles":
		return call{method: "GET", path: "/vehicles"}
	case "createVehicle":
		return call{method: "POST", path: "/vehicles", body: `{"vid":"` + vid + `","make":"VW","model":"ID.3","year":2021}`}
	case "getVehicle":
		return call{method: "GET", path: "/vehicles/" + vid}
	case "updateVehicle":
		return call{method: "PUT", path: "/vehicles/" + vid, body: `{"make":"VW","model":"ID.4","year":2022}`}
	case "listEvents":
		return call{method: "GET", path: "/vehicles/" + vid + "/events"}
	case "createEvent":
		return call{method: "POST", path: "/vehicles/" + vid + "/events", body: uploadJSON(t, 7, testNow.Add(-time.Hour))}
	case "getEvent":
		return call{method: "GET", path: "/vehicles/" + vid + "/events/" + eid}
	case "getVehicleState":
		return call{method: "GET", path: "/vehicles/" + vid + "/state"}
	case "listFleetState":
		return call{method: "GET", path: "/fleet/state", query: map[string]string{"silentFor": "PT10M", "bbox": "11,48,12,49"}}
	}
	t.Fatalf("no request of operation %s", op)
	return call{}
}

// TestCallersAreChecked: every operation of the spec, called by vehicle A
// on A and on B, by a fleet reader, a fleet admin and callers the function
// does not know. Allowed are exactly the spec's caller classes (a vehicle
// on its own vid only, the others as granted); every refusal is a 403
// with the JSON error, made before any DynamoDB call, and counted in the
// AccessRefused metric.
func TestCallersAreChecked(t *testing.T) {
	tables := dynalite.NewTables(t, db)
	counting := &countingDB{API: db}
	store, err := dynamostore.New(counting, dynamostore.Tables{Vehicles: tables.Vehicles, Events: tables.Events, State: tables.State}, testKey)
	if err != nil {
		t.Fatal(err)
	}
	const (
		readerRole = "arn:aws:iam::111122223333:role/analytics"
		adminRole  = "arn:aws:iam::111122223333:role/provisioning"
		reader     = "arn:aws:sts::111122223333:assumed-role/analytics/job-1"
		admin      = "arn:aws:sts::111122223333:assumed-role/provisioning/run-9"
	)
	// The grants the construct makes of each fleet class: the operations
	// the spec gives the class.
	granted := map[string][]string{}
	for _, op := range spec.Operations {
		for class, arn := range map[string]string{contract.CallerFleetRead: readerRole, contract.CallerFleetAdmin: adminRole} {
			if slices.Contains(op.Callers, class) {
				granted[arn] = append(granted[arn], op.ID)
			}
		}
	}
	callers, err := authz.New(testVehicleRole, granted)
	if err != nil {
		t.Fatal(err)
	}
	a := newAPIFor(t, callers, store)
	// Vehicles A and B, each with an upload.
	eids := map[string]string{}
	for _, vid := range []string{"car-A", "car-B"} {
		if r := a.do(call{method: "POST", path: "/vehicles", caller: admin, body: `{"vid":"` + vid + `","make":"VW","model":"ID.3","year":2021}`}); r.status != 201 {
			t.Fatalf("register %s: %d %s", vid, r.status, r.raw)
		}
		r := a.do(call{method: "POST", path: "/vehicles/" + vid + "/events", caller: vehicleCaller(vid), body: uploadJSON(t, 1, testNow.Add(-2*time.Hour))})
		if r.status != 201 {
			t.Fatalf("upload of %s: %d %s", vid, r.status, r.raw)
		}
		eids[vid] = r.body["eid"].(string)
	}
	type who struct{ name, arn, class string }
	for _, c := range []who{
		{"vehicle A", vehicleCaller("car-A"), contract.CallerVehicle},
		{"fleet reader", reader, contract.CallerFleetRead},
		{"fleet admin", admin, contract.CallerFleetAdmin},
		{"another role", "arn:aws:sts::111122223333:assumed-role/other/x", ""},
		{"unsigned", "", ""},
		{"a malformed identity", "car-A", ""},
	} {
		for _, op := range spec.Operations {
			for _, target := range []string{"car-A", "car-B"} {
				name := fmt.Sprintf("%s/%s/%s", c.name, op.ID, target)
				t.Run(name, func(t *testing.T) {
					req := requestOf(t, op.ID, target, eids[target])
					if op.ID == "createVehicle" {
						req = requestOf(t, op.ID, target+"-"+strings.ReplaceAll(c.name, " ", "-"), "")
					}
					req.caller = c.arn
					mayCall := slices.Contains(op.Callers, c.class)
					if c.class == contract.CallerVehicle {
						// A vehicle acts on its own vid only, and
						// createVehicle names none.
						mayCall = mayCall && target == "car-A"
					}
					a.logs.Reset()
					before := counting.calls.Load()
					r := a.do(req)
					if mayCall {
						if r.status >= 300 {
							t.Fatalf("got %d %s, want it served", r.status, r.raw)
						}
						return
					}
					wantError(t, r, http.StatusForbidden, "Forbidden", "")
					if n := counting.calls.Load() - before; n != 0 {
						t.Errorf("a refused request made %d DynamoDB calls, want 0", n)
					}
					if !strings.Contains(a.logs.String(), `"`+metrics.AccessRefused+`":1`) {
						t.Errorf("no %s metric in the log:\n%s", metrics.AccessRefused, a.logs.String())
					}
				})
			}
		}
	}
	// The refusals stored nothing: B has its one upload, and was updated
	// once, by the fleet admin.
	if r := a.do(call{method: "GET", path: "/vehicles/car-B/events", caller: reader}); len(r.body["events"].([]any)) != 1 {
		t.Errorf("car-B has %d events, want its 1", len(r.body["events"].([]any)))
	}
	if r := a.do(call{method: "GET", path: "/vehicles/car-B", caller: reader}); r.body["version"] != 2.0 {
		t.Errorf("car-B at version %v, want 2: updated by the admin alone", r.body["version"])
	}
}

// A vehicle whose identity names no registered vehicle is refused, 403,
// and its upload stored nothing.
func TestUnregisteredVehicleIsRefused(t *testing.T) {
	a := newAPI(t)
	for _, c := range []call{
		{method: "POST", path: "/vehicles/car-9/events", body: uploadJSON(t, 1, testNow.Add(-time.Hour))},
		{method: "GET", path: "/vehicles/car-9"},
	} {
		c.caller = vehicleCaller("car-9")
		a.logs.Reset()
		wantError(t, a.do(c), http.StatusForbidden, "Forbidden", "vehicle car-9 is not registered")
		if !strings.Contains(a.logs.String(), `"`+metrics.AccessRefused+`":1`) {
			t.Errorf("%s %s: no %s metric", c.method, c.path, metrics.AccessRefused)
		}
	}
	// A fleet reader is told the truth: there is no such vehicle.
	wantError(t, a.do(call{method: "GET", path: "/vehicles/car-9"}), http.StatusNotFound, "NotFound", "not found")
	if r := a.do(call{method: "GET", path: "/vehicles/car-9/events"}); len(r.body["events"].([]any)) != 0 {
		t.Errorf("the refused upload was stored: %s", r.raw)
	}
}

// An upload can never name another vehicle: the body has no vid, and no
// operation takes a query parameter it does not declare.
func TestUploadNamesNoOtherVehicle(t *testing.T) {
	a := newAPI(t)
	a.do(call{method: "POST", path: "/vehicles", body: carJSON})
	me := vehicleCaller("car-1")
	up := uploadJSON(t, 1, testNow.Add(-time.Hour))
	wantError(t, a.do(call{method: "POST", path: "/vehicles/car-1/events", caller: me, body: `{"vid":"car-2",` + up[1:]}), 400, "BadRequest", "vid")
	wantError(t, a.do(call{method: "POST", path: "/vehicles/car-1/events", caller: me, body: up, query: map[string]string{"vid": "car-2"}}), 400, "BadRequest", "vid: is not a query parameter of this operation, which takes none")
	wantError(t, a.do(call{method: "GET", path: "/vehicles/car-1", caller: me, query: map[string]string{"vid": "car-2"}}), 400, "BadRequest", "is not a query parameter")
	if r := a.do(call{method: "GET", path: "/vehicles/car-1/events"}); len(r.body["events"].([]any)) != 0 {
		t.Errorf("a refused upload was stored: %s", r.raw)
	}
}
