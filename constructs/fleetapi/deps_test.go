package fleetapi

import (
	"os/exec"
	"strings"
	"testing"
)

// The construct links no runtime code: another team's CDK app that imports
// it compiles no AWS SDK, no Lambda runtime and no handler.
func TestConstructLinksNoRuntimeCode(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	for _, dep := range deps {
		for _, banned := range []string{
			"github.com/aws/aws-sdk-go-v2", "github.com/aws/aws-lambda-go", "github.com/go-json-experiment/json",
			modulePath + "/internal/httpapi", modulePath + "/internal/dynamostore", modulePath + "/internal/lambdaapp", modulePath + "/internal/fleet",
			modulePath + "/internal/authz", modulePath + "/internal/localauth", modulePath + "/internal/iampolicy",
		} {
			if dep == banned || strings.HasPrefix(dep, banned+"/") {
				t.Errorf("the construct links %s", dep)
			}
		}
	}
	t.Logf("the construct links %d packages", len(deps))
}
