package fleetapi

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/fleetapi/fleetapi/api"
	"github.com/fleetapi/fleetapi/internal/construct/gobuild"
	"github.com/fleetapi/fleetapi/internal/shared/contract"
	"github.com/fleetapi/fleetapi/internal/testutil/cdktest"
)

// deploymentID synthesizes a FleetApi from spec and returns the logical ID
// of its API deployment.
func deploymentID(t *testing.T, spec []byte) string {
	t.Helper()
	stack := awscdk.NewStack(awscdk.NewApp(nil), jsii.String("S"), nil)
	NewFleetApi(stack, "Fleet", &FleetApiProps{spec: spec})
	deployments := assertions.Template_FromStack(stack, nil).FindResources(jsii.String("AWS::ApiGateway::Deployment"), nil)
	if len(*deployments) != 1 {
		t.Fatalf("%d deployments, want 1", len(*deployments))
	}
	for id := range *deployments {
		return id
	}
	return ""
}

// A change in the spec must create a new deployment, or the stage would
// keep serving the old API.
func TestSpecChangeRedeploys(t *testing.T) {
	changed := strings.Replace(string(api.SpecYAML), "maxItems: 100", "maxItems: 50", 1)
	if changed == string(api.SpecYAML) {
		t.Fatal("the spec no longer holds maxItems: 100")
	}
	same1, same2 := deploymentID(t, api.SpecYAML), deploymentID(t, api.SpecYAML)
	other := deploymentID(t, []byte(changed))
	if same1 != same2 {
		t.Errorf("the same spec gave deployments %s and %s", same1, same2)
	}
	if other == same1 {
		t.Errorf("a changed spec kept deployment %s", same1)
	}
}

// A function that does not compile fails the synthesis with the compiler's
// message, through CDK's bundling, and never falls back to Docker.
func TestBrokenFunctionFailsTheSynthesis(t *testing.T) {
	dir := writeModule(t, "package main\n\nfunc main() {}\n")
	writeFile(t, dir, gobuild.Package+"/main.go", "package main\n\nfunc main() { notDeclared() }\n")
	defer func() {
		r := recover()
		err, _ := r.(error)
		if err == nil || !strings.Contains(err.Error(), "build function "+gobuild.Package) || !strings.Contains(err.Error(), "undefined: notDeclared") {
			t.Errorf("panic %v, want the compiler's message for %s", r, gobuild.Package)
		}
	}()
	stack := awscdk.NewStack(awscdk.NewApp(nil), jsii.String("S"), nil)
	NewFleetApi(stack, "Fleet", &FleetApiProps{moduleDir: dir})
}

// The spec alone says which functions there are: every function runs the
// one binary with the routes the spec gives it, and one asset serves all.
// (The first operation of /vehicles, listVehicles, moves to a function of
// its own.)
func TestSpecDefinesTheFunctions(t *testing.T) {
	moved := strings.Replace(string(api.SpecYAML), "uri: fleetapi:function:vehicles", "uri: fleetapi:function:fleet", 1)
	stack := awscdk.NewStack(awscdk.NewApp(nil), jsii.String("S"), nil)
	NewFleetApi(stack, "Fleet", &FleetApiProps{spec: []byte(moved)})
	tmpl := assertions.Template_FromStack(stack, nil)
	cdktest.Check(t, "functions", func() {
		tmpl.ResourceCountIs(jsii.String("AWS::Lambda::Function"), jsii.Number(5)) // and the tracker
		tmpl.HasResourceProperties(jsii.String("AWS::Lambda::Function"), map[string]any{
			"Description": "FleetApi fleet: listVehicles",
			"Environment": map[string]any{"Variables": assertions.Match_ObjectLike(&map[string]any{
				contract.EnvRoutes: "listVehicles GET /vehicles fleet-read,fleet-admin",
			})},
		})
	})
	codes := map[string]bool{}
	for _, fn := range *tmpl.FindResources(jsii.String("AWS::Lambda::Function"), nil) {
		code, _ := json.Marshal((*fn)["Properties"].(map[string]any)["Code"])
		codes[string(code)] = true
	}
	if len(codes) != 1 {
		t.Errorf("the functions have %d code assets, want one: %v", len(codes), codes)
	}
}

// The accessors need the functions they name, and the upload's function
// serves the upload alone: a spec without them, or whose upload function
// serves more, fails the synthesis saying so.
func TestSpecMustNameTheConstructsFunctions(t *testing.T) {
	for name, tt := range map[string]struct{ old, new, want string }{
		"no events function": {"uri: fleetapi:function:events", "uri: fleetapi:function:vehicles",
			`the API spec names no operation served by function "events": the spec's functions are ingest, vehicles, the construct needs vehicles and events`},
		"the upload's function serves two": {"uri: fleetapi:function:vehicles\n        passthroughBehavior: when_no_match\n  /vehicles/{vid}:", "uri: fleetapi:function:ingest\n        passthroughBehavior: when_no_match\n  /vehicles/{vid}:",
			"the upload (createEvent) is served by function ingest, which serves 2 operations in the API spec: it must serve the upload alone"},
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				err, _ := recover().(error)
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("panic %v, want %q", err, tt.want)
				}
			}()
			if !strings.Contains(string(api.SpecYAML), tt.old) {
				t.Fatalf("the spec no longer holds %q", tt.old)
			}
			count := 1
			if name == "no events function" {
				count = -1
			}
			spec := strings.Replace(string(api.SpecYAML), tt.old, tt.new, count)
			NewFleetApi(awscdk.NewStack(awscdk.NewApp(nil), jsii.String("S"), nil), "Fleet", &FleetApiProps{spec: []byte(spec)})
		})
	}
}

// The spec says which function serves the upload: named otherwise, it is
// IngestFunction, and the upload rule invokes it.
func TestTheSpecNamesTheUploadFunction(t *testing.T) {
	spec := strings.Replace(string(api.SpecYAML), "uri: fleetapi:function:ingest", "uri: fleetapi:function:uploads", 1)
	stack := awscdk.NewStack(awscdk.NewApp(nil), jsii.String("S"), nil)
	f := NewFleetApi(stack, "Fleet", &FleetApiProps{spec: []byte(spec), MqttUploads: jsii.Bool(true)})
	if id := *f.IngestFunction().Node().Id(); id != "UploadsFunction" {
		t.Errorf("IngestFunction is %s, want UploadsFunction", id)
	}
	rule := awscdk.Stack_Of(f).Resolve(f.upload.rule.TopicRulePayload())
	b, _ := json.Marshal(rule)
	if !strings.Contains(string(b), "FleetUploadsLive") {
		t.Errorf("the upload rule's action: %s, want the uploads function", b)
	}
}

// An operation of unknown callers, or of none, fails the synthesis with a
// message naming the operation and the known classes.
func TestCallerClassesFailTheSynthesis(t *testing.T) {
	for name, edit := range map[string][2]string{
		"unknown class": {"x-fleetapi-callers: [vehicle]", "x-fleetapi-callers: [cars]"},
		"no class":      {"      x-fleetapi-callers: [vehicle]\n", ""},
	} {
		t.Run(name, func(t *testing.T) {
			spec := strings.Replace(string(api.SpecYAML), edit[0], edit[1], 1)
			defer func() {
				err, _ := recover().(error)
				if err == nil || !strings.Contains(err.Error(), "operation createEvent (POST /vehicles/{vid}/events): x-fleetapi-callers") ||
					!strings.Contains(err.Error(), "known classes are vehicle, fleet-read, fleet-admin") {
					t.Errorf("panic %v, want the operation and the known classes named", err)
				}
			}()
			NewFleetApi(awscdk.NewStack(awscdk.NewApp(nil), jsii.String("S"), nil), "Fleet", &FleetApiProps{spec: []byte(spec)})
		})
	}
}

// CloudWatch alarms on metric math read at most 10 metrics: an objective
// over more methods than that allows fails the synthesis, naming why.
func TestObjectiveOverTooManyMethods(t *testing.T) {
	f := NewFleetApi(awscdk.NewStack(awscdk.NewApp(nil), jsii.String("S"), nil), "Fleet", nil)
	var reads objective
	for _, o := range objectives(FleetApiProps{}, f.spec) {
		if o.subject == "Reads" && o.indicator == "Availability" {
			reads = o
		}
	}
	if len(reads.ops) != 4 {
		t.Fatalf("reads over %d operations, want the spec's 4 GET operations held to the objectives", len(reads.ops))
	}
	reads.ops = append(reads.ops, reads.ops[0])
	reads.ops[4].ID = "fifth"
	f.badPercent(reads, awscdk.Duration_Hours(jsii.Number(1))) // 10 metrics: allowed
	reads.ops = append(reads.ops, reads.ops[0])
	reads.ops[5].ID = "sixth"
	defer func() {
		err, _ := recover().(error)
		if want := "the availability objective of reads watches 6 operations, 12 metrics: a CloudWatch metric math alarm reads at most 10"; err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%v, want %q", err, want)
		}
	}()
	f.badPercent(reads, awscdk.Duration_Hours(jsii.Number(1)))
}
