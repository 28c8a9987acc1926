package preflight

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/jsii-runtime-go"

	"github.com/fleetapi/fleetapi/constructs/fleetapi"
	"github.com/fleetapi/fleetapi/internal/app/stage"
	"github.com/fleetapi/fleetapi/internal/testutil/awsstandin"
)

// ReadAssembly takes from a cloud assembly what the checks need: each
// function's reservation, whether the stage logs and creates the role,
// and the bootstrap version the stack needs.
func TestReadAssembly(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("manifest.json", `{"artifacts":{"FleetApi-prod":{"type":"aws:cloudformation:stack","properties":{"templateFile":"FleetApi-prod.template.json",
		"requiresBootstrapStackVersion":6,"bootstrapStackVersionSsmParameter":"/cdk-bootstrap/hnb659fds/version"}}}}`)
	write("FleetApi-prod.template.json", `{"Resources":{
		"IngestFn":{"Type":"AWS::Lambda::Function","Properties":{"ReservedConcurrentExecutions":100}},
		"EventsFn":{"Type":"AWS::Lambda::Function","Properties":{}},
		"Stage":{"Type":"AWS::ApiGateway::Stage","Properties":{"MethodSettings":[{"LoggingLevel":"ERROR"}]}}}}`)
	s, err := ReadAssembly(dir, "FleetApi-prod")
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Reservations) != 1 || s.Reservations["IngestFn"] != 100 || !s.Logs || s.CreatesCloudWatchRole ||
		strings.Join(s.Types, ",") != "AWS::ApiGateway::Stage,AWS::Lambda::Function" ||
		s.BootstrapVersion != 6 || s.BootstrapParameter != "/cdk-bootstrap/hnb659fds/version" {
		t.Errorf("read %+v", s)
	}
	if _, err := ReadAssembly(dir, "FleetApi-dev"); err == nil || !strings.Contains(err.Error(), "make synth") {
		t.Errorf("a stack the assembly lacks: %v", err)
	}
}

// The offline check fails a stage that requires a subscriber and has
// none, warns one that does not require it, and names who is told.
func TestOffline(t *testing.T) {
	for _, tt := range []struct {
		cfg  stage.Config
		want Status
		says string
	}{
		{stage.Config{Name: "prod", RequireAlarmSubscriber: true}, Fail, "requireAlarmSubscriber"},
		{stage.Config{Name: "dev"}, Warn, "set alarmEmails"},
		{stage.Config{Name: "prod", RequireAlarmSubscriber: true, Props: fleetapi.FleetApiProps{AlarmEmails: jsii.Strings("oncall@example.com")}}, OK, "oncall@example.com"},
		{stage.Config{Name: "prod", RequireAlarmSubscriber: true, AlarmTopicArn: "arn:aws:sns:eu-west-1:123456789012:pager"}, OK, "pager"},
	} {
		r := Offline(tt.cfg)
		if len(r) != 1 || r[0].Status != tt.want || !strings.Contains(r[0].String(), tt.says) {
			t.Errorf("%+v: %v, want %s saying %q", tt.cfg, r, tt.want, tt.says)
		}
	}
}

// statusOf is the status of the named check, "" when it did not run.
func statusOf(results []Result, check string) Status {
	for _, r := range results {
		if r.Check == check {
			return r.Status
		}
	}
	return ""
}

// Run's account checks, against a local stand-in of the AWS APIs (their
// wire protocols): each finds what would fail a deploy, and a call the
// credentials may not make is a warning, not a pass.
func TestRun(t *testing.T) {
	stack := Stack{Name: "FleetApi-prod", Reservations: map[string]int{"A": 100, "B": 100, "C": 100}, Logs: true, CreatesCloudWatchRole: true,
		BootstrapVersion: 6, BootstrapParameter: "/cdk-bootstrap/hnb659fds/version",
		Types: []string{"AWS::IoT::RoleAlias", "AWS::Lambda::Function", "Custom::SyntheticVehicleCertificate"}}
	cfg := stage.Config{Name: "prod", Props: fleetapi.FleetApiProps{AlarmEmails: jsii.Strings("oncall@example.com")}}
	for _, tt := range []struct {
		name  string
		state awsstandin.State
		want  map[string]Status
	}{
		{"ready", awsstandin.State{CloudWatchRoleArn: "arn:aws:iam::123456789012:role/FleetApi-dev-CloudWatchRole-1",
			ConcurrentExecutions: 1000, UnreservedConcurrentExecutions: 1000,
			Parameters: map[string]string{stack.BootstrapParameter: "27"}, CostTags: map[string]string{"Project": "Active", "Stage": "Active"}},
			map[string]Status{"API Gateway CloudWatch role": OK, "Lambda concurrency": OK, "CDK bootstrap": OK, "cost allocation tag Project": OK, "cost allocation tag Stage": OK}},
		{"fresh", awsstandin.State{ConcurrentExecutions: 50, UnreservedConcurrentExecutions: 50, CostTags: map[string]string{"Project": "Inactive"}},
			map[string]Status{"API Gateway CloudWatch role": OK, "Lambda concurrency": Fail, "CDK bootstrap": Fail, "cost allocation tag Project": Warn, "cost allocation tag Stage": Warn}},
		{"redeploy", awsstandin.State{CloudWatchRoleArn: "arn:aws:iam::123456789012:role/r", ConcurrentExecutions: 400, UnreservedConcurrentExecutions: 100,
			Functions:  map[string]int{"FleetApi-prod-A-1": 100, "FleetApi-prod-B-2": 100, "FleetApi-prod-C-3": 100, "other": 50},
			Parameters: map[string]string{stack.BootstrapParameter: "5"}},
			map[string]Status{"Lambda concurrency": OK, "CDK bootstrap": Fail}},
		{"old bootstrap value", awsstandin.State{Parameters: map[string]string{stack.BootstrapParameter: "v27"}},
			map[string]Status{"CDK bootstrap": Fail}},
		// ap-southeast-4, say: no role alias.
		{"a Region without a type", awsstandin.State{MissingTypes: []string{"AWS::IoT::RoleAlias"}},
			map[string]Status{"resource types": Fail}},
	} {
		standin := awsstandin.Start(tt.state)
		clients := NewClients(aws.Config{Region: "eu-central-1", BaseEndpoint: aws.String(standin.URL),
			Credentials: credentials.NewStaticCredentialsProvider("AKIDSTANDIN", "standin", "")})
		results := Run(context.Background(), clients, cfg, stack)
		standin.Close()
		if tt.name == "ready" && statusOf(results, "resource types") != OK {
			t.Errorf("ready: resource types %v", results)
		}
		for check, want := range tt.want {
			if got := statusOf(results, check); got != want {
				t.Errorf("%s: %s is %q, want %q\n%v", tt.name, check, got, want, results)
			}
		}
		if Failed(results) != (tt.name != "ready") {
			t.Errorf("%s: Failed is %v", tt.name, Failed(results))
		}
	}
}

// A stand-in that answers every call with an error: each check says it
// cannot read, a warning, and names the call to allow.
func TestRunWithoutPermissions(t *testing.T) {
	clients := NewClients(aws.Config{Region: "eu-central-1", BaseEndpoint: aws.String("http://127.0.0.1:1"),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDSTANDIN", "standin", ""), RetryMaxAttempts: 1})
	stack := Stack{Name: "FleetApi-prod", Reservations: map[string]int{"A": 1}, Logs: true, BootstrapParameter: "/p", BootstrapVersion: 6, Types: []string{"AWS::Lambda::Function"}}
	results := Run(context.Background(), clients, stage.Config{Name: "prod", Props: fleetapi.FleetApiProps{AlarmEmails: jsii.Strings("a@example.com")}}, stack)
	for _, r := range results[1:] {
		if r.Status != Warn || !strings.Contains(r.ToDo, "credentials that may call") {
			t.Errorf("%v: want a warning naming the call", r)
		}
	}
}

// A stage that logs needs the account's CloudWatch role: one of its own
// (every stage here) is always there; without, the account's must be, and
// stays only as long as its owner keeps it.
func TestCloudWatchRole(t *testing.T) {
	for _, tt := range []struct {
		name         string
		stack        Stack
		accountsRole string
		want         Status
	}{
		{"its own, fresh account", Stack{Name: "FleetApi-prod", Logs: true, CreatesCloudWatchRole: true}, "", OK},
		{"its own, the account's set by another stage", Stack{Name: "FleetApi-prod", Logs: true, CreatesCloudWatchRole: true}, "arn:aws:iam::123456789012:role/FleetApi-dev-CW", OK},
		{"none of its own, the account's", Stack{Name: "FleetApi-prod", Logs: true}, "arn:aws:iam::123456789012:role/FleetApi-dev-CW", Warn},
		{"none at all", Stack{Name: "FleetApi-prod", Logs: true}, "", Fail},
		{"no logging", Stack{Name: "FleetApi-prod"}, "", OK},
	} {
		standin := awsstandin.Start(awsstandin.State{CloudWatchRoleArn: tt.accountsRole})
		clients := NewClients(aws.Config{Region: "eu-central-1", BaseEndpoint: aws.String(standin.URL),
			Credentials: credentials.NewStaticCredentialsProvider("AKIDSTANDIN", "standin", "")})
		r := cloudWatchRole(context.Background(), clients, stage.Config{Name: "prod"}, tt.stack)
		standin.Close()
		if r.Status != tt.want {
			t.Errorf("%s: %v, want %s", tt.name, r, tt.want)
		}
	}
}

// The types check names each type the Region lacks, asks for AWS types
// only (a custom resource is the stack's own), and says when it cannot ask.
func TestResourceTypes(t *testing.T) {
	standin := awsstandin.Start(awsstandin.State{MissingTypes: []string{"AWS::IoT::RoleAlias", "AWS::Budgets::Budget"}})
	defer standin.Close()
	clients := NewClients(aws.Config{Region: "ap-southeast-4", BaseEndpoint: aws.String(standin.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDSTANDIN", "standin", "")})
	r := resourceTypes(context.Background(), clients, Stack{Types: []string{"AWS::Budgets::Budget", "AWS::IoT::RoleAlias", "AWS::Lambda::Function", "Custom::Mine"}})
	if r.Status != Fail || !strings.Contains(r.Found, "lacks AWS::Budgets::Budget, AWS::IoT::RoleAlias of the 3 types") {
		t.Errorf("%v", r)
	}
	if calls := standin.Calls(); len(calls) != 3 {
		t.Errorf("calls %v, want one DescribeType per AWS type", calls)
	}
	clients.CloudFormation = NewClients(aws.Config{Region: "eu-west-1", BaseEndpoint: aws.String("http://127.0.0.1:1"), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider("AKIDSTANDIN", "standin", "")}).CloudFormation
	if r := resourceTypes(context.Background(), clients, Stack{Types: []string{"AWS::Lambda::Function"}}); r.Status != Warn || !strings.Contains(r.ToDo, "cloudformation:DescribeType") {
		t.Errorf("unreachable: %v", r)
	}
}
