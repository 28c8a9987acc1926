package fleetapi

import (
	"slices"
	"strconv"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiot"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/fleetapi/fleetapi/internal/shared/contract"
	"github.com/fleetapi/fleetapi/internal/shared/metrics"
)

// The tracker's bounds and schedule.
const (
	// trackerTimeoutSeconds bounds one batch of the stream, one lifecycle
	// event, or one count of the fleet (a Scan of the state table).
	trackerTimeoutSeconds = 60
	// A batch that fails is split in two and retried, at most this often,
	// and for at most this long, before its records go to the tracker's
	// failure queue: the vehicles' state is then behind until their next
	// upload.
	trackerRetryAttempts     = 5
	trackerMaxRecordAgeHours = 6
	// A lifecycle event or a count the function failed is retried twice
	// (Lambda's asynchronous invocation), within an hour.
	trackerAsyncRetryAttempts = 2
	trackerMaxEventAgeSeconds = 3600
	// figuresEveryMinutes is how often the fleet's figures are counted,
	// the period of their alarm.
	figuresEveryMinutes = 5
	// silentVehiclesPeriods is how many counts in a row above the
	// threshold raise the silent vehicles' alarm.
	silentVehiclesPeriods       = 2
	trackerFailureRetentionDays = 14
)

// trackerResource is the tracker: its function and alias, what invokes it,
// and the queue of what it could not apply.
type trackerResource struct {
	function awslambda.Function
	alias    awslambda.Alias
	failures awssqs.Queue
	mapping  awslambda.CfnEventSourceMapping
	// lifecycleRule is nil without MqttUploads: only vehicles on MQTT
	// connect.
	lifecycleRule awsiot.CfnTopicRule
	schedule      awsevents.Rule
}

// newTracker defines the tracker: a function (the one binary) that keeps
// each vehicle's state from the events table's stream (its INSERTs only,
// batched by the props' StateBatchingWindow, a partial failure retried
// from its record), from IoT Core's lifecycle events (a topic rule, with
// MqttUploads), and that counts the fleet's figures every few minutes;
// what it gives up on goes to its failure queue.
func newTracker(scope constructs.Construct, p FleetApiProps, fns functions, t tables, upload *uploadPath) *trackerResource {
	stack := awscdk.Stack_Of(scope)
	seconds := func(d awscdk.Duration) *string {
		return jsii.String(strconv.FormatFloat(*d.ToSeconds(nil), 'f', 0, 64))
	}
	fn := newServiceFunction(scope, p, fns, "Tracker", "FleetApi tracker: keeps each vehicle's state (events stream, lifecycle events), counts the fleet's figures",
		// No tracing: it serves no caller, and X-Ray would record most of
		// its invocations (the first each second is sampled), a batch a
		// minute per shard. Nor Lambda's start and report lines (system
		// log level WARN, "Log-level filtering", Lambda Developer Guide):
		// they would be most of its logs; its own line per invocation
		// says what it did and how long it took.
		trackerTimeoutSeconds, awslambda.Tracing_DISABLED, awslambda.SystemLogLevel_WARN, map[string]*string{
			contract.EnvServes:        jsii.String(contract.ServesTracker),
			contract.EnvVehiclesTable: t.vehicles.TableName(),
			contract.EnvEventsTable:   t.events.TableName(),
			contract.EnvStateTable:    t.state.TableName(),
			contract.EnvSilentAfter:   seconds(p.SilentAfter),
			contract.EnvNotSeenAfter:  seconds(p.NotSeenAfter),
		})
	for _, s := range []struct {
		actions  []string
		resource *string
	}{
		// A state is read and put whole (read-merge-put on its revision);
		// the figures scan the table.
		{[]string{"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Scan"}, t.state.TableArn()},
		// A lifecycle event of a vid without a state needs its registration.
		{[]string{"dynamodb:GetItem"}, t.vehicles.TableArn()},
		// What Lambda reads a stream with, on the events table's streams, as
		// the DynamoDB Developer Guide writes it ("IAM policy to allow an AWS
		// Lambda function to access DynamoDB stream records": TABLE/stream/*).
		{[]string{"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"}, jsii.String(*t.events.TableArn() + "/stream/*")},
	} {
		fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{Actions: jsii.Strings(s.actions...), Resources: &[]*string{s.resource}}))
	}
	// Its calls are the tables' too: their alarms sum the operations.
	for table, ops := range map[awsdynamodb.Table][]string{t.state: {"GetItem", "PutItem", "Scan"}, t.vehicles: {"GetItem"}} {
		for _, op := range ops {
			if !slices.Contains(fns.tableOperations[table], op) {
				fns.tableOperations[table] = append(fns.tableOperations[table], op)
			}
		}
	}
	alias := newAlias(scope, "Tracker", fn)

	failures := awssqs.NewQueue(scope, jsii.String("TrackerFailures"), &awssqs.QueueProps{
		Encryption:      awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:      jsii.Bool(true),
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(trackerFailureRetentionDays)),
		RemovalPolicy:   p.RemovalPolicy,
	})
	// An on-failure destination needs sqs:SendMessage alone ("Adding a
	// destination", Lambda Developer Guide): no grant of the CDK's, which
	// adds sqs:GetQueueAttributes and sqs:GetQueueUrl.
	sendFailures := awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions: jsii.Strings("sqs:SendMessage"), Resources: jsii.Strings(*failures.QueueArn()),
	})
	fn.AddToRolePolicy(sendFailures)

	// The stream's records reach the alias every caller invokes; only
	// INSERTs (an upload stored), not the REMOVEs of the events' TTL,
	// which Lambda filters out before any invocation.
	mapping := awslambda.NewCfnEventSourceMapping(scope, jsii.String("TrackerStream"), &awslambda.CfnEventSourceMappingProps{
		FunctionName:                   alias.FunctionArn(),
		EventSourceArn:                 t.events.TableStreamArn(),
		StartingPosition:               jsii.String("LATEST"),
		BatchSize:                      jsii.Number(contract.StateBatchSize),
		MaximumBatchingWindowInSeconds: p.StateBatchingWindow.ToSeconds(nil),
		ParallelizationFactor:          jsii.Number(1),
		BisectBatchOnFunctionError:     jsii.Bool(true),
		MaximumRetryAttempts:           jsii.Number(trackerRetryAttempts),
		MaximumRecordAgeInSeconds:      jsii.Number(trackerMaxRecordAgeHours * 3600),
		FunctionResponseTypes:          jsii.Strings("ReportBatchItemFailures"),
		FilterCriteria: &awslambda.CfnEventSourceMapping_FilterCriteriaProperty{
			Filters: &[]any{&awslambda.CfnEventSourceMapping_FilterProperty{Pattern: jsii.String(`{"eventName":["INSERT"]}`)}},
		},
		DestinationConfig: &awslambda.CfnEventSourceMapping_DestinationConfigProperty{
			OnFailure: &awslambda.CfnEventSourceMapping_OnFailureProperty{Destination: failures.QueueArn()},
		},
	})
	// Lambda checks the stream's and the destination's permissions when the
	// mapping is made.
	mapping.Node().AddDependency(fn.Role(), alias)

	invokeConfig := awslambda.NewCfnEventInvokeConfig(scope, jsii.String("TrackerAsyncInvokeConfig"), &awslambda.CfnEventInvokeConfigProps{
		FunctionName:             fn.FunctionName(),
		Qualifier:                alias.AliasName(),
		MaximumRetryAttempts:     jsii.Number(trackerAsyncRetryAttempts),
		MaximumEventAgeInSeconds: jsii.Number(trackerMaxEventAgeSeconds),
		DestinationConfig: &awslambda.CfnEventInvokeConfig_DestinationConfigProperty{
			OnFailure: &awslambda.CfnEventInvokeConfig_OnFailureProperty{Destination: failures.QueueArn()},
		},
	})
	invokeConfig.Node().AddDependency(fn.Role(), alias)

	schedule := awsevents.NewRule(scope, jsii.String("FleetFiguresSchedule"), &awsevents.RuleProps{
		Description: jsii.String("Counts the FleetApi fleet's connected, silent and unseen vehicles"),
		Schedule:    awsevents.Schedule_Rate(awscdk.Duration_Minutes(jsii.Number(figuresEveryMinutes))),
	})
	// A count that could not run in time is no count: the next one is.
	schedule.AddTarget(awseventstargets.NewLambdaFunction(alias, &awseventstargets.LambdaFunctionProps{
		RetryAttempts: jsii.Number(0), MaxEventAge: awscdk.Duration_Minutes(jsii.Number(figuresEveryMinutes)),
	}))

	tr := &trackerResource{function: fn, alias: alias, failures: failures, mapping: mapping, schedule: schedule}
	if upload != nil {
		tr.lifecycleRule = newLifecycleRule(scope, stack, alias, failures, sendFailures)
	}
	return tr
}

// newLifecycleRule defines the topic rule that hands IoT Core's connect
// and disconnect events of every client to the tracker (which keeps those
// of the stage's vehicles), and what it cannot hand to the failure queue.
func newLifecycleRule(scope constructs.Construct, stack awscdk.Stack, alias awslambda.Alias, failures awssqs.Queue, sendFailures awsiam.PolicyStatement) awsiot.CfnTopicRule {
	role := awsiam.NewRole(scope, jsii.String("LifecycleRuleRole"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("iot.amazonaws.com"), nil),
		Description: jsii.String("FleetApi lifecycle rule: its error action writes to the tracker's failure queue"),
	})
	role.AddToPolicy(sendFailures)
	return newLambdaTopicRule(scope, "LifecycleRule", notRuleName.ReplaceAllString(*stack.StackName()+"_"+*scope.Node().Id()+"_Lifecycle", "_"),
		"FleetApi vehicles' connects and disconnects (IoT Core lifecycle events) to the tracker", contract.LifecycleRuleSQL, alias, failures, role)
}

// fleetMetric is one of the fleet's figures, which the tracker writes.
func (tr *trackerResource) fleetMetric(name string, opts *awscloudwatch.MetricOptions) awscloudwatch.Metric {
	if opts == nil {
		opts = &awscloudwatch.MetricOptions{}
	}
	o := *opts
	if o.Statistic == nil {
		o.Statistic = jsii.String("Maximum")
	}
	if o.Period == nil {
		o.Period = awscdk.Duration_Minutes(jsii.Number(figuresEveryMinutes))
	}
	return newMetric(metrics.Namespace, name, map[string]*string{metrics.DimensionFunctionName: tr.function.FunctionName()}, &o)
}

// StateTable is the table of each vehicle's latest state, partition key
// "vid", written by the tracker (TrackerFunction) only.
func (f *FleetApi) StateTable() awsdynamodb.ITable { return f.tables.state }

// TrackerFunction keeps the vehicles' state and counts the fleet's figures.
func (f *FleetApi) TrackerFunction() awslambda.IFunction { return f.tracker.function }

// TrackerFailures is the queue of what the tracker gave up on: stream
// batches (their shard and sequence numbers, not their records) and
// lifecycle events; the vehicles' state is behind until their next upload.
func (f *FleetApi) TrackerFailures() awssqs.IQueue { return f.tracker.failures }

// MetricVehiclesConnected is the count of vehicles connected over MQTT, as
// of the tracker's last count (Maximum over 5 minutes unless opts say).
func (f *FleetApi) MetricVehiclesConnected(opts *awscloudwatch.MetricOptions) awscloudwatch.Metric {
	return f.tracker.fleetMetric(metrics.VehiclesConnected, opts)
}

// MetricVehiclesSilent is the count of vehicles connected and silent for
// longer than SilentAfter.
func (f *FleetApi) MetricVehiclesSilent(opts *awscloudwatch.MetricOptions) awscloudwatch.Metric {
	return f.tracker.fleetMetric(metrics.VehiclesSilent, opts)
}

// MetricVehiclesNotSeen is the count of vehicles not connected and not
// heard of for longer than NotSeenAfter.
func (f *FleetApi) MetricVehiclesNotSeen(opts *awscloudwatch.MetricOptions) awscloudwatch.Metric {
	return f.tracker.fleetMetric(metrics.VehiclesNotSeen, opts)
}
