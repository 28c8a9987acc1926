package fleetapi

import (
	"fmt"
	"maps"
	"net/mail"
	"slices"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/jsii-runtime-go"

	"github.com/fleetapi/fleetapi/internal/shared/contract"
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
	// How a new version of each function takes over its traffic: one of
	// CodeDeploy's predefined configurations for Lambda (LambdaDeployment*),
	// rolled back when the function's alarms go off (docs/operating.md,
	// "Deployments"). Every caller invokes the functions' alias live.
	// Default: LambdaDeploymentAllAtOnce.
	Deployment LambdaDeployment
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
	// The percentage of the API's requests X-Ray traces, from 0 to 100
	// (an X-Ray sampling rule of the stage, no reservoir): its traces are
	// billed per request recorded.
	// Default: 5.
	TraceSamplePercent *float64
	// Whether to create the role through which API Gateway writes execution
	// logs and set it as the whole account and Region's
	// (AWS::ApiGateway::Account); both are retained when the stack goes.
	// Several stacks of an account and Region may each set their own: the
	// setting then names a role that exists whichever deployed last, and a
	// deleted stack leaves it (docs/deploying.md). Without any, the stage's
	// execution logging fails to deploy ("CloudWatch Logs role ARN must be
	// set in account settings to enable logging"), and synthesis warns
	// (fleetapi:apiGatewayCloudWatchRole) so that it is not a surprise.
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
	// Whether a synthetic vehicle proves the stage end to end every minute:
	// a registered test vehicle (vid fleetapi-synthetic-..., reserved; its
	// events kept an hour; left out of the vehicle list and of
	// SamplesIngested) whose key and certificate are made inside AWS by a
	// custom resource (CreateCertificateFromCsr, kept in a secret) gets its
	// credentials from its certificate, enters the vehicle role, uploads
	// over HTTPS and over MQTT and reads both back as fleet-read, each
	// step's success and latency a metric; its critical alarm also rolls
	// back every function's deployment. Needs VehicleCredentials and
	// MqttUploads.
	// Default: false.
	SyntheticVehicle *bool
	// How long the events table's stream gathers records before the
	// tracker gets them, from 0 to 300 seconds (Lambda's
	// MaximumBatchingWindowInSeconds): the tracker writes a vehicle's state
	// once per batch however many uploads of it the batch holds, so a
	// longer window writes less and the state follows the samples later
	// (docs/capacity.md, "The vehicles' state").
	// Default: awscdk.Duration_Seconds(jsii.Number(70)).
	StateBatchingWindow awscdk.Duration
	// How long a vehicle connected over MQTT uploads nothing before the
	// fleet's figures count it as silent (VehiclesSilent; its alarm's
	// threshold is AlarmThresholds.SilentVehicles), whole minutes from 1 to
	// 1440.
	// Default: awscdk.Duration_Minutes(jsii.Number(10)).
	SilentAfter awscdk.Duration
	// How long a vehicle is not connected and not heard of before the
	// fleet's figures count it as not seen (VehiclesNotSeen), whole days
	// from 1 to 3650.
	// Default: awscdk.Duration_Days(jsii.Number(7)).
	NotSeenAfter awscdk.Duration
	// Whether to keep the fleet's history: every upload the events table
	// stores, written from its stream as Parquet into a bucket, queried
	// with Athena through a Glue table and a workgroup
	// (docs/history.md). EventRetention is then the hot window the API
	// reads.
	// Default: false.
	History *bool
	// How long the history keeps a sample, in whole days from 1 to 3650,
	// at least EventRetention.
	// Default: awscdk.Duration_Days(jsii.Number(365)).
	HistoryRetention awscdk.Duration
	// The most a query of the history may scan, in GB, from 0.01
	// (Athena's least, 10 MB) to 1000: the workgroup cancels a query past
	// it.
	// Default: 10.
	HistoryScanLimitGB *float64

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

// Limits of the props that name no AWS value elsewhere.
const (
	// The default regional concurrency of an account: a reservation cannot exceed it.
	maxReservedConcurrency = 1000
	// API Gateway's default account throttle: a stage's cannot exceed it.
	maxThrottlingRateLimit  = 10000
	maxThrottlingBurstLimit = 5000
	// DynamoDB's default on-demand throughput quota of a table.
	maxTableRequestUnits = 40000
	// Lambda's longest batching window of an event source mapping.
	maxBatchingWindowSeconds = 300
)

// propsDeclared declares each prop of FleetApiProps once, in the order of
// the struct: its name, its setting's key, its default and its rule (see
// prop). Rules that span props follow in validate.
var propsDeclared = []prop[FleetApiProps]{
	wordProp("removalPolicy", "removalPolicy", func(p *FleetApiProps) *awscdk.RemovalPolicy { return &p.RemovalPolicy },
		awscdk.RemovalPolicy_RETAIN, "awscdk.RemovalPolicy_RETAIN", removalPolicies, " (DynamoDB tables support no SNAPSHOT)",
		word[awscdk.RemovalPolicy]{"retain", awscdk.RemovalPolicy_RETAIN}, word[awscdk.RemovalPolicy]{"destroy", awscdk.RemovalPolicy_DESTROY},
		word[awscdk.RemovalPolicy]{"retainOnUpdateOrDelete", awscdk.RemovalPolicy_RETAIN_ON_UPDATE_OR_DELETE}),
	{name: "deletionProtection", key: "deletionProtection",
		setDefault: func(p *FleetApiProps) {
			if p.DeletionProtection == nil {
				p.DeletionProtection = jsii.Bool(p.RemovalPolicy != awscdk.RemovalPolicy_DESTROY)
			}
		},
		check: func(p *FleetApiProps) error {
			if p.RemovalPolicy == awscdk.RemovalPolicy_DESTROY && *p.DeletionProtection {
				return &PropError{"deletionProtection", true, "must be false with removalPolicy DESTROY: CloudFormation could not delete protected tables"}
			}
			return nil
		},
		set: flagProp("deletionProtection", "", func(p *FleetApiProps) **bool { return &p.DeletionProtection }, false).set},
	flagProp("pointInTimeRecovery", "pointInTimeRecovery", func(p *FleetApiProps) **bool { return &p.PointInTimeRecovery }, true),
	// A stage's standard is left unset, DynamoDB's default, so that the
	// templates of tables made before the class was a setting stay as they are.
	wordProp("eventsTableClass", "eventsTableClass", func(p *FleetApiProps) *awsdynamodb.TableClass { return &p.EventsTableClass },
		"", "awsdynamodb.TableClass_STANDARD", tableClasses, "",
		word[awsdynamodb.TableClass]{"standard", ""}, word[awsdynamodb.TableClass]{"standardInfrequentAccess", awsdynamodb.TableClass_STANDARD_INFREQUENT_ACCESS}),
	durationProp("eventRetention", "eventRetentionDays", inDays, inDays, func(p *FleetApiProps) *awscdk.Duration { return &p.EventRetention }, jsii.Number(90),
		bounds{min: 1, max: maxRetentionDays, whole: true, allowed: fmt.Sprintf("allowed are whole days from 1 to %d", maxRetentionDays)}),
	numberProp("memorySize", "lambdaMemoryMiB", func(p *FleetApiProps) **float64 { return &p.MemorySize }, jsii.Number(256),
		bounds{min: minMemoryMiB, max: maxMemoryMiB, whole: true, allowed: fmt.Sprintf("allowed are whole MiB from %d to %d", minMemoryMiB, maxMemoryMiB)}),
	durationProp("timeout", "lambdaTimeoutSeconds", inSeconds, inSeconds, func(p *FleetApiProps) *awscdk.Duration { return &p.Timeout }, jsii.Number(10),
		bounds{min: 1, max: maxTimeoutSecs, whole: true, allowed: fmt.Sprintf("allowed are whole seconds from 1 to %d (API Gateway's integration timeout)", maxTimeoutSecs)}),
	wordProp("deployment", "lambdaDeployment", func(p *FleetApiProps) *LambdaDeployment { return &p.Deployment },
		LambdaDeploymentAllAtOnce, "LambdaDeploymentAllAtOnce", lambdaDeployments(), " (CodeDeploy's predefined configurations of Lambda deployments)", lambdaDeploymentWords()...),
	reservedConcurrency,
	logRetentionProp,
	{name: "apiStageName", setDefault: func(p *FleetApiProps) {
		if p.ApiStageName == nil {
			p.ApiStageName = jsii.String("prod")
		}
	}, check: func(p *FleetApiProps) error {
		if n := *p.ApiStageName; !*awscdk.Token_IsUnresolved(n) && !stageNamePattern.MatchString(n) {
			return &PropError{"apiStageName", fmt.Sprintf("%q", n), "allowed are 1 to 128 letters, digits, '-' or '_'"}
		}
		return nil
	}, docDefault: `"prod"`},
	numberProp("throttlingRateLimit", "apiThrottleRateLimit", func(p *FleetApiProps) **float64 { return &p.ThrottlingRateLimit }, jsii.Number(100),
		bounds{min: 0, aboveMin: true, max: maxThrottlingRateLimit, allowed: fmt.Sprintf("allowed range is (0, %d] requests per second (API Gateway's account throttle)", maxThrottlingRateLimit)}),
	numberProp("throttlingBurstLimit", "apiThrottleBurstLimit", func(p *FleetApiProps) **float64 { return &p.ThrottlingBurstLimit }, jsii.Number(200),
		bounds{min: 1, max: maxThrottlingBurstLimit, whole: true, allowed: fmt.Sprintf("allowed are whole numbers from 1 to %d (0 would refuse every request)", maxThrottlingBurstLimit)}),
	numberProp("traceSamplePercent", "apiTraceSamplePercent", func(p *FleetApiProps) **float64 { return &p.TraceSamplePercent }, jsii.Number(5),
		bounds{min: 0, max: 100, allowed: "allowed range is 0 to 100 percent of the API's requests"}),
	flagProp("cloudWatchRole", "apiGatewayCloudWatchRole", func(p *FleetApiProps) **bool { return &p.CloudWatchRole }, false),
	numberProp("maxReadRequestUnits", "tableMaxReadRequestUnits", func(p *FleetApiProps) **float64 { return &p.MaxReadRequestUnits }, nil, tableRequestUnits),
	numberProp("maxWriteRequestUnits", "tableMaxWriteRequestUnits", func(p *FleetApiProps) **float64 { return &p.MaxWriteRequestUnits }, nil, tableRequestUnits),
	alarmSeveritiesProp,
	alarmEmailsProp,
	nested("alarmThresholds", "alarmThresholds", func(p *FleetApiProps) **AlarmThresholds { return &p.AlarmThresholds }, thresholdsDeclared, checkAlarmWindow),
	nested("serviceLevelObjectives", "serviceLevelObjectives", func(p *FleetApiProps) **ServiceLevelObjectives { return &p.ServiceLevelObjectives }, objectivesDeclared, nil),
	flagProp("vehicleCredentials", "vehicleCredentials", func(p *FleetApiProps) **bool { return &p.VehicleCredentials }, false),
	durationProp("vehicleCredentialDuration", "", inSeconds, inHours, func(p *FleetApiProps) *awscdk.Duration { return &p.VehicleCredentialDuration }, jsii.Number(1),
		bounds{min: minCredentialSeconds, max: maxCredentialSeconds, whole: true,
			allowed: fmt.Sprintf("allowed are whole seconds from %d (15 minutes) to %d (12 hours), the AWS IoT Core credentials provider's bounds", minCredentialSeconds, maxCredentialSeconds)}),
	flagProp("mqttUploads", "mqttUploads", func(p *FleetApiProps) **bool { return &p.MqttUploads }, false),
	func() prop[FleetApiProps] {
		f := flagProp("syntheticVehicle", "syntheticVehicle", func(p *FleetApiProps) **bool { return &p.SyntheticVehicle }, false)
		f.check = syntheticUnavailable
		return f
	}(),
	durationProp("stateBatchingWindow", "stateBatchingWindowSeconds", inSeconds, inSeconds, func(p *FleetApiProps) *awscdk.Duration { return &p.StateBatchingWindow },
		jsii.Number(contract.DefaultStateBatchingWindow.Seconds()),
		bounds{min: 0, max: maxBatchingWindowSeconds, whole: true, allowed: fmt.Sprintf("allowed are whole seconds from 0 to %d (Lambda's MaximumBatchingWindowInSeconds)", maxBatchingWindowSeconds)}),
	durationProp("silentAfter", "silentAfterMinutes", inMinutes, inMinutes, func(p *FleetApiProps) *awscdk.Duration { return &p.SilentAfter },
		jsii.Number(contract.DefaultSilentAfter.Minutes()), bounds{min: 1, max: 1440, whole: true, allowed: "allowed are whole minutes from 1 to 1440"}),
	durationProp("notSeenAfter", "notSeenAfterDays", inDays, inDays, func(p *FleetApiProps) *awscdk.Duration { return &p.NotSeenAfter },
		jsii.Number(contract.DefaultNotSeenAfter.Hours()/24), bounds{min: 1, max: maxRetentionDays, whole: true, allowed: fmt.Sprintf("allowed are whole days from 1 to %d", maxRetentionDays)}),
	flagProp("history", "history", func(p *FleetApiProps) **bool { return &p.History }, false),
	func() prop[FleetApiProps] {
		d := durationProp("historyRetention", "historyRetentionDays", inDays, inDays, func(p *FleetApiProps) *awscdk.Duration { return &p.HistoryRetention }, jsii.Number(365),
			bounds{min: 1, max: maxRetentionDays, whole: true, allowed: fmt.Sprintf("allowed are whole days from 1 to %d", maxRetentionDays)})
		own := d.check
		d.check = func(p *FleetApiProps) error {
			if err := own(p); err != nil {
				return err
			}
			h, e := p.HistoryRetention.ToDays(nil), p.EventRetention.ToDays(nil)
			if *p.History && !unresolved(*h) && !unresolved(*e) && *h < *e {
				return &PropError{"historyRetention", fmt.Sprintf("%v days", *h), fmt.Sprintf("must be at least eventRetention (%v days): the history keeps what the hot window has", *e)}
			}
			return nil
		}
		return d
	}(),
	numberProp("historyScanLimitGB", "historyScanLimitGB", func(p *FleetApiProps) **float64 { return &p.HistoryScanLimitGB }, jsii.Number(10),
		bounds{min: 0.01, max: 1000, allowed: "allowed range is 0.01 (Athena's least cutoff, 10 MB) to 1000 GB"}),
	{name: "monthlyBudgetUsd", key: "monthlyBudgetUsd",
		check: func(p *FleetApiProps) error {
			if b := p.MonthlyBudgetUsd; b != nil && !unresolved(*b) {
				if *b <= 0 {
					return &PropError{"monthlyBudgetUsd", *b, "must be above 0"}
				}
				if p.BudgetCostTags == nil || len(*p.BudgetCostTags) == 0 {
					return &PropError{"budgetCostTags", "(none)", "monthlyBudgetUsd needs the cost allocation tags that say which costs are the API's"}
				}
			}
			return nil
		},
		set: numberProp("monthlyBudgetUsd", "", func(p *FleetApiProps) **float64 { return &p.MonthlyBudgetUsd }, nil, bounds{}).set},
}

var tableRequestUnits = bounds{min: 1, max: maxTableRequestUnits, whole: true,
	allowed: fmt.Sprintf("allowed are whole request units per second from 1 to %d (DynamoDB's table quota)", maxTableRequestUnits)}

// reservedConcurrency is ReservedConcurrentExecutions; a settings object
// says no reservation with 0.
var reservedConcurrency = func() prop[FleetApiProps] {
	p := numberProp("reservedConcurrentExecutions", "lambdaReservedConcurrency", func(p *FleetApiProps) **float64 { return &p.ReservedConcurrentExecutions }, nil,
		bounds{min: 1, max: maxReservedConcurrency, whole: true,
			allowed: fmt.Sprintf("allowed are whole numbers from 1 to %d (0 would stop the functions: no reservation is unset, 0 in a settings object)", maxReservedConcurrency)})
	set := p.set
	p.set = func(s *FleetApiProps, v any) error {
		if v == 0.0 {
			s.ReservedConcurrentExecutions = nil
			return nil
		}
		return set(s, v)
	}
	return p
}()

// logRetentions maps the days CloudWatch Logs accepts to the CDK's names
// for them: a settings object gives the days.
var logRetentions = map[float64]awslogs.RetentionDays{
	1: awslogs.RetentionDays_ONE_DAY, 3: awslogs.RetentionDays_THREE_DAYS, 5: awslogs.RetentionDays_FIVE_DAYS,
	7: awslogs.RetentionDays_ONE_WEEK, 14: awslogs.RetentionDays_TWO_WEEKS, 30: awslogs.RetentionDays_ONE_MONTH,
	60: awslogs.RetentionDays_TWO_MONTHS, 90: awslogs.RetentionDays_THREE_MONTHS, 120: awslogs.RetentionDays_FOUR_MONTHS,
	150: awslogs.RetentionDays_FIVE_MONTHS, 180: awslogs.RetentionDays_SIX_MONTHS, 365: awslogs.RetentionDays_ONE_YEAR,
	400: awslogs.RetentionDays_THIRTEEN_MONTHS, 545: awslogs.RetentionDays_EIGHTEEN_MONTHS, 731: awslogs.RetentionDays_TWO_YEARS,
	1096: awslogs.RetentionDays_THREE_YEARS, 1827: awslogs.RetentionDays_FIVE_YEARS, 2192: awslogs.RetentionDays_SIX_YEARS,
	2557: awslogs.RetentionDays_SEVEN_YEARS, 2922: awslogs.RetentionDays_EIGHT_YEARS, 3288: awslogs.RetentionDays_NINE_YEARS,
	3653: awslogs.RetentionDays_TEN_YEARS,
}

var logRetentionProp = prop[FleetApiProps]{name: "logRetention", key: "logRetentionDays",
	setDefault: func(p *FleetApiProps) {
		if p.LogRetention == "" {
			p.LogRetention = awslogs.RetentionDays_ONE_MONTH
		}
	},
	set: func(p *FleetApiProps, v any) error {
		days, err := settingNumber(v)
		if err != nil {
			return err
		}
		r, ok := logRetentions[days]
		if !ok {
			var allowed []string
			for _, d := range slices.Sorted(maps.Keys(logRetentions)) {
				allowed = append(allowed, formatNumber(d))
			}
			return &settingValueError{v, "allowed values are " + strings.Join(allowed, ", ") + " (CloudWatch Logs' retention periods, in days)"}
		}
		p.LogRetention = r
		return nil
	},
	docDefault: "awslogs.RetentionDays_ONE_MONTH",
}

var alarmEmailsProp = prop[FleetApiProps]{name: "alarmEmails", key: "alarmEmails",
	check: func(p *FleetApiProps) error {
		if p.AlarmEmails == nil {
			return nil
		}
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
		return nil
	},
	set: func(p *FleetApiProps, v any) error {
		list, ok := v.([]any)
		if !ok {
			return &settingValueError{v, "must be a list of e-mail addresses"}
		}
		emails := []*string{}
		for _, e := range list {
			s, ok := e.(string)
			if !ok {
				return &settingValueError{v, "must be a list of e-mail addresses"}
			}
			emails = append(emails, jsii.String(s))
		}
		p.AlarmEmails = &emails
		return nil
	},
}

var alarmSeveritiesProp = prop[FleetApiProps]{name: "alarmSeverities", key: "alarmSeverities", optional: true,
	check: func(p *FleetApiProps) error { return p.validateSeverities() },
	set: func(p *FleetApiProps, v any) error {
		m, err := settingObject(v)
		if err != nil {
			return err
		}
		out := make(map[string]*string, len(m))
		for kind, severity := range m {
			s, ok := severity.(string)
			if !ok {
				return &settingValueError{v, fmt.Sprintf("must map kinds of alarm to %s", strings.Join(Severities(), " or "))}
			}
			out[kind] = jsii.String(s)
		}
		p.AlarmSeverities = &out
		return nil
	},
	docDefault: "DefaultAlarmSeverities()",
}

// withDefaults returns a copy of props with every unset field at its default.
func (props *FleetApiProps) withDefaults() FleetApiProps { return withDefaults(propsDeclared, props) }

// PropError is an invalid prop of FleetApiProps: which, the value given
// and what is allowed.
type PropError struct {
	// Prop is the prop's name as its JSON name: memorySize,
	// alarmThresholds.period; or, from a settings object, its key there
	// (SettingError).
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

// validate checks props that have their defaults: each prop's rule, in
// the order of the struct.
func (p FleetApiProps) validate() error { return checkAll(propsDeclared, &p) }
