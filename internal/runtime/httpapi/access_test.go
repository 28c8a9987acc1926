package httpapi

import (
	"context"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/fleetapi/fleetapi/internal/local/dynalite"
	"github.com/fleetapi/fleetapi/internal/runtime/dynamostore"
	"github.com/fleetapi/fleetapi/internal/shared/schema"
)

// recordingDB passes DynamoDB calls through and records each as
// "action on table role".
type recordingDB struct {
	dynamostore.API
	roles map[string]string // table name → role
	calls map[string]bool
}

func (r *recordingDB) record(action string, table *string) {
	r.calls["dynamodb:"+action+" on "+r.roles[*table]] = true
}

func (r *recordingDB) GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	r.record("GetItem", in.TableName)
	return r.API.GetItem(ctx, in, opts...)
}

func (r *recordingDB) PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	r.record("PutItem", in.TableName)
	return r.API.PutItem(ctx, in, opts...)
}

func (r *recordingDB) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	r.record("UpdateItem", in.TableName)
	return r.API.UpdateItem(ctx, in, opts...)
}

func (r *recordingDB) Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	r.record("Query", in.TableName)
	return r.API.Query(ctx, in, opts...)
}

func (r *recordingDB) Scan(ctx context.Context, in *dynamodb.ScanInput, opts ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	r.record("Scan", in.TableName)
	return r.API.Scan(ctx, in, opts...)
}

// TestDeclaredAccessIsWhatTheCodeDoes holds the spec's declared DynamoDB
// access (api.ExtDynamoDB), from which each function's IAM policy is made, to the DynamoDB
// calls each operation's code really makes against dynalite, on every path
// of it (a stale update reads the vehicle, a retried upload the event):
// every call is declared (or the function would be denied it), and every
// declared action is made (or the policy grants more than needed).
func TestDeclaredAccessIsWhatTheCodeDoes(t *testing.T) {
	tables := dynalite.NewTables(t, db)
	rec := &recordingDB{API: db, roles: map[string]string{tables.Vehicles: schema.Vehicles.Role, tables.Events: schema.VehicleEvents.Role, tables.State: schema.VehicleState.Role}}
	store, err := dynamostore.New(rec, dynamostore.Tables{Vehicles: tables.Vehicles, Events: tables.Events, State: tables.State}, testKey)
	if err != nil {
		t.Fatal(err)
	}
	a := newAPIWith(t, store)
	rec.calls = map[string]bool{}
	a.do(call{method: "POST", path: "/vehicles", body: carJSON})
	a.do(call{method: "POST", path: "/vehicles", body: strings.Replace(carJSON, "car-1", "car-4", 1)})
	body := uploadJSON(t, 1, testNow.Add(-time.Hour))
	eid := a.do(call{method: "POST", path: "/vehicles/car-1/events", body: body}).body["eid"].(string)

	// Each operation's request (requestOf), and the paths of its code
	// that call more.
	retried := call{method: "POST", path: "/vehicles", body: strings.Replace(carJSON, "car-1", "car-3", 1), headers: map[string]string{"Idempotency-Key": "k-3"}}
	more := map[string][]call{
		"createVehicle": {retried, retried}, // the second reads what the first stored
		"updateVehicle": {{method: "PUT", path: "/vehicles/car-1", body: `{"make":"BMW","model":"i3","year":2017}`, headers: map[string]string{"If-Match": `"99"`}}},
		// A retry, and the first upload of a vehicle the function has not
		// seen, which reads its item (a vehicle seen once is not read again).
		"createEvent": {{method: "POST", path: "/vehicles/car-1/events", body: body}, {method: "POST", path: "/vehicles/car-4/events", body: body}},
	}
	for _, op := range spec.Operations {
		vid := "car-1"
		if op.ID == "createVehicle" {
			vid = "car-2"
		}
		calls := append([]call{requestOf(t, op.ID, vid, eid)}, more[op.ID]...)
		rec.calls = map[string]bool{}
		for _, c := range calls {
			if r := a.do(c); r.status >= 500 || r.status == http.StatusBadRequest {
				t.Fatalf("%s: %s %s: %d %s", op.ID, c.method, c.path, r.status, r.raw)
			}
		}
		var declared []string
		for role, actions := range op.Access {
			for _, action := range actions {
				declared = append(declared, action+" on "+role)
			}
		}
		slices.Sort(declared)
		made := slices.Sorted(maps.Keys(rec.calls))
		if !slices.Equal(made, declared) {
			t.Errorf("%s: the code calls\n  %s\nthe spec declares\n  %s", op.ID, strings.Join(made, "\n  "), strings.Join(declared, "\n  "))
		}
	}
}
