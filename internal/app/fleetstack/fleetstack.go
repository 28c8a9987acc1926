// Package fleetstack builds the deployable FleetApi stack of one stage: the
// FleetApi construct configured from the stage table, plus stack-level
// settings (name, termination protection, cost allocation tags).
package fleetstack

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/fleetapi/fleetapi/constructs/fleetapi"
	"github.com/fleetapi/fleetapi/internal/app/stage"
)

// Project is the value of the Project cost allocation tag.
const Project = stage.Project

// ConstructID of the FleetApi construct inside the stack: part of every
// logical ID, so it must never change.
const ConstructID = "Fleet"

// WarningNoAlarmSubscriber is the ID of the synthesis warning of a stage
// whose alarms notify no one (stage.Config.NoAlarmSubscriber).
const WarningNoAlarmSubscriber = "fleetapi:stageWithoutAlarmSubscriber"

// StackName returns the CloudFormation stack name of a stage, e.g. FleetApi-prod.
func StackName(stageName string) string { return Project + "-" + stageName }

// FromContext reads the stage named by the "stage" context key (default dev)
// from the "stages" table in app's context and builds its stack.
func FromContext(app awscdk.App) (awscdk.Stack, error) {
	node := app.Node()
	cfg, err := stage.Select(node.TryGetContext(jsii.String(stage.ContextKeyStages)), node.TryGetContext(jsii.String(stage.ContextKeyStage)))
	if err != nil {
		return nil, err
	}
	return New(app, cfg)
}

// New builds the stack of the stage cfg, which stage.Decode checked (the
// construct's rules, named by the stage's settings).
func New(scope constructs.Construct, cfg stage.Config) (awscdk.Stack, error) {
	props := cfg.Props
	name := StackName(cfg.Name)
	tags := cfg.CostTags()
	stackTags := make(map[string]*string, len(tags))
	for key, value := range tags {
		stackTags[key] = jsii.String(value)
	}
	var env *awscdk.Environment
	if cfg.Account != "" || cfg.Region != "" {
		// An environment-bound stack: deploys only with credentials of that
		// account, and knows its Region at synthesis.
		env = &awscdk.Environment{Account: optional(cfg.Account), Region: optional(cfg.Region)}
	}
	stack := awscdk.NewStack(scope, jsii.String(name), &awscdk.StackProps{
		Env:                   env,
		StackName:             jsii.String(name),
		Description:           jsii.String(fmt.Sprintf("FleetApi vehicle-telemetry API, stage %s", cfg.Name)),
		TerminationProtection: props.DeletionProtection,
		// Stack tags: CloudFormation also puts them on resources it creates.
		Tags: &stackTags,
	})
	// Resource tags, in the template itself, on every taggable resource.
	for key, value := range tags {
		awscdk.Tags_Of(stack).Add(jsii.String(key), jsii.String(value), nil)
	}

	if cfg.AlarmTopicArn != "" {
		props.AlarmTopic = awssns.Topic_FromTopicArn(stack, jsii.String("AlarmTopic"), jsii.String(cfg.AlarmTopicArn))
	}
	api := fleetapi.NewFleetApi(stack, ConstructID, &props)
	if err := cfg.NoAlarmSubscriber(); err != nil {
		// The construct's warning names its props; this one the stage's settings.
		awscdk.Annotations_Of(stack).AcknowledgeWarning(jsii.String(fleetapi.WarningNoAlarmSubscriber), jsii.String("named by its stage settings"))
		msg := err.Error()
		if cfg.RequireAlarmSubscriber {
			msg += " (requireAlarmSubscriber: make deploy and make preflight refuse it)"
		}
		awscdk.Annotations_Of(stack).AddWarningV2(jsii.String(WarningNoAlarmSubscriber), jsii.String(msg), nil)
	}
	awscdk.NewCfnOutput(stack, jsii.String("ApiUrl"), &awscdk.CfnOutputProps{
		Description: jsii.String("URL of the FleetApi stage"),
		Value:       api.Url(),
	})
	// What registration (docs/vehicle-registration.md) and the callers need.
	output := func(id, description string, value *string) {
		awscdk.NewCfnOutput(stack, jsii.String(id), &awscdk.CfnOutputProps{Description: jsii.String(description), Value: value})
	}
	output("VehicleRoleArn", "Role vehicles call the API in, one session per vehicle (session name and tag vid: its thing name)", api.VehicleRole().RoleArn())
	output("FleetReadRoleArn", "Role that reads every vehicle and its events", api.FleetReadRole().RoleArn())
	output("FleetAdminRoleArn", "Role that registers and updates vehicles", api.FleetAdminRole().RoleArn())
	// What another stack needs to import the API (fleetapi.FleetApiAttributes).
	output("RestApiId", "ID of the REST API", api.RestApi().RestApiId())
	output("RestApiName", "Name of the REST API: the ApiName dimension of its metrics", api.RestApi().RestApiName())
	output("StageName", "Name of the API's stage", api.RestApi().DeploymentStage().StageName())
	for id, fn := range map[string]awslambda.IFunction{"VehiclesFunctionName": api.VehiclesFunction(), "EventsFunctionName": api.EventsFunction(), "IngestFunctionName": api.IngestFunction()} {
		output(id, "Name of a function of the API: the dimension of its metrics", fn.FunctionName())
	}
	if b := api.Budget(); b != nil {
		output("BudgetName", "Name AWS Budgets gave the stage's budget", b.Ref())
	}
	output("DashboardName", "Name of the stage's CloudWatch dashboard", api.Dashboard().DashboardName())
	if topic := api.UploadTopic(); topic != "" {
		output("UploadTopic", "Topic a vehicle publishes its uploads to over MQTT, ${VID} its thing name (AWS IoT Core Basic Ingest)", jsii.String(topic))
		output("UploadFailureQueueUrl", "Queue of MQTT uploads that could not be stored: redrive it", api.UploadFailures().QueueUrl())
	}
	if alias := api.VehicleRoleAlias(); alias != nil {
		output("VehicleRoleAlias", "AWS IoT role alias vehicles get credentials through", alias.Ref())
		output("VehicleCertificatePolicy", "AWS IoT policy to attach to each vehicle certificate", api.VehicleCertificatePolicy().Ref())
	}
	if db := api.HistoryDatabaseName(); db != nil {
		output("HistoryBucket", "Bucket of the fleet's history (Parquet under samples/)", api.HistoryBucket().BucketName())
		output("HistoryDatabase", "Glue database of the history's table", db)
		output("HistoryTable", "Table of the history, a row per signal of a sample (docs/history.md)", api.HistoryTableName())
		output("HistoryWorkGroup", "Athena workgroup to query the history with, and its example queries", api.HistoryWorkGroupName())
		output("HistoryFailureQueueUrl", "Queue of what the history writer could not write", api.HistoryFailures().QueueUrl())
	}
	return stack, nil
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return jsii.String(s)
}
