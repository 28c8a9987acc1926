package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/fleetapi/fleetapi/internal/app/fleetstack"
	"github.com/fleetapi/fleetapi/internal/testutil/awsstandin"
)

// stageTable writes a copy of the project's cdk.json whose prod stage has
// the given alarm e-mails, and synthesizes that stage into a cloud
// assembly as `make synth STAGE=prod` would; it returns both paths.
func stageTable(t *testing.T, emails []string) (cdkJSON, assembly string) {
	t.Helper()
	if testing.Short() {
		t.Skip("synthesis skipped under -short")
	}
	data, err := os.ReadFile("../../cdk.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	prod := doc["context"].(map[string]any)["stages"].(map[string]any)["prod"].(map[string]any)
	prod["alarmEmails"] = emails
	dir := t.TempDir()
	cdkJSON = filepath.Join(dir, "cdk.json")
	out, _ := json.Marshal(doc)
	if err := os.WriteFile(cdkJSON, out, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := readStage(cdkJSON, "prod")
	if err != nil {
		t.Fatal(err)
	}
	assembly = filepath.Join(dir, "cdk.out")
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(assembly)})
	if _, err := fleetstack.New(app, cfg); err != nil {
		t.Fatal(err)
	}
	app.Synth(nil)
	return cdkJSON, assembly
}

// runAgainst runs the command against a stand-in of the AWS APIs, with
// credentials of its own: nothing reaches AWS.
func runAgainst(t *testing.T, state awsstandin.State, args ...string) (int, string, []string) {
	t.Helper()
	standin := awsstandin.Start(state)
	defer standin.Close()
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": "AKIDSTANDIN", "AWS_SECRET_ACCESS_KEY": "standin", "AWS_SESSION_TOKEN": "",
		"AWS_REGION": "eu-central-1", "AWS_PROFILE": "", "AWS_EC2_METADATA_DISABLED": "true",
		"AWS_CONFIG_FILE": filepath.Join(t.TempDir(), "none"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(t.TempDir(), "none"),
	} {
		t.Setenv(k, v)
	}
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), append(args, "-endpoint", standin.URL), &stdout, &stderr)
	if stderr.Len() > 0 {
		t.Logf("stderr: %s", stderr.String())
	}
	t.Logf("make preflight STAGE=prod against %v:\n%s(exit %d)", state, stdout.String(), code)
	return code, stdout.String(), standin.Calls()
}

const bootstrapParameter = "/cdk-bootstrap/hnb659fds/version"

// shows fails for each line not in the output.
func shows(t *testing.T, out string, lines ...string) {
	t.Helper()
	for _, want := range lines {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in\n%s", want, out)
		}
	}
}

// docShows fails unless docs/deploying.md shows this output as it is.
func docShows(t *testing.T, out string) {
	t.Helper()
	doc, err := os.ReadFile("../../docs/deploying.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), "```\n"+out+"```") {
		t.Errorf("docs/deploying.md does not show this output; paste it there:\n%s", out)
	}
}

// An account ready for prod: the CloudWatch role, a quota with room for
// the 3 × 100 reservations and Lambda's 100 unreserved, bootstrapped,
// the budget's tags active, an address for the alarms.
func TestReadyAccount(t *testing.T) {
	cdkJSON, assembly := stageTable(t, []string{"oncall@example.com"})
	code, out, calls := runAgainst(t, awsstandin.State{
		CloudWatchRoleArn:    "arn:aws:iam::123456789012:role/FleetApi-dev-FleetApiCloudWatchRole-1A2B3C",
		ConcurrentExecutions: 1000, UnreservedConcurrentExecutions: 1000,
		Parameters: map[string]string{bootstrapParameter: "27"},
		CostTags:   map[string]string{"Project": "Active", "Stage": "Active"},
	}, "-stage", "prod", "-cdk-json", cdkJSON, "-assembly", assembly)
	if code != 0 || strings.Contains(out, "FAIL") || strings.Contains(out, "warn") {
		t.Errorf("exit %d:\n%s", code, out)
	}
	docShows(t, out)
	shows(t, out,
		"ok   API Gateway CloudWatch role: this stage's stack sets a retained role of its own (apiGatewayCloudWatchRole); the account has arn:aws:iam::123456789012:role/FleetApi-dev-",
		"ok   Lambda concurrency: the account's quota is 1000, 1000 unreserved; the stage reserves 300 (3 functions), 0 of them reserved already: 700 would stay unreserved",
		"ok   CDK bootstrap: version 27; the stack needs 6 or later",
		"ok   cost allocation tag Project: active",
		"ok   alarm subscriber: the alarms and the budget notify oncall@example.com",
	)
	// One DescribeType per resource type of the template, then the others.
	types := 0
	for types < len(calls) && calls[types] == "cloudformation.DescribeType" {
		types++
	}
	want := []string{"apigateway.GetAccount", "lambda.GetAccountSettings", "lambda.ListFunctions", "AmazonSSM.GetParameter", "AWSInsightsIndexService.ListCostAllocationTags"}
	if types < 10 || strings.Join(calls[types:], ",") != strings.Join(want, ",") {
		t.Errorf("calls %v, want DescribeType per type, then the read calls %v", calls, want)
	}
}

// A fresh account, as prod's first deploy finds it: each of what would
// fail the deploy or leave it unwatched is named with what to do.
func TestFreshAccount(t *testing.T) {
	cdkJSON, assembly := stageTable(t, []string{})
	code, out, _ := runAgainst(t, awsstandin.State{
		ConcurrentExecutions: 50, UnreservedConcurrentExecutions: 50,
		CostTags: map[string]string{"Project": "Inactive"},
	}, "-stage", "prod", "-cdk-json", cdkJSON, "-assembly", assembly)
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	docShows(t, out)
	shows(t, out,
		"FAIL alarm subscriber: no one is told of the alarms and the budget\n     → set alarmEmails (each address must confirm the subscription SNS mails it) or alarmTopicArn in cdk.json (the stage sets requireAlarmSubscriber",
		// A fresh account: the stage sets a role of its own.
		"ok   API Gateway CloudWatch role: this stage's stack sets a retained role of its own (apiGatewayCloudWatchRole); the account has none yet",
		"FAIL Lambda concurrency: the account's quota is 50, 50 unreserved; the stage reserves 300 (3 functions), 0 of them reserved already: -250 would stay unreserved",
		`request the Service Quotas increase of Lambda "Concurrent executions" to at least 400`,
		"FAIL CDK bootstrap: the environment is not bootstrapped (no /cdk-bootstrap/hnb659fds/version)",
		"warn cost allocation tag Project: inactive: the budget counts nothing of stage prod\n     → activate it in the Billing console (Cost allocation tags) of the payer account; it takes up to 24 hours",
		"warn cost allocation tag Stage: not known to Billing yet",
		"stage prod is not ready to deploy",
	)
}

// A redeploy: the stack's functions reserve already, so their
// reservations are replaced, not added: 100 unreserved of 400 is enough.
func TestRedeployKeepsItsReservations(t *testing.T) {
	cdkJSON, assembly := stageTable(t, []string{"oncall@example.com"})
	_, out, _ := runAgainst(t, awsstandin.State{
		CloudWatchRoleArn:    "arn:aws:iam::123456789012:role/FleetApi-dev-FleetApiCloudWatchRole-1A2B3C",
		ConcurrentExecutions: 400, UnreservedConcurrentExecutions: 100,
		Functions: map[string]int{
			"FleetApi-prod-FleetEventsFunctionC221D635-AbC": 100, "FleetApi-prod-FleetIngestFunction1206F197-DeF": 100,
			"FleetApi-prod-FleetVehiclesFunctionBF4866FB-GhI": 100, "billing-export": 0,
		},
		Parameters: map[string]string{bootstrapParameter: "5"},
	}, "-stage", "prod", "-cdk-json", cdkJSON, "-assembly", assembly)
	shows(t, out,
		"ok   Lambda concurrency: the account's quota is 400, 100 unreserved; the stage reserves 300 (3 functions), 300 of them reserved already: 100 would stay unreserved",
		"FAIL CDK bootstrap: version 5; the stack needs 6 or later",
	)
}

// make deploy runs the offline check: prod, which requires a subscriber,
// is refused without one; dev only warned.
func TestOfflineRefusesProdWithoutSubscriber(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"-stage", "prod", "-cdk-json", "../../cdk.json", "-offline"}, &stdout, &stderr); code != 1 || !strings.Contains(stdout.String(), "FAIL alarm subscriber") {
		t.Errorf("prod: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	stdout.Reset()
	if code := run(context.Background(), []string{"-stage", "dev", "-cdk-json", "../../cdk.json", "-offline"}, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "warn alarm subscriber") {
		t.Errorf("dev: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	if code := run(context.Background(), []string{"-stage", "qa", "-cdk-json", "../../cdk.json", "-offline"}, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), `"qa"`) {
		t.Errorf("unknown stage: exit %d, %s", code, stderr.String())
	}
}
