// Command consumer is another team's CDK app that composes the FleetApi
// construct into its own stack and lets its own reporting function read
// the events through the API (the tables' items are FleetApi's own
// format, not a contract). It is built and synthesized by the FleetApi
// tests.
package main

import (
	"fmt"
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/jsii-runtime-go"

	"github.com/fleetapi/fleetapi/constructs/fleetapi"
)

func main() {
	defer jsii.Close()
	app := awscdk.NewApp(nil)
	stack := awscdk.NewStack(app, jsii.String("Telemetry"), nil)

	api := fleetapi.NewFleetApi(stack, "Fleet", &fleetapi.FleetApiProps{
		RemovalPolicy:  awscdk.RemovalPolicy_RETAIN,
		EventRetention: awscdk.Duration_Days(jsii.Number(30)),
	})
	// The construct leaves API Gateway's account-wide CloudWatch role to one
	// stack of the account, and warns; this account has it already.
	awscdk.Annotations_Of(stack).AcknowledgeWarning(jsii.String(fleetapi.WarningNoCloudWatchRole),
		jsii.String("the platform stack of this account creates API Gateway's CloudWatch role"))

	report := awslambda.NewFunction(stack, jsii.String("DailyReport"), &awslambda.FunctionProps{
		Runtime: awslambda.Runtime_PYTHON_3_13(),
		Handler: jsii.String("index.handler"),
		Code:    awslambda.Code_FromInline(jsii.String("def handler(event, context):\n    return None\n")),
		Environment: &map[string]*string{
			"FLEETAPI_URL": api.Url(),
		},
	})
	// Every call of the API is signed with the function's role: the
	// report may list and read events, through the API only.
	api.GrantInvoke(report, "listEvents", "getEvent")

	awscdk.NewCfnOutput(stack, jsii.String("FleetApiUrl"), &awscdk.CfnOutputProps{Value: api.Url()})
	if app.Synth(nil) == nil {
		fmt.Fprintln(os.Stderr, "synthesis failed")
		os.Exit(1)
	}
}
