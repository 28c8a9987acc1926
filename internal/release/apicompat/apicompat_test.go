package apicompat

import (
	"strings"
	"testing"
)

// What apidiff -incompatible printed for two real changes of this
// repository: Alarms' result type, and createVehicle's Idempotency-Key.
const output = `- (*FleetApi).Alarms: changed from func() []github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch.IAlarm to func() []github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch.Alarm
- (*Client).CreateVehicle: changed from func(context.Context, CreateVehicleJSONRequestBody, ...RequestEditorFn) (*net/http.Response, error) to func(context.Context, *CreateVehicleParams, CreateVehicleJSONRequestBody, ...RequestEditorFn) (*net/http.Response, error)
- NewCreateVehicleRequest: changed from func(string, CreateVehicleJSONRequestBody) (*net/http.Request, error) to func(string, *CreateVehicleParams, CreateVehicleJSONRequestBody) (*net/http.Request, error)
`

func TestParse(t *testing.T) {
	got := Parse(output)
	if len(got) != 3 || got[0].Identifier != "(*FleetApi).Alarms" || got[0].Name() != "Alarms" || got[2].Name() != "NewCreateVehicleRequest" ||
		!strings.HasPrefix(got[1].What, "changed from func(context.Context, CreateVehicleJSONRequestBody") {
		t.Errorf("Parse = %+v", got)
	}
	if got := Parse(""); len(got) != 0 {
		t.Errorf("Parse of nothing = %v", got)
	}
}

func TestUncovered(t *testing.T) {
	changelog := "# Changelog\n\n## [Unreleased]\n\n### Changed\n\n- `Alarms` returns `awscloudwatch.Alarm`s.\n- `CreateVehicle*` take `CreateVehicleParams`.\n\n## [0.1.0] - 2026-12-02\n\n- `NewCreateVehicleRequest` is new.\n"
	left := Uncovered(Parse(output), Unreleased(changelog))
	if len(left) != 1 || left[0].Name() != "NewCreateVehicleRequest" {
		t.Errorf("uncovered %v, want NewCreateVehicleRequest alone (the released section does not count)", left)
	}
	if left := Uncovered(Parse(output), Unreleased("# Changelog\n")); len(left) != 3 {
		t.Errorf("without an Unreleased section: %v uncovered, want all", left)
	}
}
