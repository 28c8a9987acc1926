package fleetapi_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/jsii-runtime-go"

	"github.com/fleetapi/fleetapi/constructs/fleetapi"
	"github.com/fleetapi/fleetapi/internal/testutil/cdktest"
)

// Another team's app, with a stack of its own, imports a deployed FleetApi
// by the outputs of its stack, grants its functions by caller class and by
// operation, and alarms on the API's metrics.
func TestImportByAttributes(t *testing.T) {
	app := awscdk.NewApp(nil)
	stack := awscdk.NewStack(app, jsii.String("Reports"), &awscdk.StackProps{Env: &awscdk.Environment{Account: jsii.String("111122223333"), Region: jsii.String("eu-west-1")}})
	readRole := "arn:aws:iam::111122223333:role/FleetApi-prod-FleetFleetReadRole-AAAA"
	adminRole := "arn:aws:iam::111122223333:role/FleetApi-prod-FleetFleetAdminRole-BBBB"
	var api fleetapi.IFleetApi = fleetapi.FleetApi_FromFleetApiAttributes(stack, "Fleet", &fleetapi.FleetApiAttributes{
		RestApiId: jsii.String("a1b2c3d4e5"), RestApiName: jsii.String("FleetApi-prod"), StageName: jsii.String("prod"),
		FleetReadRoleArn: jsii.String(readRole), FleetAdminRoleArn: jsii.String(adminRole),
		FunctionNames: &map[string]*string{"vehicles": jsii.String("fn-vehicles"), "events": jsii.String("fn-events"), "ingest": jsii.String("fn-ingest")},
	})
	function := func(id string) awslambda.Function {
		return awslambda.NewFunction(stack, jsii.String(id), &awslambda.FunctionProps{
			Runtime: awslambda.Runtime_PYTHON_3_13(), Handler: jsii.String("index.handler"),
			Code: awslambda.Code_FromInline(jsii.String("def handler(event, context):\n    return None\n")),
		})
	}
	api.GrantFleetRead(function("Report"))
	api.GrantInvoke(function("Registrar"), "createVehicle", "updateVehicle")
	api.GrantInvoke(function("Backfill"), "getEvent")
	for id, m := range map[string]awscloudwatch.IMetric{"ServerErrors": api.MetricApiServerErrors(nil), "Refused": api.MetricAccessRefused(nil), "Uploads": api.MetricUploads(nil), "Samples": api.MetricSamplesIngested(nil)} {
		awscloudwatch.NewAlarm(stack, jsii.String(id), &awscloudwatch.AlarmProps{Metric: m, Threshold: jsii.Number(1), EvaluationPeriods: jsii.Number(1)})
	}
	awscdk.NewCfnOutput(stack, jsii.String("Url"), &awscdk.CfnOutputProps{Value: api.Url()})
	tmpl := assertions.Template_FromStack(stack, nil)

	assume := func(role, roleArn string) {
		cdktest.Check(t, role+" assumes "+roleArn, func() {
			tmpl.HasResourceProperties(jsii.String("AWS::IAM::Policy"), map[string]any{
				"Roles": []any{map[string]any{"Ref": assertions.Match_StringLikeRegexp(jsii.String(role + "ServiceRole.*"))}},
				"PolicyDocument": map[string]any{"Statement": []any{map[string]any{
					"Action": "sts:AssumeRole", "Effect": "Allow", "Resource": roleArn,
				}}},
			})
		})
	}
	// By class: the class's role; by operation: the role of the class
	// that may call it (the deploying stack's functions know those roles,
	// and only the principals that stack granted).
	assume("Report", readRole)
	assume("Registrar", adminRole)
	assume("Backfill", readRole)
	cdktest.Check(t, "no execute-api grant of its own", func() {
		for _, p := range *tmpl.FindResources(jsii.String("AWS::IAM::Policy"), nil) {
			if b, _ := json.Marshal(p); strings.Contains(string(b), "execute-api") {
				t.Errorf("an imported grant of execute-api:Invoke, which the functions would refuse: %s", b)
			}
		}
	})
	cdktest.Check(t, "the API's metrics", func() {
		tmpl.HasResourceProperties(jsii.String("AWS::CloudWatch::Alarm"), map[string]any{
			"Namespace": "AWS/ApiGateway", "MetricName": "5XXError",
			"Dimensions": []any{map[string]any{"Name": "ApiName", "Value": "FleetApi-prod"}, map[string]any{"Name": "Stage", "Value": "prod"}},
		})
		tmpl.HasResourceProperties(jsii.String("AWS::CloudWatch::Alarm"), map[string]any{
			"Namespace": "AWS/ApiGateway", "MetricName": "Count",
			"Dimensions": assertions.Match_ArrayWith(&[]any{map[string]any{"Name": "Method", "Value": "POST"}, map[string]any{"Name": "Resource", "Value": "/vehicles/{vid}/events"}}),
		})
		tmpl.HasResourceProperties(jsii.String("AWS::CloudWatch::Alarm"), map[string]any{
			"Namespace": "FleetApi", "MetricName": "SamplesIngested", "Dimensions": []any{map[string]any{"Name": "FunctionName", "Value": "fn-ingest"}},
		})
		tmpl.HasResourceProperties(jsii.String("AWS::CloudWatch::Alarm"), map[string]any{
			"Metrics": assertions.Match_ArrayWith(&[]any{assertions.Match_ObjectLike(&map[string]any{"Expression": "FILL(events, 0) + FILL(ingest, 0) + FILL(vehicles, 0)"})}),
		})
	})
	tmpl.HasOutput(jsii.String("Url"), map[string]any{"Value": assertions.Match_AnyValue()})
	url := tmpl.ToJSON()
	if b, _ := json.Marshal(url); !strings.Contains(string(b), "https://a1b2c3d4e5.execute-api.eu-west-1.") || !strings.Contains(string(b), "/prod/") {
		t.Errorf("the URL output is not the stage's: %s", b)
	}
}

// An imported FleetApi refuses what the defined one refuses: an unknown
// operation, one only vehicles call, a missing attribute.
func TestImportRefuses(t *testing.T) {
	attrs := func() *fleetapi.FleetApiAttributes {
		return &fleetapi.FleetApiAttributes{RestApiId: jsii.String("a"), RestApiName: jsii.String("n"), StageName: jsii.String("prod"),
			FleetReadRoleArn: jsii.String("arn:aws:iam::111122223333:role/r"), FleetAdminRoleArn: jsii.String("arn:aws:iam::111122223333:role/a"),
			FunctionNames: &map[string]*string{"vehicles": jsii.String("v"), "events": jsii.String("e"), "ingest": jsii.String("i")}}
	}
	for name, tt := range map[string]struct {
		edit func(*fleetapi.FleetApiAttributes)
		ops  []string
		want string
	}{
		"unknown operation":  {nil, []string{"deleteVehicle"}, `unknown operation "deleteVehicle": known operations are createEvent`},
		"vehicles only":      {nil, []string{"createEvent"}, "operation createEvent is called by vehicles only"},
		"no stage name":      {func(a *fleetapi.FleetApiAttributes) { a.StageName = nil }, nil, "StageName is required"},
		"no function names":  {func(a *fleetapi.FleetApiAttributes) { a.FunctionNames = nil }, nil, "FunctionNames needs events, ingest, vehicles"},
		"no fleet-read role": {func(a *fleetapi.FleetApiAttributes) { a.FleetReadRoleArn = jsii.String("") }, nil, "FleetReadRoleArn is required"},
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if r := recover(); r == nil || !strings.Contains(r.(error).Error(), tt.want) {
					t.Errorf("panic %v, want %q", r, tt.want)
				}
			}()
			stack := awscdk.NewStack(awscdk.NewApp(nil), jsii.String("S"), nil)
			a := attrs()
			if tt.edit != nil {
				tt.edit(a)
			}
			api := fleetapi.FleetApi_FromFleetApiAttributes(stack, "Fleet", a)
			api.GrantInvoke(awsiam.NewRole(stack, jsii.String("R"), &awsiam.RoleProps{AssumedBy: awsiam.NewAccountRootPrincipal()}), tt.ops...)
		})
	}
}
