package api

import (
	"strings"
	"testing"
)

func TestLoad(t *testing.T) {
	s, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, op := range s.Operations {
		got = append(got, op.Method+" "+op.Path+" "+op.ID+" "+op.Function)
	}
	want := []string{
		"GET /vehicles listVehicles vehicles",
		"POST /vehicles createVehicle vehicles",
		"GET /vehicles/{vid} getVehicle vehicles",
		"PUT /vehicles/{vid} updateVehicle vehicles",
		"GET /vehicles/{vid}/events listEvents events",
		"POST /vehicles/{vid}/events createEvent ingest",
		"GET /vehicles/{vid}/events/{eid} getEvent events",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("operations:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if fns := strings.Join(s.Functions(), ","); fns != "events,ingest,vehicles" {
		t.Errorf("functions %s", fns)
	}
}

func TestParseRefuses(t *testing.T) {
	spec := string(SpecYAML)
	for desc, tt := range map[string]struct{ old, new, want string }{
		"no integration":    {"x-amazon-apigateway-integration:\n        type: aws_proxy\n        httpMethod: POST\n        uri: fleetapi:function:ingest\n        passthroughBehavior: when_no_match", "x-other: 1", "operation createEvent (POST /vehicles/{vid}/events): no x-amazon-apigateway-integration"},
		"bad function uri":  {"uri: fleetapi:function:ingest", "uri: arn:aws:lambda:x", `integration uri "arn:aws:lambda:x"`},
		"not a proxy":       {"type: aws_proxy\n        httpMethod: POST\n        uri: fleetapi:function:ingest", "type: aws\n        httpMethod: POST\n        uri: fleetapi:function:ingest", "aws_proxy"},
		"no validator":      {"x-amazon-apigateway-request-validator: all\n      x-amazon-apigateway-integration:\n        type: aws_proxy\n        httpMethod: POST\n        uri: fleetapi:function:ingest", "x-amazon-apigateway-integration:\n        type: aws_proxy\n        httpMethod: POST\n        uri: fleetapi:function:ingest", "no x-amazon-apigateway-request-validator"},
		"no operationId":    {"      operationId: getEvent\n", "", "no operationId"},
		"invalid OpenAPI":   {"openapi: 3.0.3", "openapi: 3.0.3\nbogus: [", "parse the API spec"},
		"broken schema ref": {"$ref: '#/components/schemas/Upload'", "$ref: '#/components/schemas/Nope'", "Nope"},
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
