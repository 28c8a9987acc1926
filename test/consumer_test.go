package test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestConsumerApp synthesizes examples/consumer, another team's app that
// composes FleetApi in its own stack, as `cdk synth` would run it.
func TestConsumerApp(t *testing.T) {
	out := t.TempDir()
	cmd := exec.Command("go", "run", ".")
	cmd.Dir = filepath.Join("..", "examples", "consumer")
	cmd.Env = append(os.Environ(), "CDK_OUTDIR="+out)
	if log, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the consumer app failed: %v\n%s", err, log)
	}
	data, err := os.ReadFile(filepath.Join(out, "Telemetry.template.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Resources map[string]resource
		Outputs   map[string]any
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, r := range doc.Resources {
		count[r.Type]++
	}
	// The construct's own resources, the consumer's function, and no
	// account-wide API Gateway role (the consumer turned it off).
	for typ, want := range map[string]int{
		"AWS::DynamoDB::Table": 2, "AWS::Lambda::Function": 4, "AWS::ApiGateway::RestApi": 1,
		"AWS::ApiGateway::Account": 0, "AWS::Lambda::Permission": 7,
	} {
		if count[typ] != want {
			t.Errorf("%d %s, want %d", count[typ], typ, want)
		}
	}
	// Logical IDs depend only on the construct ID: the same as in FleetApi's own stacks.
	for _, id := range []string{"FleetVehiclesED93DD14", "FleetVehicleEvents3AE12A76"} {
		if doc.Resources[id].Type != "AWS::DynamoDB::Table" {
			t.Errorf("table %s not found", id)
		}
	}
	var granted bool
	for _, p := range doc.Resources {
		if p.Type != "AWS::IAM::Policy" {
			continue
		}
		b, _ := json.Marshal(p.Properties)
		s := string(b)
		if strings.Contains(s, "DailyReport") && strings.Contains(s, `"dynamodb:Query"`) && strings.Contains(s, "FleetVehicleEvents3AE12A76") {
			granted = true
		}
	}
	if !granted {
		t.Error("the consumer's function was not granted read access to the events table")
	}
	if _, ok := doc.Outputs["FleetApiUrl"]; !ok {
		t.Error("the consumer's output of the API URL is missing")
	}
}
