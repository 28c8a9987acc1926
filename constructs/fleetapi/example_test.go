package fleetapi_test

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/jsii-runtime-go"

	"github.com/fleetapi/fleetapi/constructs/fleetapi"
)

// A stack of your own with the API in it: events kept 30 days, vehicles
// signing in with their certificates, critical alarms paging.
func ExampleNewFleetApi() {
	app := awscdk.NewApp(nil)
	stack := awscdk.NewStack(app, jsii.String("Telemetry"), nil)
	pager := awssns.NewTopic(stack, jsii.String("Pager"), nil)
	api := fleetapi.NewFleetApi(stack, "Fleet", &fleetapi.FleetApiProps{
		EventRetention:     awscdk.Duration_Days(jsii.Number(30)),
		VehicleCredentials: jsii.Bool(true),
		CloudWatchRole:     jsii.Bool(true),
	})
	api.AddAlarmAction(fleetapi.SeverityCritical, awscloudwatchactions.NewSnsAction(pager))
	awscdk.NewCfnOutput(stack, jsii.String("Url"), &awscdk.CfnOutputProps{Value: api.Url()})

	tmpl := assertions.Template_FromStack(stack, nil)
	fmt.Println("tables:", len(*tmpl.FindResources(jsii.String("AWS::DynamoDB::Table"), nil)))
	fmt.Println("critical alarms:", len(api.AlarmsOf(fleetapi.SeverityCritical)))
	// Output:
	// tables: 3
	// critical alarms: 8
}

// A backend's role may call the event reads, on every vehicle; the
// functions are told, and refuse anything else it tries.
func ExampleFleetApi_GrantInvoke() {
	stack := awscdk.NewStack(awscdk.NewApp(nil), jsii.String("Telemetry"), nil)
	api := fleetapi.NewFleetApi(stack, "Fleet", nil)
	awscdk.Annotations_Of(stack).AcknowledgeWarning(jsii.String(fleetapi.WarningNoCloudWatchRole), jsii.String("the account has the role"))
	reports := awsiam.NewRole(stack, jsii.String("Reports"), &awsiam.RoleProps{AssumedBy: awsiam.NewAccountRootPrincipal()})
	api.GrantInvoke(reports, "listEvents", "getEvent")

	tmpl := assertions.Template_FromStack(stack, nil)
	for _, p := range *tmpl.FindResources(jsii.String("AWS::IAM::Policy"), &map[string]any{"Properties": map[string]any{
		"Roles": []any{map[string]any{"Ref": assertions.Match_StringLikeRegexp(jsii.String("Reports.*"))}}}}) {
		st := (*p)["Properties"].(map[string]any)["PolicyDocument"].(map[string]any)["Statement"].([]any)[0].(map[string]any)
		fmt.Println(st["Action"], len(st["Resource"].([]any)), "resources")
	}
	// Output:
	// execute-api:Invoke 2 resources
}

// A stack that does not create the API imports it by the outputs of the
// stack that does, grants a role through the fleet-read role, and alarms
// on the API's errors.
func Example_importByAttributes() {
	stack := awscdk.NewStack(awscdk.NewApp(nil), jsii.String("Reports"), &awscdk.StackProps{
		Env: &awscdk.Environment{Account: jsii.String("111122223333"), Region: jsii.String("eu-west-1")}})
	api := fleetapi.FleetApi_FromFleetApiAttributes(stack, "Fleet", &fleetapi.FleetApiAttributes{
		RestApiId: jsii.String("a1b2c3d4e5"), RestApiName: jsii.String("FleetApi-prod"), StageName: jsii.String("prod"),
		FleetReadRoleArn:  jsii.String("arn:aws:iam::111122223333:role/fleet-read"),
		FleetAdminRoleArn: jsii.String("arn:aws:iam::111122223333:role/fleet-admin"),
		FunctionNames:     &map[string]*string{"vehicles": jsii.String("v"), "events": jsii.String("e"), "ingest": jsii.String("i")},
	})
	reports := awsiam.NewRole(stack, jsii.String("Reports"), &awsiam.RoleProps{AssumedBy: awsiam.NewAccountRootPrincipal()})
	api.GrantFleetRead(reports)
	awscloudwatch.NewAlarm(stack, jsii.String("FleetErrors"), &awscloudwatch.AlarmProps{
		Metric: api.MetricApiServerErrors(nil), Threshold: jsii.Number(1), EvaluationPeriods: jsii.Number(1)})
	awscdk.NewCfnOutput(stack, jsii.String("FleetUrl"), &awscdk.CfnOutputProps{Value: api.Url()})

	tmpl := assertions.Template_FromStack(stack, nil)
	for _, p := range *tmpl.FindResources(jsii.String("AWS::IAM::Policy"), nil) {
		st := (*p)["Properties"].(map[string]any)["PolicyDocument"].(map[string]any)["Statement"].([]any)[0].(map[string]any)
		fmt.Println(st["Action"], st["Resource"])
	}
	// Output:
	// sts:AssumeRole arn:aws:iam::111122223333:role/fleet-read
}
