package httpapi

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/fleetapi/fleetapi/internal/runtime/dynamostore"
	"github.com/fleetapi/fleetapi/internal/shared/contract"
)

// throttledDB answers every call as DynamoDB does when a table is throttled.
type throttledDB struct{ dynamostore.API }

var errThrottled = &types.ProvisionedThroughputExceededException{Message: new(string)}

func (throttledDB) GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	return nil, errThrottled
}

func (throttledDB) Scan(context.Context, *dynamodb.ScanInput, ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	return nil, errThrottled
}

func TestThrottlingIs503WithRetryAfter(t *testing.T) {
	store, err := dynamostore.New(throttledDB{}, dynamostore.Tables{Vehicles: "v", Events: "e", State: "s"}, testKey)
	if err != nil {
		t.Fatal(err)
	}
	a := newAPIWith(t, store)
	for _, c := range []call{
		{method: "GET", path: "/vehicles/car-1"},
		{method: "GET", path: "/vehicles"},
		{method: "POST", path: "/vehicles/car-1/events", body: uploadJSON(t, 1, testNow.Add(-time.Hour))},
	} {
		r := a.do(c)
		wantError(t, r, 503, "ServiceUnavailable", "retry")
		if r.headers["Retry-After"] == "" {
			t.Errorf("%s %s: no Retry-After", c.method, c.path)
		}
	}
	if !errors.As(error(errThrottled), new(*types.ProvisionedThroughputExceededException)) {
		t.Fatal("fixture is not a throttling error")
	}
}

// fuzzBody sends arbitrary bodies to an operation: the answer is always a
// JSON response below 500.
func fuzzBody(f *testing.F, method, resource string, seeds ...string) {
	for _, s := range seeds {
		f.Add(s)
	}
	a := newAPI(f)
	a.do(call{method: "POST", path: "/vehicles", body: carJSON})
	fn := functionOf(method, resource)
	// Uploads as the vehicle itself, as they come; the rest as the fleet.
	caller := testFleetCaller
	if slices.Contains(spec.CallersOf(operationOf(method, resource)), contract.CallerVehicle) {
		caller = vehicleCaller("car-1")
	}
	f.Fuzz(func(t *testing.T, body string) {
		ev := signedBy(caller, events.APIGatewayProxyRequest{
			HTTPMethod: method, Resource: resource, Body: body,
			PathParameters: map[string]string{"vid": "car-1"},
			Headers:        map[string]string{"Content-Type": "application/json"},
		})
		resp, err := a.handlers[fn].Handle(context.Background(), ev)
		if err != nil || resp.StatusCode >= 500 || resp.StatusCode < 200 {
			t.Fatalf("body %q: status %d, err %v, response %s", body, resp.StatusCode, err, resp.Body)
		}
	})
}

func FuzzCreateVehicle(f *testing.F) {
	fuzzBody(f, "POST", "/vehicles", carJSON, `{"vid":"x"}`, `[]`, `{"year":1e400}`, `{"metadata":{"a":null}}`)
}

func FuzzCreateEvent(f *testing.F) {
	fuzzBody(f, "POST", "/vehicles/{vid}/events",
		uploadJSON(f, 1, testNow.Add(-time.Hour)),
		`{"samples":[{"timestamp":"2026-11-26T07:00:00Z","signals":{"Vehicle.Speed":1e308}}]}`,
		`{"samples":[{"timestamp":"0001-01-01T00:00:00Z","signals":{}}]}`,
		`{"samples":null}`)
}

func FuzzUpdateVehicle(f *testing.F) {
	fuzzBody(f, "PUT", "/vehicles/{vid}", `{"make":"BMW","model":"i3","year":2017}`, `{"plate":""}`)
}
