package fleetapi

import (
	"fmt"
	"math"
	"net/mail"
	"slices"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/jsii-runtime-go"
)

// Bounds of the props, AWS's own where they name a service.
const (
	minMemoryMiB = 128
	maxMemoryMiB = 10240
	// API Gateway answers 504 after its integration timeout, 29 s: a
	// function running longer would only be billed for an answer nobody reads.
	maxTimeoutSecs   = maxIntegrationTimeoutMs / 1000
	maxRetentionDays = 3650
)

// FleetApiProps configures a FleetApi. A nil *FleetApiProps takes every default.
type FleetApiProps struct {
	// What happens to the tables, the log groups and the alarm topic's KMS
	// key when they are removed from the stack or the stack is deleted (the
	// cursor key's secret is always destroyed: a new one only invalidates
	// open cursors). SNAPSHOT is not supported by DynamoDB tables.
	// Default: awscdk.RemovalPolicy_RETAIN.
	RemovalPolicy awscdk.RemovalPolicy
	// Whether the tables refuse DeleteTable calls. Must not be true with
	// RemovalPolicy DESTROY.
	// Default: - true, unless RemovalPolicy is DESTROY.
	DeletionProtection *bool
	// Whether the tables keep continuous backups for point-in-time recovery.
	// Default: true.
	PointInTimeRecovery *bool
	// Table class of the events table. Standard-Infrequent-Access stores for
	// 60 % less and reads and writes for 25 % more: with a long event
	// retention storage dominates its bill (make cost prices both). The
	// vehicles table stays Standard: it is small and read on every upload.
	// Default: awsdynamodb.TableClass_STANDARD.
	EventsTableClass awsdynamodb.TableClass
	// How long vehicle events are kept before DynamoDB's TTL deletes them,
	// in whole days from 1 to 3650.
	// Default: awscdk.Duration_Days(jsii.Number(90)).
	EventRetention awscdk.Duration
	// Memory of each function, in MiB, from 128 to 10240.
	// Default: 256.
	MemorySize *float64
	// Timeout of each function, from 1 to 29 seconds (API Gateway's
	// integration timeout).
	// Default: awscdk.Duration_Seconds(jsii.Number(10)).
	Timeout awscdk.Duration
	// Concurrency reserved for each function.
	// Default: - none: the functions share the account's unreserved concurrency.
	ReservedConcurrentExecutions *float64
	// Retention of every log group: the functions', the API's access and execution logs.
	// Default: awslogs.RetentionDays_ONE_MONTH.
	LogRetention awslogs.RetentionDays
	// Name of the API's deployment stage, part of its URL.
	// Default: "prod".
	ApiStageName *string
	// Steady-state request rate of the API stage, requests per second.
	// Default: 100.
	ThrottlingRateLimit *float64
	// Burst capacity of the API stage, in requests.
	// Default: 200.
	ThrottlingBurstLimit *float64
	// Whether to create the role through which API Gateway writes execution
	// logs, a setting of the whole account and Region
	// (AWS::ApiGateway::Account), retained when the stack goes. Exactly one
	// stack of an account and Region should create it; without it, the
	// stage's execution logging fails to deploy ("CloudWatch Logs role ARN
	// must be set in account settings to enable logging"), and synthesis
	// warns (fleetapi:apiGatewayCloudWatchRole) so that it is not a surprise.
	// Default: false, as the aws-cdk-lib feature flag
	// @aws-cdk/aws-apigateway:disableCloudWatchRole has it.
	CloudWatchRole *bool
	// The most read and write request units per second each table may
	// consume on demand: a ceiling on its cost. Requests above it are
	// throttled. At least 1 when set.
	// Default: - no maximum.
	MaxReadRequestUnits  *float64
	MaxWriteRequestUnits *float64

	// Where the alarms (and the budget) notify. An existing topic must let
	// cloudwatch.amazonaws.com and budgets.amazonaws.com publish, and, when
	// encrypted, use its key.
	// Default: - a topic of the construct, encrypted with a customer-managed
	// KMS key whose policy lets CloudWatch and AWS Budgets use it.
	AlarmTopic awssns.ITopic
	// Where the alarms of each severity notify (see DefaultAlarmSeverities),
	// instead of AlarmTopic: a pager's topic for the critical ones, say.
	// The budget notifies AlarmTopic.
	// Default: - AlarmTopic.
	CriticalAlarmTopic awssns.ITopic
	WarningAlarmTopic  awssns.ITopic
	// The severity of kinds of alarm, by the kind's key in docs/operating.md
	// (e.g. "Api-Latency-p99": "critical"), over DefaultAlarmSeverities().
	// Default: - DefaultAlarmSeverities().
	AlarmSeverities *map[string]*string
	// E-mail addresses subscribed to the alarm topic.
	// Default: - none.
	AlarmEmails *[]*string
	// Thresholds and evaluation of the alarms; a nil field takes its default.
	// Default: - every default of AlarmThresholds.
	AlarmThresholds *AlarmThresholds
	// The objectives of uploads and reads over 30 days, each watched by
	// multi-window, multi-burn-rate composite alarms (BurnRateAlarms).
	// Default: - every default of ServiceLevelObjective, for both.
	ServiceLevelObjectives *ServiceLevelObjectives
	// Whether vehicles get their credentials from their X.509 certificate,
	// with no long-lived key: the construct creates what the AWS IoT Core
	// credentials provider needs (a role alias, the role it points to, which
	// may only enter the vehicle role as the certificate's own thing, and
	// the IoT policy to attach to each vehicle's certificate; see
	// docs/vehicle-registration.md).
	// Default: false: vehicles need another way into VehicleRole.
	VehicleCredentials *bool
	// How long the credentials of the role alias last, from 15 minutes to
	// 12 hours (the credentials provider's bounds). A revoked certificate
	// gets no new ones; those it got last this long, and each vehicle
	// session they started at most one hour more (role chaining).
	// Default: awscdk.Duration_Hours(jsii.Number(1)).
	VehicleCredentialDuration awscdk.Duration
	// Whether vehicles may upload over MQTT through AWS IoT Core's Basic
	// Ingest (no messaging charge): a topic rule hands every message
	// published to $aws/rules/RULE/vehicles/VID/events (UploadTopic) to the
	// ingest function, which stores it as it stores an upload over HTTPS;
	// the certificate policy lets each thing connect as itself and publish
	// to its own topic only; uploads that cannot be stored wait in a queue
	// (UploadFailures) with an alarm.
	// Default: false.
	MqttUploads *bool

	// A monthly cost budget in US dollars, notifying the alarm topic at 80 %
	// of the forecast and 100 % of the actual cost of the resources that
	// carry BudgetCostTags.
	// Default: - no budget.
	MonthlyBudgetUsd *float64
	// The cost allocation tags the budget counts, e.g. Project=FleetApi,
	// Stage=prod (activate them in the Billing console). Required with
	// MonthlyBudgetUsd.
	// Default: - none.
	BudgetCostTags *map[string]*string

	// spec overrides the embedded api/swagger.yaml, and moduleDir the
	// directory the functions are built from; for this package's tests.
	spec      []byte
	moduleDir string
}

// removalPolicies lists the policies a DynamoDB table supports.
var removalPolicies = []awscdk.RemovalPolicy{
	awscdk.RemovalPolicy_DESTROY,
	awscdk.RemovalPolicy_RETAIN,
	awscdk.RemovalPolicy_RETAIN_ON_UPDATE_OR_DELETE,
}

// tableClasses lists DynamoDB's table classes.
var tableClasses = []awsdynamodb.TableClass{awsdynamodb.TableClass_STANDARD, awsdynamodb.TableClass_STANDARD_INFREQUENT_ACCESS}

// withDefaults returns a copy of props with every unset field at its default.
func (props *FleetApiProps) withDefaults() FleetApiProps {
	var p FleetApiProps
	if props != nil {
		p = *props
	}
	if p.RemovalPolicy == "" {
		p.RemovalPolicy = awscdk.RemovalPolicy_RETAIN
	}
	if p.DeletionProtection == nil {
		p.DeletionProtection = jsii.Bool(p.RemovalPolicy != awscdk.RemovalPolicy_DESTROY)
	}
	if p.PointInTimeRecovery == nil {
		p.PointInTimeRecovery = jsii.Bool(true)
	}
	if p.EventRetention == nil {
		p.EventRetention = awscdk.Duration_Days(jsii.Number(90))
	}
	if p.MemorySize == nil {
		p.MemorySize = jsii.Number(256)
	}
	if p.Timeout == nil {
		p.Timeout = awscdk.Duration_Seconds(jsii.Number(10))
	}
	if p.LogRetention == "" {
		p.LogRetention = awslogs.RetentionDays_ONE_MONTH
	}
	if p.ApiStageName == nil {
		p.ApiStageName = jsii.String("prod")
	}
	if p.ThrottlingRateLimit == nil {
		p.ThrottlingRateLimit = jsii.Number(100)
	}
	if p.ThrottlingBurstLimit == nil {
		p.ThrottlingBurstLimit = jsii.Number(200)
	}
	if p.CloudWatchRole == nil {
		p.CloudWatchRole = jsii.Bool(false)
	}
	if p.VehicleCredentials == nil {
		p.VehicleCredentials = jsii.Bool(false)
	}
	if p.MqttUploads == nil {
		p.MqttUploads = jsii.Bool(false)
	}
	if p.VehicleCredentialDuration == nil {
		p.VehicleCredentialDuration = awscdk.Duration_Hours(jsii.Number(1))
	}
	return p
}

// Limits of the props that name no AWS value elsewhere.
const (
	// The default regional concurrency of an account: a reservation cannot exceed it.
	maxReservedConcurrency = 1000
	// API Gateway's default account throttle: a stage's cannot exceed it.
	maxThrottlingRateLimit  = 10000
	maxThrottlingBurstLimit = 5000
	// DynamoDB's default on-demand throughput quota of a table.
	maxTableRequestUnits = 40000
)

// PropError is an invalid prop of FleetApiProps: which, the value given
// and what is allowed.
type PropError struct {
	// Prop is the prop's name as its JSON name: memorySize, alarmThresholds.period.
	Prop    string
	Value   any
	Allowed string
}

func (e *PropError) Error() string {
	return fmt.Sprintf("%s %v is invalid: %s", e.Prop, e.Value, e.Allowed)
}

// Validate checks props against AWS's limits and the construct's rules, as
// NewFleetApi does; the error is a *PropError naming the first bad prop.
func (props *FleetApiProps) Validate() error {
	return props.withDefaults().validate()
}

// numberRule bounds a numeric prop; an unset or unresolved value passes.
type numberRule struct {
	prop     string
	v        *float64
	min, max float64
	// aboveMin excludes min itself: (min, max].
	aboveMin bool
	whole    bool
	allowed  string
}

func (r numberRule) check() error {
	if r.v == nil || unresolved(*r.v) {
		return nil
	}
	v := *r.v
	if v < r.min || r.aboveMin && v == r.min || v > r.max || r.whole && v != math.Trunc(v) {
		return &PropError{r.prop, v, r.allowed}
	}
	return nil
}

func (p FleetApiProps) validate() error {
	if !slices.Contains(removalPolicies, p.RemovalPolicy) {
		return &PropError{"removalPolicy", p.RemovalPolicy, fmt.Sprintf("allowed values are %v (DynamoDB tables support no SNAPSHOT)", removalPolicies)}
	}
	if p.RemovalPolicy == awscdk.RemovalPolicy_DESTROY && *p.DeletionProtection {
		return &PropError{"deletionProtection", true, "must be false with removalPolicy DESTROY: CloudFormation could not delete protected tables"}
	}
	if c := p.EventsTableClass; c != "" && !slices.Contains(tableClasses, c) {
		return &PropError{"eventsTableClass", c, fmt.Sprintf("allowed values are %v", tableClasses)}
	}
	if n := *p.ApiStageName; !*awscdk.Token_IsUnresolved(n) && !stageNamePattern.MatchString(n) {
		return &PropError{"apiStageName", fmt.Sprintf("%q", n), "allowed are 1 to 128 letters, digits, '-' or '_'"}
	}
	exact := &awscdk.TimeConversionOptions{Integral: jsii.Bool(false)}
	seconds := func(d awscdk.Duration) *float64 { return jsii.Number(*d.ToMilliseconds(exact) / 1000) }
	for _, r := range []numberRule{
		{"memorySize", p.MemorySize, minMemoryMiB, maxMemoryMiB, false, true, fmt.Sprintf("allowed are whole MiB from %d to %d", minMemoryMiB, maxMemoryMiB)},
		{"timeout", seconds(p.Timeout), 1, maxTimeoutSecs, false, false, fmt.Sprintf("allowed range is 1 to %d seconds (API Gateway's integration timeout)", maxTimeoutSecs)},
		{"reservedConcurrentExecutions", p.ReservedConcurrentExecutions, 1, maxReservedConcurrency, false, true,
			fmt.Sprintf("allowed are whole numbers from 1 to %d (0 would stop the functions; leave it unset for no reservation)", maxReservedConcurrency)},
		{"eventRetention", jsii.Number(*seconds(p.EventRetention) / 86_400), 1, maxRetentionDays, false, true, fmt.Sprintf("allowed are whole days from 1 to %d", maxRetentionDays)},
		{"throttlingRateLimit", p.ThrottlingRateLimit, 0, maxThrottlingRateLimit, true, false,
			fmt.Sprintf("allowed range is (0, %d] requests per second (API Gateway's account throttle)", maxThrottlingRateLimit)},
		{"throttlingBurstLimit", p.ThrottlingBurstLimit, 1, maxThrottlingBurstLimit, false, true,
			fmt.Sprintf("allowed are whole numbers from 1 to %d (0 would refuse every request)", maxThrottlingBurstLimit)},
		{"maxReadRequestUnits", p.MaxReadRequestUnits, 1, maxTableRequestUnits, false, true,
			fmt.Sprintf("allowed are whole request units per second from 1 to %d (DynamoDB's table quota)", maxTableRequestUnits)},
		{"maxWriteRequestUnits", p.MaxWriteRequestUnits, 1, maxTableRequestUnits, false, true,
			fmt.Sprintf("allowed are whole request units per second from 1 to %d (DynamoDB's table quota)", maxTableRequestUnits)},
		{"vehicleCredentialDuration", seconds(p.VehicleCredentialDuration), minCredentialSeconds, maxCredentialSeconds, false, true,
			fmt.Sprintf("allowed are whole seconds from %d (15 minutes) to %d (12 hours), the AWS IoT Core credentials provider's bounds", minCredentialSeconds, maxCredentialSeconds)},
	} {
		if err := r.check(); err != nil {
			return err
		}
	}
	if p.AlarmEmails != nil {
		seen := map[string]bool{}
		for _, e := range *p.AlarmEmails {
			if e == nil || *awscdk.Token_IsUnresolved(e) {
				continue
			}
			if a, err := mail.ParseAddress(*e); err != nil || a.Address != *e || seen[strings.ToLower(*e)] {
				return &PropError{"alarmEmails", fmt.Sprintf("%q", *e), "allowed are plain e-mail addresses such as ops@example.com, each once"}
			}
			seen[strings.ToLower(*e)] = true
		}
	}
	if err := p.AlarmThresholds.validate(); err != nil {
		return err
	}
	if err := p.validateSeverities(); err != nil {
		return err
	}
	if err := p.ServiceLevelObjectives.validate(); err != nil {
		return err
	}
	if b := p.MonthlyBudgetUsd; b != nil && !unresolved(*b) {
		if *b <= 0 {
			return &PropError{"monthlyBudgetUsd", *b, "must be above 0"}
		}
		if p.BudgetCostTags == nil || len(*p.BudgetCostTags) == 0 {
			return &PropError{"budgetCostTags", "(none)", "monthlyBudgetUsd needs the cost allocation tags that say which costs are the API's"}
		}
	}
	return nil
}

func unresolved(v float64) bool { return *awscdk.Token_IsUnresolved(v) }
