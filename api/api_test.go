package api

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestLoad(t *testing.T) {
	s, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	// How the parse reads each of the seven operations (a new one is not
	// this test's to list).
	for id, want := range map[string]string{
		"listVehicles":  "GET /vehicles listVehicles vehicles fleet-read,fleet-admin map[vehicles:[dynamodb:Scan]] true",
		"createVehicle": "POST /vehicles createVehicle vehicles fleet-admin map[vehicles:[dynamodb:GetItem dynamodb:PutItem]] false",
		"getVehicle":    "GET /vehicles/{vid} getVehicle vehicles vehicle,fleet-read,fleet-admin map[vehicles:[dynamodb:GetItem]] false",
		"updateVehicle": "PUT /vehicles/{vid} updateVehicle vehicles fleet-admin map[vehicles:[dynamodb:GetItem dynamodb:UpdateItem]] false",
		"listEvents":    "GET /vehicles/{vid}/events listEvents events fleet-read map[vehicleEvents:[dynamodb:Query]] true",
		"createEvent":   "POST /vehicles/{vid}/events createEvent ingest vehicle map[vehicleEvents:[dynamodb:GetItem dynamodb:PutItem] vehicles:[dynamodb:GetItem]] false",
		"getEvent":      "GET /vehicles/{vid}/events/{eid} getEvent events vehicle,fleet-read map[vehicleEvents:[dynamodb:GetItem]] false",
	} {
		op, ok := s.Lookup(id)
		if got := fmt.Sprint(op.Method, " ", op.Path, " ", op.ID, " ", op.Function, " ", strings.Join(op.Callers, ","), " ", op.Access, " ", op.Paginated); !ok || got != want {
			t.Errorf("%s:\n%s\nwant\n%s", id, got, want)
		}
	}
	if !slices.IsSortedFunc(s.Operations, func(a, b Operation) int { return strings.Compare(a.Path+" "+a.Method, b.Path+" "+b.Method) }) {
		t.Error("operations are not in path order")
	}
	if fns := strings.Join(s.Functions(), ","); fns != "events,ingest,vehicles" {
		t.Errorf("functions %s", fns)
	}
	if got := strings.Join(s.CallersOf("getEvent"), ","); got != "vehicle,fleet-read" {
		t.Errorf("CallersOf(getEvent) = %s", got)
	}
	if got := fmt.Sprint(s.AccessOf("vehicles")); got != "map[vehicleState:[dynamodb:GetItem dynamodb:Scan] vehicles:[dynamodb:GetItem dynamodb:PutItem dynamodb:Scan dynamodb:UpdateItem]]" {
		t.Errorf("AccessOf(vehicles) = %s: want each action once, sorted", got)
	}
	if !s.Paginates("events") || s.Paginates("ingest") {
		t.Errorf("Paginates: events %v, ingest %v", s.Paginates("events"), s.Paginates("ingest"))
	}
	if got := s.RoutesOf("ingest"); len(got) != 1 || !got[0].Allows("vehicle") || got[0].Allows("fleet-read") {
		t.Errorf("RoutesOf(ingest) = %+v: want createEvent for vehicles only", got)
	}
}

func TestParseRefuses(t *testing.T) {
	spec := string(SpecYAML)
	for desc, tt := range map[string]struct{ old, new, want string }{
		"no integration":   {"x-amazon-apigateway-integration:\n        type: aws_proxy\n        httpMethod: POST\n        uri: fleetapi:function:ingest\n        passthroughBehavior: when_no_match", "x-other: 1", "operation createEvent (POST /vehicles/{vid}/events): no x-amazon-apigateway-integration"},
		"bad function uri": {"uri: fleetapi:function:ingest", "uri: arn:aws:lambda:x", `integration uri "arn:aws:lambda:x"`},
		"not a proxy":      {"type: aws_proxy\n        httpMethod: POST\n        uri: fleetapi:function:ingest", "type: aws\n        httpMethod: POST\n        uri: fleetapi:function:ingest", "aws_proxy"},
		"no validator":     {"x-amazon-apigateway-request-validator: all\n      # Only a vehicle uploads", "# Only a vehicle uploads", "no x-amazon-apigateway-request-validator"},
		// Who may call an operation is said beside it, in words the
		// construct and the functions know.
		"no callers":            {"      x-fleetapi-callers: [vehicle]\n", "", "operation createEvent (POST /vehicles/{vid}/events): x-fleetapi-callers: no caller classes: known classes are vehicle, fleet-read, fleet-admin"},
		"unknown caller":        {"x-fleetapi-callers: [vehicle]", "x-fleetapi-callers: [car]", `operation createEvent (POST /vehicles/{vid}/events): x-fleetapi-callers: unknown caller class "car": known classes are vehicle, fleet-read, fleet-admin`},
		"callers not a list":    {"x-fleetapi-callers: [vehicle]", "x-fleetapi-callers: vehicle", "x-fleetapi-callers: must be a list of caller classes, got vehicle"},
		"caller not a string":   {"x-fleetapi-callers: [vehicle]", "x-fleetapi-callers: [1]", "caller class 1 is not a string"},
		"caller twice":          {"x-fleetapi-callers: [vehicle]", "x-fleetapi-callers: [vehicle, vehicle]", `caller class "vehicle" named twice`},
		"vehicle without a vid": {"x-fleetapi-callers: [fleet-admin]", "x-fleetapi-callers: [vehicle]", "operation createVehicle (POST /vehicles): x-fleetapi-callers: class vehicle needs the path parameter {vid}"},
		// What an operation does in DynamoDB is said beside it too: its
		// function's policy is made of it.
		"no access":          {"      x-fleetapi-dynamodb:\n        vehicleEvents: [dynamodb:GetItem]\n", "", "operation getEvent (GET /vehicles/{vid}/events/{eid}): x-fleetapi-dynamodb: must map a table (vehicles, vehicleEvents, vehicleState) to the DynamoDB actions"},
		"unknown table":      {"        vehicleEvents: [dynamodb:Query]", "        events: [dynamodb:Query]", `operation listEvents (GET /vehicles/{vid}/events): x-fleetapi-dynamodb: unknown table "events": known tables are vehicles, vehicleEvents, vehicleState`},
		"unknown action":     {"        vehicleEvents: [dynamodb:Query]", "        vehicleEvents: [dynamodb:DeleteTable]", "x-fleetapi-dynamodb: vehicleEvents: unknown action dynamodb:DeleteTable: known actions are dynamodb:BatchGetItem"},
		"wildcard action":    {"        vehicleEvents: [dynamodb:Query]", "        vehicleEvents: ['dynamodb:*']", "unknown action dynamodb:*"},
		"actions not a list": {"        vehicleEvents: [dynamodb:Query]", "        vehicleEvents: dynamodb:Query", "x-fleetapi-dynamodb: vehicleEvents: must be a list of DynamoDB actions, got dynamodb:Query"},
		"action twice":       {"        vehicleEvents: [dynamodb:Query]", "        vehicleEvents: [dynamodb:Query, dynamodb:Query]", "vehicleEvents: action dynamodb:Query named twice"},
		"no operationId":     {"      operationId: getEvent\n", "", "no operationId"},
		// One operation is the upload.
		"no upload":                    {"      x-fleetapi-upload: true\n", "", "the API spec marks 0 operations as the upload (x-fleetapi-upload: true): ; it must mark one"},
		"two uploads":                  {"      operationId: createVehicle\n", "      operationId: createVehicle\n      x-fleetapi-upload: true\n", "marks 2 operations as the upload (x-fleetapi-upload: true): createVehicle, createEvent"},
		"upload not a bool":            {"x-fleetapi-upload: true", "x-fleetapi-upload: yes please", "x-fleetapi-upload must be true or false, got yes please"},
		"upload by GET":                {"      operationId: getEvent\n", "      operationId: getEvent\n      x-fleetapi-upload: true\n", "operation getEvent (GET /vehicles/{vid}/events/{eid}): x-fleetapi-upload: the upload stores, so its method is POST"},
		"objective true":               {"      x-fleetapi-objective: false", "      x-fleetapi-objective: true", "operation getVehicleState (GET /vehicles/{vid}/state): x-fleetapi-objective may only be false, on an operation that is not the upload, got true"},
		"upload out of the objectives": {"      x-fleetapi-upload: true\n", "      x-fleetapi-upload: true\n      x-fleetapi-objective: false\n", "x-fleetapi-objective may only be false, on an operation that is not the upload, got false"},
		"invalid OpenAPI":              {"openapi: 3.0.3", "openapi: 3.0.3\nbogus: [", "parse the API spec"},
		"broken schema ref":            {"$ref: '#/components/schemas/Upload'", "$ref: '#/components/schemas/Nope'", "Nope"},
		// API Gateway ignores root-level security: an operation without its
		// own would deploy unauthenticated, whatever the root says.
		"no operation security": {"      operationId: getEvent\n      security:\n        - sigv4: []\n", "      operationId: getEvent\n", "operation getEvent (GET /vehicles/{vid}/events/{eid}): no security of its own"},
		"empty requirement":     {"      operationId: getEvent\n      security:\n        - sigv4: []\n", "      operationId: getEvent\n      security:\n        - sigv4: []\n        - {}\n", "operation getEvent (GET /vehicles/{vid}/events/{eid}): an empty security requirement"},
		"scheme not enforced":   {"      x-amazon-apigateway-authtype: awsSigv4\n", "", `security scheme "sigv4" has no x-amazon-apigateway-authtype`},
		"template variable":     {`"code":"Forbidden","message":"the request signature does not match: check the credentials and how the request is signed"`, `"code":"Forbidden","message":$context.error.messageString`, "gateway response INVALID_SIGNATURE: template application/json substitutes a variable"},
		"template not JSON":     {`{"error":{"code":"BadRequest","message":"a required request parameter is missing or empty"}}`, `{"error":{"code":"BadRequest"}`, "gateway response BAD_REQUEST_PARAMETERS: template application/json is not JSON"},
	} {
		if !strings.Contains(spec, tt.old) {
			t.Fatalf("%s: the spec no longer holds %q", desc, tt.old)
		}
		_, err := Parse([]byte(strings.Replace(spec, tt.old, tt.new, 1)))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %v, want an error containing %q", desc, err, tt.want)
		}
	}
}

// API Gateway reads a gateway response's statusCode as a string.
func TestGatewayResponseStatusCodesAreStrings(t *testing.T) {
	s, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	responses, _ := s.Doc.Extensions["x-amazon-apigateway-gateway-responses"].(map[string]any)
	if len(responses) == 0 {
		t.Fatal("no gateway responses")
	}
	for kind, r := range responses {
		code, present := r.(map[string]any)["statusCode"]
		if s, ok := code.(string); present && (!ok || len(s) != 3) {
			t.Errorf("%s: statusCode %#v, want a string such as \"400\"", kind, code)
		}
	}
}
