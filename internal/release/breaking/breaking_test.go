package breaking

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// cdk is the CLI of package-lock.json.
const cdk = "../../../node_modules/.bin/cdk"

// assembly writes a cloud assembly of one stack whose template is tmpl.
func assembly(t *testing.T, stack string, tmpl map[string]any) string {
	t.Helper()
	dir := t.TempDir()
	write := func(name string, v any) {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(stack+".template.json", tmpl)
	write("manifest.json", map[string]any{"version": "55.0.0", "artifacts": map[string]any{stack: map[string]any{
		"type": "aws:cloudformation:stack", "environment": "aws://unknown-account/unknown-region",
		"properties": map[string]any{"templateFile": stack + ".template.json"}}}})
	return dir
}

// prod is the committed template of prod, decoded afresh.
func prod(t *testing.T) map[string]any {
	t.Helper()
	data, err := os.ReadFile("../../../test/testdata/FleetApi-prod.template.json")
	if err != nil {
		t.Fatal(err)
	}
	var tmpl map[string]any
	if err := json.Unmarshal(data, &tmpl); err != nil {
		t.Fatal(err)
	}
	return tmpl
}

func resources(tmpl map[string]any) map[string]any { return tmpl["Resources"].(map[string]any) }

// check diffs new against base with the CLI and returns the changes.
func check(t *testing.T, base, new map[string]any) []Change {
	t.Helper()
	path := filepath.Join(t.TempDir(), "base.json")
	b, _ := json.Marshal(base)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := Diff(cdk, assembly(t, "FleetApi-prod", new), "FleetApi-prod", path)
	if err != nil {
		t.Fatal(err)
	}
	return Parse("FleetApi-prod", out)
}

// The two planted changes fail, an added alarm passes, and the template
// against itself has no change.
func TestPlantedChanges(t *testing.T) {
	const vehicles, events = "FleetVehiclesED93DD14", "FleetVehicleEvents3AE12A76"
	if got := check(t, prod(t), prod(t)); len(got) != 0 {
		t.Errorf("the template against itself: %v", got)
	}

	// A renamed construct ID: the table gets another logical ID.
	renamed := prod(t)
	r := resources(renamed)
	r["FleetVehicleRegistry5F1E2D3C"] = r[vehicles]
	delete(r, vehicles)
	got := check(t, prod(t), renamed)
	if len(got) != 1 || got[0].LogicalID != vehicles || got[0].Impact != Orphan || got[0].Type != "AWS::DynamoDB::Table" {
		t.Errorf("renamed table: %v, want the old logical ID %s orphaned", got, vehicles)
	}
	for _, c := range got {
		t.Logf("renamed: %s", c)
	}

	// Another sort key: the table is replaced.
	sortKey := prod(t)
	props := resources(sortKey)[events].(map[string]any)["Properties"].(map[string]any)
	props["KeySchema"].([]any)[1].(map[string]any)["AttributeName"] = "ts"
	for _, a := range props["AttributeDefinitions"].([]any) {
		if a.(map[string]any)["AttributeName"] == "eid" {
			a.(map[string]any)["AttributeName"] = "ts"
		}
	}
	got = check(t, prod(t), sortKey)
	if len(got) != 1 || got[0].LogicalID != events || got[0].Impact != Replace || !strings.Contains(strings.Join(got[0].Properties, ","), "KeySchema requires replacement") {
		t.Errorf("changed sort key: %v, want %s replaced for its KeySchema", got, events)
	}
	for _, c := range got {
		t.Logf("sort key: %s", c)
	}

	// An added alarm: nothing stateful changes.
	base, added := prod(t), prod(t)
	for id, res := range resources(base) {
		if res.(map[string]any)["Type"] == "AWS::CloudWatch::Alarm" {
			delete(resources(base), id)
			break
		}
	}
	if got := check(t, base, added); len(got) != 0 {
		t.Errorf("an added alarm: %v, want no change", got)
	}
}

func TestParse(t *testing.T) {
	out := `Stack FleetApi-prod
Resources
[-] AWS::DynamoDB::Table Fleet/Vehicles FleetVehiclesOLD1234 orphan
[+] AWS::DynamoDB::Table Fleet/Vehicles FleetVehiclesED93DD14
[-] AWS::CloudWatch::Alarm Fleet/Old FleetOld destroy
[~] AWS::Logs::LogGroup Fleet/Logs FleetLogs may be replaced
 └─ [~] LogGroupName (may cause replacement)
[~] AWS::DynamoDB::Table Fleet/VehicleEvents FleetVehicleEvents3AE12A76 replace
 ├─ [~] AttributeDefinitions
 └─ [~] KeySchema (requires replacement)
[~] AWS::SNS::Topic Fleet/AlarmTopic FleetAlarmTopic
 └─ [~] DisplayName
`
	var got []string
	for _, c := range Parse("S", out) {
		got = append(got, c.String())
	}
	want := []string{
		"S: AWS::DynamoDB::Table FleetVehiclesOLD1234 (Fleet/Vehicles) would leave the stack (its logical ID is gone: a rename makes a new, empty one)",
		"S: AWS::Logs::LogGroup FleetLogs (Fleet/Logs) may be replaced: LogGroupName may cause replacement",
		"S: AWS::DynamoDB::Table FleetVehicleEvents3AE12A76 (Fleet/VehicleEvents) would be replaced: KeySchema requires replacement",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("Parse:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	acks := []Ack{{Stack: "S", LogicalID: "FleetLogs", Reason: "the log group is new in this release"}}
	if left := Unacknowledged(Parse("S", out), acks); len(left) != 2 {
		t.Errorf("Unacknowledged: %v", left)
	}
}

func TestLoadAcks(t *testing.T) {
	dir := t.TempDir()
	if acks, err := LoadAcks(filepath.Join(dir, "none.yaml")); err != nil || acks != nil {
		t.Errorf("a missing file: %v, %v", acks, err)
	}
	path := filepath.Join(dir, "acks.yaml")
	os.WriteFile(path, []byte("acknowledged:\n  - stack: FleetApi-dev\n    logicalId: X\n"), 0o644)
	if _, err := LoadAcks(path); err == nil || !strings.Contains(err.Error(), "needs stack, logicalId and a reason") {
		t.Errorf("an acknowledgement without a reason: %v", err)
	}
	os.WriteFile(path, []byte("acknowledged:\n  - stack: FleetApi-dev\n    logicalID: X\n    reason: r\n"), 0o644)
	if _, err := LoadAcks(path); err == nil {
		t.Error("an unknown member: no error")
	}
}
