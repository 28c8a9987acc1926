package fleetapi

import (
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/fleetapi/fleetapi/api"
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
	for _, name := range []string{"vehicles", "events", "ingest"} {
		src := "package main\n\nfunc main() {}\n"
		if name == "events" {
			src = "package main\n\nfunc main() { notDeclared() }\n"
		}
		writeFile(t, dir, "lambdas/"+name+"/main.go", src)
	}
	defer func() {
		r := recover()
		err, _ := r.(error)
		if err == nil || !strings.Contains(err.Error(), "build function lambdas/events") || !strings.Contains(err.Error(), "undefined: notDeclared") {
			t.Errorf("panic %v, want the compiler's message for lambdas/events", r)
		}
	}()
	stack := awscdk.NewStack(awscdk.NewApp(nil), jsii.String("S"), nil)
	NewFleetApi(stack, "Fleet", &FleetApiProps{moduleDir: dir})
}

func TestSpecNamingAnUnknownFunctionFails(t *testing.T) {
	bad := strings.Replace(string(api.SpecYAML), "uri: fleetapi:function:ingest", "uri: fleetapi:function:billing", 1)
	defer func() {
		r := recover()
		if r == nil || !strings.Contains(r.(error).Error(), "lambdas/billing") {
			t.Errorf("panic %v, want a failed build of lambdas/billing", r)
		}
	}()
	stack := awscdk.NewStack(awscdk.NewApp(nil), jsii.String("S"), nil)
	NewFleetApi(stack, "Fleet", &FleetApiProps{spec: []byte(bad)})
}
