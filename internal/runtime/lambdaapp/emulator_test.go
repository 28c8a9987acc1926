package lambdaapp

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/fleetapi/fleetapi/api"
	"github.com/fleetapi/fleetapi/internal/bench/coldstart"
	"github.com/fleetapi/fleetapi/internal/construct/gobuild"
	"github.com/fleetapi/fleetapi/internal/runtime/dynamostore"
	"github.com/fleetapi/fleetapi/internal/shared/contract"
	"github.com/fleetapi/fleetapi/internal/testutil/faultnet"
)

// Under the Lambda runtime interface emulator (pinned in tools/go.mod),
// the function's one binary, built as for Lambda but for this machine,
// is invoked with DynamoDB behind a socket that accepts and never answers:
// a network partition. Lambda gives the invocation its deadline
// (Lambda-Runtime-Deadline-Ms, which aws-lambda-go turns into the
// context's deadline); the function must answer 503 with Retry-After
// before it, not hang until Lambda kills it at its timeout.
func TestHungDynamoDBUnderTheRuntimeEmulator(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two binaries")
	}
	bootstrap, rie := emulatorBinaries(t)

	spec, err := api.Load()
	if err != nil {
		t.Fatal(err)
	}
	routes := spec.RoutesOf("ingest")
	// The stages' timeout: the store gives up long before it.
	const timeoutSecs = 10
	runner := &coldstart.Runner{Emulator: rie, Timeout: timeoutSecs}
	fn := coldstart.Target{Name: "ingest", Bootstrap: bootstrap, Env: []string{
		"AWS_LAMBDA_FUNCTION_NAME=fleetapi-ingest",
		"AWS_REGION=eu-west-1",
		// Dummy keys: requests are signed, but only to the hung socket.
		"AWS_ACCESS_KEY_ID=local", "AWS_SECRET_ACCESS_KEY=local",
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_EC2_METADATA_DISABLED=true",
		// The SDK's service-specific endpoint variable.
		"AWS_ENDPOINT_URL_DYNAMODB=" + faultnet.Hung(t),
		contract.EnvRoutes + "=" + contract.FormatRoutes(routes),
		contract.EnvVehiclesTable + "=vehicles", contract.EnvEventsTable + "=vehicleEvents", contract.EnvStateTable + "=vehicleState",
		contract.EnvEventRetentionDays + "=30",
		contract.EnvVehicleRole + "=" + testVehicleRole,
	}}

	body, _ := json.Marshal(map[string]any{"samples": []map[string]any{{"timestamp": time.Now().Add(-time.Minute).UTC().Format(time.RFC3339), "signals": map[string]float64{"Vehicle.Speed": 50}}}})
	event, _ := json.Marshal(events.APIGatewayProxyRequest{
		HTTPMethod: "POST", Resource: "/vehicles/{vid}/events", Path: "/vehicles/car-1/events",
		PathParameters: map[string]string{"vid": "car-1"}, Headers: map[string]string{"Content-Type": "application/json"},
		Body: string(body), RequestContext: events.APIGatewayProxyRequestContext{OperationName: "createEvent", RequestID: "r1",
			// Signed by vehicle car-1 itself.
			Identity: events.APIGatewayRequestIdentity{UserArn: "arn:aws:sts::111122223333:assumed-role/vehicles/car-1"}},
	})
	payload, took, output, err := runner.Invoke(context.Background(), fn, event)
	if err != nil {
		t.Fatalf("%v\nemulator and function output:\n%s", err, output)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("emulator and function output:\n%s", output)
		}
	})
	var answer events.APIGatewayProxyResponse
	if err := json.Unmarshal(payload, &answer); err != nil || answer.StatusCode != http.StatusServiceUnavailable || answer.Headers["Retry-After"] == "" {
		t.Fatalf("invocation answered %s (%v), want an API Gateway proxy response 503 with Retry-After", payload, err)
	}
	if !strings.Contains(answer.Body, `"ServiceUnavailable"`) {
		t.Errorf("body %s, want the JSON error ServiceUnavailable", answer.Body)
	}
	// Bounded attempts (dynamostore.CallBudget) within the handler's store
	// timeout (2 s), whatever the function's: a second more for the cold
	// start and the emulator.
	if limit := 3 * time.Second; took >= limit {
		t.Errorf("answered after %v: the store calls were not given up within 2 s of a %d s timeout", took, timeoutSecs)
	}
	t.Logf("hung DynamoDB under the emulator, HTTPS upload: %d after %v of a %d s timeout (including the cold start; %d attempts of %v)",
		answer.StatusCode, took.Round(time.Millisecond), timeoutSecs, dynamostore.MaxAttempts, dynamostore.AttemptTimeout)

	// The same upload over MQTT, as the upload rule invokes the function:
	// a function error, which sends it on the failure path, as soon.
	rule, _ := json.Marshal(contract.RuleEvent{Source: contract.RuleEventSource, Topic: contract.UploadTopic("car-1"), VID: "car-1", ClientID: "car-1",
		Payload: base64.StdEncoding.EncodeToString(body), ReceivedAt: time.Now().UnixMilli()})
	payload, took, output, err = runner.Invoke(context.Background(), fn, rule)
	if err != nil {
		t.Fatalf("%v\nemulator and function output:\n%s", err, output)
	}
	var failure struct {
		ErrorMessage string `json:"errorMessage"`
	}
	if err := json.Unmarshal(payload, &failure); err != nil || !strings.Contains(failure.ErrorMessage, "not stored: ") {
		t.Fatalf("the rule's invocation answered %s (%v), want a function error: not stored, for a retry", payload, err)
	}
	if limit := 3 * time.Second; took >= limit {
		t.Errorf("failed after %v: the store calls were not given up within 2 s of a %d s timeout", took, timeoutSecs)
	}
	t.Logf("hung DynamoDB under the emulator, MQTT upload (rule event): function error after %v: %s", took.Round(time.Millisecond), failure.ErrorMessage)
}

var (
	buildOnce             sync.Once
	builtBootstrap, built string
	buildErr              error
)

// emulatorBinaries builds the functions' bootstrap for this machine and
// the emulator, once for the package's tests.
func emulatorBinaries(t *testing.T) (bootstrap, rie string) {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "lambdaapp-emulator")
		if err != nil {
			buildErr = err
			return
		}
		builtBootstrap, built = filepath.Join(dir, "bootstrap"), filepath.Join(dir, "aws-lambda-rie")
		// With the functions' own flags (tags included), for this machine.
		if buildErr = gobuild.BuildHere("../../..", gobuild.Package, builtBootstrap); buildErr == nil {
			buildErr = gobuild.BuildEmulator("../../../tools", built)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBootstrap, built
}

// Init makes no network call: each function, started cold under the
// emulator with DynamoDB and Secrets Manager behind counting endpoints,
// answers a request it refuses before any call; the endpoints see nothing.
// The cursor key is read when a listing first needs it.
func TestNoNetworkCallDuringInit(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two binaries")
	}
	bootstrap, rie := emulatorBinaries(t)
	spec, err := api.Load()
	if err != nil {
		t.Fatal(err)
	}
	var endpoints []*coldstart.Counter
	// Only counted: a call to either would fail the test.
	for _, name := range []string{"DynamoDB", "Secrets Manager"} {
		c, err := coldstart.NewCounter(name, http.NotFoundHandler())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		endpoints = append(endpoints, c)
	}
	runner := &coldstart.Runner{Emulator: rie, Endpoints: endpoints, Timeout: 3}
	for _, fn := range []string{"ingest", "vehicles", "events"} {
		routes := spec.RoutesOf(fn)
		// An operation on a vehicle, refused for its unsigned caller before any call.
		i := slices.IndexFunc(routes, func(r contract.Route) bool { return strings.Contains(r.Resource, "{vid}") })
		refused, _ := json.Marshal(events.APIGatewayProxyRequest{HTTPMethod: routes[i].Method, Resource: routes[i].Resource, Path: "/vehicles/-",
			PathParameters: map[string]string{"vid": "-", "eid": "-"}, RequestContext: events.APIGatewayProxyRequestContext{OperationName: routes[i].Operation}})
		calls, err := runner.InitCalls(context.Background(), coldstart.Target{Name: fn, Bootstrap: bootstrap, Probe: refused, ProbeStatus: http.StatusForbidden,
			Env: []string{
				"AWS_LAMBDA_FUNCTION_NAME=fleetapi-" + fn, "AWS_REGION=eu-west-1", "AWS_ACCESS_KEY_ID=local", "AWS_SECRET_ACCESS_KEY=local",
				"AWS_ENDPOINT_URL_DYNAMODB=" + endpoints[0].URL, "AWS_ENDPOINT_URL_SECRETS_MANAGER=" + endpoints[1].URL,
				contract.EnvRoutes + "=" + contract.FormatRoutes(routes),
				contract.EnvVehiclesTable + "=vehicles", contract.EnvEventsTable + "=vehicleEvents", contract.EnvStateTable + "=vehicleState", contract.EnvEventRetentionDays + "=30",
				contract.EnvCursorKeySecret + "=arn:aws:secretsmanager:eu-west-1:111122223333:secret:cursor-key",
				contract.EnvVehicleRole + "=" + testVehicleRole,
			}})
		if err != nil {
			t.Fatal(err)
		}
		for name, n := range calls {
			if n != 0 {
				t.Errorf("%s: %d calls to %s during init, want none", fn, n, name)
			}
		}
	}
}

// testVehicleRole is the vehicle role the emulated functions are told of.
const testVehicleRole = "arn:aws:iam::111122223333:role/vehicles"
