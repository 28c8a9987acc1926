// Package fleetstack builds the deployable FleetApi stack of one stage: the
// FleetApi construct configured from the stage table, plus stack-level
// settings (name, termination protection, cost allocation tags).
package fleetstack

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/fleetapi/fleetapi/constructs/fleetapi"
	"github.com/fleetapi/fleetapi/internal/app/stage"
)

// Project is the value of the Project cost allocation tag.
const Project = "FleetApi"

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

// New builds the stack of the stage cfg. The construct checks the values
// (Validate): an error names the stage's setting, as cdk.json does.
func New(scope constructs.Construct, cfg stage.Config) (awscdk.Stack, error) {
	props := Props(cfg)
	if err := Validate(cfg, props); err != nil {
		return nil, err
	}
	name := StackName(cfg.Name)
	tags := CostTags(cfg)
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
		TerminationProtection: jsii.Bool(cfg.DeletionProtection),
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
	api := fleetapi.NewFleetApi(stack, ConstructID, props)
	if !cfg.ApiGatewayCloudWatchRole {
		// The stage table makes one stage of every account and Region
		// create the role; deploy that one there first.
		awscdk.Annotations_Of(stack).AcknowledgeWarning(jsii.String(fleetapi.WarningNoCloudWatchRole),
			jsii.String(fmt.Sprintf("stage %s creates the API Gateway CloudWatch role of this account and Region; make preflight checks that the account has it", cfg.CloudWatchRoleOwner)))
	}
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
	return stack, nil
}

// Props maps a stage to the construct's props; Validate checks them.
func Props(cfg stage.Config) *fleetapi.FleetApiProps {
	var reserved *float64
	if cfg.LambdaReservedConcurrency > 0 { // 0 in cdk.json: no reservation
		reserved = jsii.Number(cfg.LambdaReservedConcurrency)
	}
	return &fleetapi.FleetApiProps{
		RemovalPolicy:                removalPolicy(cfg.RemovalPolicy),
		DeletionProtection:           jsii.Bool(cfg.DeletionProtection),
		PointInTimeRecovery:          jsii.Bool(cfg.PointInTimeRecovery),
		EventsTableClass:             tableClass(cfg.EventsTableClass),
		EventRetention:               awscdk.Duration_Days(jsii.Number(cfg.EventRetentionDays)),
		MemorySize:                   jsii.Number(cfg.LambdaMemoryMiB),
		Timeout:                      awscdk.Duration_Seconds(jsii.Number(cfg.LambdaTimeoutSeconds)),
		ReservedConcurrentExecutions: reserved,
		LogRetention:                 logRetention[cfg.LogRetentionDays],
		ApiStageName:                 jsii.String(cfg.Name),
		ThrottlingRateLimit:          jsii.Number(cfg.ApiThrottleRateLimit),
		ThrottlingBurstLimit:         jsii.Number(cfg.ApiThrottleBurstLimit),
		CloudWatchRole:               jsii.Bool(cfg.ApiGatewayCloudWatchRole),
		VehicleCredentials:           jsii.Bool(cfg.VehicleCredentials),
		MqttUploads:                  jsii.Bool(cfg.MqttUploads),
		MaxReadRequestUnits:          jsii.Number(cfg.TableMaxReadRequestUnits),
		MaxWriteRequestUnits:         jsii.Number(cfg.TableMaxWriteRequestUnits),
		AlarmEmails:                  jsii.Strings(cfg.AlarmEmails...),
		AlarmThresholds:              alarmThresholds(cfg.AlarmThresholds),
		AlarmSeverities:              alarmSeverities(cfg.AlarmSeverities),
		ServiceLevelObjectives: &fleetapi.ServiceLevelObjectives{
			Uploads: objective(cfg.ServiceLevelObjectives.Uploads),
			Reads:   objective(cfg.ServiceLevelObjectives.Reads),
		},
		MonthlyBudgetUsd: jsii.Number(cfg.MonthlyBudgetUsd),
		// The stage's own costs: this project's, in this stage.
		BudgetCostTags: &map[string]*string{"Project": jsii.String(Project), "Stage": jsii.String(cfg.Name)},
	}
}

// settings maps the props to the stage settings they come from, so that
// an invalid value is named as cdk.json names it.
var settings = map[string]string{
	"removalPolicy":                "removalPolicy",
	"deletionProtection":           "deletionProtection",
	"eventRetention":               "eventRetentionDays",
	"memorySize":                   "lambdaMemoryMiB",
	"timeout":                      "lambdaTimeoutSeconds",
	"reservedConcurrentExecutions": "lambdaReservedConcurrency",
	"throttlingRateLimit":          "apiThrottleRateLimit",
	"throttlingBurstLimit":         "apiThrottleBurstLimit",
	"maxReadRequestUnits":          "tableMaxReadRequestUnits",
	"maxWriteRequestUnits":         "tableMaxWriteRequestUnits",
	"alarmEmails":                  "alarmEmails",
	"monthlyBudgetUsd":             "monthlyBudgetUsd",
	"alarmThresholds.period":       "alarmThresholds.periodMinutes",
}

// Validate checks a stage's props with the construct (the one place that
// knows the limits) and names a bad value by its stage setting.
func Validate(cfg stage.Config, props *fleetapi.FleetApiProps) error {
	if _, ok := logRetention[cfg.LogRetentionDays]; !ok {
		days := slices.Sorted(maps.Keys(logRetention))
		allowed := make([]string, len(days))
		for i, d := range days {
			allowed[i] = strconv.Itoa(d)
		}
		return fmt.Errorf("stage %q: %w", cfg.Name, &fleetapi.PropError{Prop: "logRetentionDays", Value: cfg.LogRetentionDays,
			Allowed: "allowed values are " + strings.Join(allowed, ", ") + " (CloudWatch Logs' retention periods)"})
	}
	err := props.Validate()
	var pe *fleetapi.PropError
	if !errors.As(err, &pe) {
		return err
	}
	setting := settings[pe.Prop]
	if setting == "" {
		setting = pe.Prop // alarmThresholds.*, serviceLevelObjectives.*: the same names
	}
	return fmt.Errorf("stage %q: %w", cfg.Name, &fleetapi.PropError{Prop: setting, Value: pe.Value, Allowed: pe.Allowed})
}

// CostTags returns the cost allocation tags put on the stack of a stage and
// on every taggable resource in it.
func CostTags(cfg stage.Config) map[string]string {
	return map[string]string{
		"Project":    Project,
		"Stage":      cfg.Name,
		"CostCenter": cfg.CostCenter,
		"Owner":      cfg.Owner,
	}
}

// logRetention maps the days CloudWatch Logs accepts to the CDK's names
// for them: the allowed values of logRetentionDays.
var logRetention = map[int]awslogs.RetentionDays{
	1: awslogs.RetentionDays_ONE_DAY, 3: awslogs.RetentionDays_THREE_DAYS, 5: awslogs.RetentionDays_FIVE_DAYS,
	7: awslogs.RetentionDays_ONE_WEEK, 14: awslogs.RetentionDays_TWO_WEEKS, 30: awslogs.RetentionDays_ONE_MONTH,
	60: awslogs.RetentionDays_TWO_MONTHS, 90: awslogs.RetentionDays_THREE_MONTHS, 120: awslogs.RetentionDays_FOUR_MONTHS,
	150: awslogs.RetentionDays_FIVE_MONTHS, 180: awslogs.RetentionDays_SIX_MONTHS, 365: awslogs.RetentionDays_ONE_YEAR,
	400: awslogs.RetentionDays_THIRTEEN_MONTHS, 545: awslogs.RetentionDays_EIGHTEEN_MONTHS, 731: awslogs.RetentionDays_TWO_YEARS,
	1096: awslogs.RetentionDays_THREE_YEARS, 1827: awslogs.RetentionDays_FIVE_YEARS, 2192: awslogs.RetentionDays_SIX_YEARS,
	2557: awslogs.RetentionDays_SEVEN_YEARS, 2922: awslogs.RetentionDays_EIGHT_YEARS, 3288: awslogs.RetentionDays_NINE_YEARS,
	3653: awslogs.RetentionDays_TEN_YEARS,
}

// alarmThresholds maps the stage's alarm settings to the construct's; an
// unset one stays nil and takes the construct's default.
func alarmThresholds(a stage.AlarmThresholds) *fleetapi.AlarmThresholds {
	num := func(v *int) *float64 {
		if v == nil {
			return nil
		}
		return jsii.Number(*v)
	}
	t := &fleetapi.AlarmThresholds{
		EvaluationPeriods:          num(a.EvaluationPeriods),
		DatapointsToAlarm:          num(a.DatapointsToAlarm),
		FunctionErrors:             num(a.FunctionErrors),
		FunctionThrottles:          num(a.FunctionThrottles),
		FunctionDurationP99Percent: a.FunctionDurationP99Percent,
		FunctionConcurrencyPercent: a.FunctionConcurrencyPercent,
		Api5xxErrors:               num(a.Api5xxErrors),
		ApiLatencyP99Ms:            num(a.ApiLatencyP99Ms),
		Api4xxRatePercent:          a.Api4xxRatePercent,
		TableThrottledRequests:     num(a.TableThrottledRequests),
		TableSystemErrors:          num(a.TableSystemErrors),
		AccessRefused:              num(a.AccessRefused),
	}
	if a.PeriodMinutes != nil {
		t.Period = awscdk.Duration_Minutes(jsii.Number(*a.PeriodMinutes))
	}
	return t
}

// objective maps a stage's objective; an unset target takes the
// construct's default.
func objective(o stage.ServiceLevelObjective) *fleetapi.ServiceLevelObjective {
	out := &fleetapi.ServiceLevelObjective{AvailabilityPercent: o.AvailabilityPercent, LatencyPercent: o.LatencyPercent}
	if o.LatencyMs != nil {
		out.LatencyMs = jsii.Number(*o.LatencyMs)
	}
	return out
}

// alarmSeverities maps the stage's severities; none leaves the construct's.
func alarmSeverities(m map[string]string) *map[string]*string {
	if m == nil {
		return nil
	}
	out := make(map[string]*string, len(m))
	for kind, severity := range m {
		out[kind] = jsii.String(severity)
	}
	return &out
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return jsii.String(s)
}

// tableClass maps a stage's table class; Standard is left unset, DynamoDB's
// default, so that the templates of existing Standard tables do not change.
func tableClass(name string) awsdynamodb.TableClass {
	if name == stage.TableClassStandardInfrequentAccess {
		return awsdynamodb.TableClass_STANDARD_INFREQUENT_ACCESS
	}
	return ""
}

func removalPolicy(name string) awscdk.RemovalPolicy {
	if name == stage.RemovalPolicyDestroy {
		return awscdk.RemovalPolicy_DESTROY
	}
	return awscdk.RemovalPolicy_RETAIN
}
