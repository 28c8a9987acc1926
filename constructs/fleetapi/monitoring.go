package fleetapi

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
	"github.com/aws/jsii-runtime-go"

	"github.com/fleetapi/fleetapi/internal/shared/metrics"
)

// AlarmThresholds configures the alarms of a FleetApi. Every alarm is
// evaluated over EvaluationPeriods periods of Period and goes off when
// DatapointsToAlarm of them breach. A nil field takes its default.
type AlarmThresholds struct {
	// Length of one evaluation period, whole minutes.
	// Default: awscdk.Duration_Minutes(jsii.Number(5)).
	Period awscdk.Duration
	// How many periods an alarm evaluates.
	// Default: 3.
	EvaluationPeriods *float64
	// How many of those periods must breach to raise the alarm.
	// Default: 2.
	DatapointsToAlarm *float64
	// Errors of one function in a period that breach.
	// Default: 1.
	FunctionErrors *float64
	// Throttled invocations of one function in a period that breach.
	// Default: 1.
	FunctionThrottles *float64
	// p99 duration of a function, in percent of its timeout, above which a
	// period breaches.
	// Default: 80.
	FunctionDurationP99Percent *float64
	// Most concurrent executions of a function with reserved concurrency,
	// in percent of the reservation, above which a period breaches.
	// Default: 80.
	FunctionConcurrencyPercent *float64
	// 5XX answers of the API stage in a period that breach.
	// Default: 1.
	Api5xxErrors *float64
	// p99 latency of the API stage in milliseconds above which a period breaches.
	// Default: 1000.
	ApiLatencyP99Ms *float64
	// Share of 4XX answers of the API stage, in percent, above which a period breaches.
	// Default: 5.
	Api4xxRatePercent *float64
	// Throttled requests of one table in a period that breach.
	// Default: 1.
	TableThrottledRequests *float64
	// DynamoDB system errors of one table in a period that breach.
	// Default: 1.
	TableSystemErrors *float64
	// Requests the functions refused in a period, 403, because the caller
	// may not call the operation or not on that vehicle, that breach: the
	// gateway's policy refuses these first, so any means a grant or a
	// policy let one through, or someone tries another vehicle's data.
	// Default: 1.
	AccessRefused *float64
}

// DefaultAlarmThresholds returns the thresholds an unset field takes, every
// field set.
func DefaultAlarmThresholds() AlarmThresholds { return (*AlarmThresholds)(nil).withDefaults() }

// withDefaults returns a copy of t with every unset field at its default.
func (t *AlarmThresholds) withDefaults() AlarmThresholds {
	var d AlarmThresholds
	if t != nil {
		d = *t
	}
	if d.Period == nil {
		d.Period = awscdk.Duration_Minutes(jsii.Number(5))
	}
	for _, f := range []struct {
		field **float64
		def   float64
	}{
		{&d.EvaluationPeriods, 3}, {&d.DatapointsToAlarm, 2},
		{&d.FunctionErrors, 1}, {&d.FunctionThrottles, 1}, {&d.FunctionDurationP99Percent, 80}, {&d.FunctionConcurrencyPercent, 80},
		{&d.Api5xxErrors, 1}, {&d.ApiLatencyP99Ms, 1000}, {&d.Api4xxRatePercent, 5},
		{&d.TableThrottledRequests, 1}, {&d.TableSystemErrors, 1}, {&d.AccessRefused, 1},
	} {
		if *f.field == nil {
			*f.field = jsii.Number(f.def)
		}
	}
	return d
}

// maxAlarmWindowMinutes is CloudWatch's bound on the time an alarm
// evaluates at once: periods × evaluation periods at most one day.
const maxAlarmWindowMinutes = 24 * 60

func (t *AlarmThresholds) validate() error {
	d := t.withDefaults()
	minutes := *d.Period.ToMinutes(&awscdk.TimeConversionOptions{Integral: jsii.Bool(false)})
	if !unresolved(minutes) && (minutes < 1 || minutes != float64(int(minutes))) {
		return &PropError{"alarmThresholds.period", minutes, "allowed are whole minutes, at least 1"}
	}
	n, m := *d.EvaluationPeriods, *d.DatapointsToAlarm
	if n < 1 || n != float64(int(n)) {
		return &PropError{"alarmThresholds.evaluationPeriods", n, "allowed are whole numbers of at least 1"}
	}
	if m < 1 || m > n || m != float64(int(m)) {
		return &PropError{"alarmThresholds.datapointsToAlarm", m, fmt.Sprintf("allowed are whole numbers from 1 to evaluationPeriods (%v)", n)}
	}
	if !unresolved(minutes) && minutes*n > maxAlarmWindowMinutes {
		return &PropError{"alarmThresholds.evaluationPeriods", n, fmt.Sprintf("period × evaluationPeriods must be at most one day (%d minutes), got %v minutes", maxAlarmWindowMinutes, minutes*n)}
	}
	counts := map[string]*float64{
		"functionErrors": d.FunctionErrors, "functionThrottles": d.FunctionThrottles, "api5xxErrors": d.Api5xxErrors,
		"tableThrottledRequests": d.TableThrottledRequests, "tableSystemErrors": d.TableSystemErrors,
		"accessRefused": d.AccessRefused,
	}
	for _, name := range slices.Sorted(maps.Keys(counts)) {
		if v := *counts[name]; v < 1 || v != float64(int(v)) {
			return &PropError{"alarmThresholds." + name, v, "allowed are whole numbers of at least 1 per period"}
		}
	}
	percents := map[string]*float64{
		"functionDurationP99Percent": d.FunctionDurationP99Percent, "functionConcurrencyPercent": d.FunctionConcurrencyPercent,
		"api4xxRatePercent": d.Api4xxRatePercent,
	}
	for _, name := range slices.Sorted(maps.Keys(percents)) {
		if v := *percents[name]; v <= 0 || v > 100 {
			return &PropError{"alarmThresholds." + name, v, "allowed range is (0, 100] percent"}
		}
	}
	if v := *d.ApiLatencyP99Ms; v < 1 || v > maxIntegrationTimeoutMs {
		return &PropError{"alarmThresholds.apiLatencyP99Ms", v, fmt.Sprintf("allowed range is 1 to %d ms (API Gateway's integration timeout)", maxIntegrationTimeoutMs)}
	}
	return nil
}

// addAlarmTopic sets the topic the alarms notify: the one of the props, or
// a topic of the construct. CloudWatch alarms cannot publish to a topic
// encrypted with the AWS-managed SNS key, whose policy cannot be changed:
// the topic's key is customer-managed, and its policy lets CloudWatch and
// AWS Budgets use it.
func (f *FleetApi) addAlarmTopic(p FleetApiProps) {
	if p.AlarmTopic != nil {
		f.alarmTopic = p.AlarmTopic
	} else {
		key := awskms.NewKey(f, jsii.String("AlarmTopicKey"), &awskms.KeyProps{
			Description:       jsii.String("Encrypts the FleetApi alarm topic; CloudWatch and AWS Budgets may use it to publish"),
			EnableKeyRotation: jsii.Bool(true),
			RemovalPolicy:     p.RemovalPolicy,
		})
		key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:        jsii.String("AllowAlarmAndBudgetNotifications"),
			Principals: &[]awsiam.IPrincipal{alarmPublisher(), budgetPublisher()},
			Actions:    jsii.Strings("kms:Decrypt", "kms:GenerateDataKey*"),
			Resources:  jsii.Strings("*"),
		}), nil)
		topic := awssns.NewTopic(f, jsii.String("AlarmTopic"), &awssns.TopicProps{
			DisplayName: jsii.String("FleetApi alarms"),
			MasterKey:   key,
			EnforceSSL:  jsii.Bool(true),
		})
		// A topic policy replaces SNS's default one, which let the
		// account's services publish: say who may, each for this account only.
		stack := awscdk.Stack_Of(f)
		allowPublish := func(sid string, principal awsiam.IPrincipal, sourceArn string) {
			topic.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid:        jsii.String(sid),
				Principals: &[]awsiam.IPrincipal{principal},
				Actions:    jsii.Strings("sns:Publish"),
				Resources:  jsii.Strings(*topic.TopicArn()),
				Conditions: &map[string]any{
					"StringEquals": map[string]any{"aws:SourceAccount": stack.Account()},
					"ArnLike":      map[string]any{"aws:SourceArn": sourceArn},
				},
			}))
		}
		allowPublish("AllowAlarms", alarmPublisher(), fmt.Sprintf("arn:%s:cloudwatch:%s:%s:alarm:*", *stack.Partition(), *stack.Region(), *stack.Account()))
		allowPublish("AllowBudgets", budgetPublisher(), fmt.Sprintf("arn:%s:budgets::%s:*", *stack.Partition(), *stack.Account()))
		f.alarmTopic = topic
	}
	if p.AlarmEmails != nil {
		for _, e := range *p.AlarmEmails {
			f.alarmTopic.AddSubscription(awssnssubscriptions.NewEmailSubscription(e, nil))
		}
	}
	if p.AlarmTopic == nil && p.CriticalAlarmTopic == nil && (p.AlarmEmails == nil || len(*p.AlarmEmails) == 0) {
		awscdk.Annotations_Of(f).AddWarningV2(jsii.String(WarningNoAlarmSubscriber), jsii.String(
			"no one is told of the alarms and the budget: the construct's alarm topic has no subscription; "+
				"set AlarmEmails (each address must confirm the subscription SNS mails it) or give AlarmTopic or CriticalAlarmTopic"), nil)
	}
}

// WarningNoAlarmSubscriber is the ID of the synthesis warning of a
// FleetApi whose alarms notify a topic of its own without a subscriber.
const WarningNoAlarmSubscriber = "fleetapi:noAlarmSubscriber"

func alarmPublisher() awsiam.IPrincipal {
	return awsiam.NewServicePrincipal(jsii.String("cloudwatch.amazonaws.com"), nil)
}

func budgetPublisher() awsiam.IPrincipal {
	return awsiam.NewServicePrincipal(jsii.String("budgets.amazonaws.com"), nil)
}

// Severities of an alarm.
const (
	// SeverityCritical alarms mean callers fail now: page someone.
	SeverityCritical = "critical"
	// SeverityWarning alarms mean trouble ahead or a degraded service.
	SeverityWarning = "warning"
)

// Severities lists the severities, the most urgent first.
func Severities() []string { return []string{SeverityCritical, SeverityWarning} }

// DefaultAlarmSeverities returns the severity of each kind of alarm, by
// the kind's key in docs/operating.md (FUNCTION and TABLE stand for each
// function and table): critical when callers fail now (answers 5xx,
// invocations fail or are throttled, a caller reaches what it may not),
// warning for what degrades or comes next.
func DefaultAlarmSeverities() map[string]string {
	return map[string]string{
		"Api-5XXError": SeverityCritical, "Api-AccessRefused": SeverityCritical,
		"FUNCTION-Errors": SeverityCritical, "FUNCTION-Throttles": SeverityCritical,
		"Api-Latency-p99": SeverityWarning, "Api-4XXError-rate": SeverityWarning,
		"FUNCTION-Duration-p99": SeverityWarning, "FUNCTION-ConcurrentExecutions": SeverityWarning,
		"TABLE-ThrottledRequests": SeverityWarning, "TABLE-SystemErrors": SeverityWarning,
		// MQTT uploads (MqttUploads): a vehicle deleted the upload on its
		// PUBACK, so one not stored is lost unless someone redrives it.
		"Uploads-RuleFailures": SeverityCritical, "Uploads-RuleThrottled": SeverityCritical, "Uploads-FailureQueue": SeverityCritical,
		// The objectives' composite alarms: the budget burns fast enough to
		// be spent within days.
		"Uploads-Availability-BurnRate": SeverityCritical, "Uploads-Latency-BurnRate": SeverityCritical,
		"Reads-Availability-BurnRate": SeverityCritical, "Reads-Latency-BurnRate": SeverityCritical,
	}
}

// alarmSeverities returns the defaults with the props' overrides.
func (p FleetApiProps) alarmSeverities() map[string]string {
	out := DefaultAlarmSeverities()
	if p.AlarmSeverities != nil {
		for kind, severity := range *p.AlarmSeverities {
			if severity != nil {
				out[kind] = *severity
			}
		}
	}
	return out
}

// validateSeverities requires known kinds and severities.
func (p FleetApiProps) validateSeverities() error {
	if p.AlarmSeverities == nil {
		return nil
	}
	kinds := slices.Sorted(maps.Keys(DefaultAlarmSeverities()))
	for _, kind := range slices.Sorted(maps.Keys(*p.AlarmSeverities)) {
		if !slices.Contains(kinds, kind) {
			return &PropError{"alarmSeverities", fmt.Sprintf("%q", kind), "allowed keys are the kinds of alarm: " + strings.Join(kinds, ", ")}
		}
		if v := (*p.AlarmSeverities)[kind]; v == nil || !slices.Contains(Severities(), *v) {
			return &PropError{"alarmSeverities." + kind, fmt.Sprint(deref(v)), "allowed values are " + strings.Join(Severities(), ", ")}
		}
	}
	return nil
}

func deref(s *string) string {
	if s == nil {
		return "(none)"
	}
	return fmt.Sprintf("%q", *s)
}

// alarmSpec is one alarm to define.
type alarmSpec struct {
	id, subject, what string
	metric            awscloudwatch.IMetric
	threshold         float64
	op                awscloudwatch.ComparisonOperator
	// missing is chosen per alarm: a count that has no data point had no
	// event (not breaching); a latency or rate without traffic says
	// nothing, so the alarm keeps its state (ignore).
	missing awscloudwatch.TreatMissingData
}

// addAlarms defines the alarms of the functions, the API stage and the
// tables, each notifying the alarm topic when it goes off and when it
// recovers.
func (f *FleetApi) addAlarms(p FleetApiProps) {
	t := p.AlarmThresholds.withDefaults()
	period := &awscloudwatch.MetricOptions{Period: t.Period}
	withStat := func(stat string) *awscloudwatch.MetricOptions {
		return &awscloudwatch.MetricOptions{Period: t.Period, Statistic: jsii.String(stat)}
	}
	var specs []alarmSpec
	timeoutMs := *p.Timeout.ToMilliseconds(nil)
	for _, name := range slices.Sorted(maps.Keys(f.functions)) {
		fn := f.functions[name]
		id := exportedName(name)
		specs = append(specs,
			alarmSpec{id + "Errors", name, "Errors", fn.MetricErrors(period), *t.FunctionErrors, gte, notBreaching},
			alarmSpec{id + "Throttles", name, "Throttles", fn.MetricThrottles(period), *t.FunctionThrottles, gte, notBreaching},
			alarmSpec{id + "DurationP99", name, "Duration-p99", fn.MetricDuration(withStat("p99")), timeoutMs * *t.FunctionDurationP99Percent / 100, gt, ignoreMissing},
		)
		if r := p.ReservedConcurrentExecutions; r != nil && !unresolved(*r) {
			specs = append(specs, alarmSpec{id + "Concurrency", name, "ConcurrentExecutions",
				fn.Metric(jsii.String("ConcurrentExecutions"), withStat("Maximum")), *r * *t.FunctionConcurrencyPercent / 100, gt, ignoreMissing})
		}
	}
	stage := f.restApi.DeploymentStage()
	specs = append(specs,
		alarmSpec{"Api5XXErrors", "Api", "5XXError", f.MetricApiServerErrors(period), *t.Api5xxErrors, gte, notBreaching},
		alarmSpec{"ApiLatencyP99", "Api", "Latency-p99", f.MetricApiLatency(period), *t.ApiLatencyP99Ms, gt, ignoreMissing},
		// 4XXError is 1 for a 4XX answer, 0 otherwise: its average is the rate.
		alarmSpec{"Api4XXRate", "Api", "4XXError-rate", stage.MetricClientError(withStat("Average")), *t.Api4xxRatePercent / 100, gt, ignoreMissing},
		// No refusal, no data point: not breaching.
		alarmSpec{"ApiAccessRefused", "Api", "AccessRefused", f.MetricAccessRefused(period), *t.AccessRefused, gte, notBreaching},
	)
	for _, table := range []struct {
		id    string
		table awsdynamodb.Table
	}{{"Vehicles", f.vehicles}, {"VehicleEvents", f.events}} {
		tables := map[string]awsdynamodb.Table{"": table.table}
		specs = append(specs,
			alarmSpec{table.id + "ThrottledRequests", table.id, "ThrottledRequests",
				f.tableOperationsMetric("ThrottledRequests", "throttled requests", tables, t.Period),
				*t.TableThrottledRequests, gte, notBreaching},
			alarmSpec{table.id + "SystemErrors", table.id, "SystemErrors",
				f.tableOperationsMetric("SystemErrors", "system errors", tables, t.Period),
				*t.TableSystemErrors, gte, notBreaching},
		)
	}

	if f.uploadRule != nil {
		// Any one is an upload not stored, or not yet: each is an alarm.
		specs = append(specs,
			alarmSpec{"UploadRuleFailures", "Uploads", "RuleFailures", f.uploadRuleMetric("Failure", true, period), 1, gte, notBreaching},
			alarmSpec{"UploadRuleThrottled", "Uploads", "RuleThrottled", f.uploadRuleMetric("RuleMessageThrottled", false, period), 1, gte, notBreaching},
			alarmSpec{"UploadFailureQueue", "Uploads", "FailureQueue", f.uploadFailuresWaiting(period), 1, gte, notBreaching},
		)
	}

	prefix := f.namePrefix()
	severities := p.alarmSeverities()
	topics := map[string]awssns.ITopic{SeverityCritical: f.alarmTopic, SeverityWarning: f.alarmTopic}
	if p.CriticalAlarmTopic != nil {
		topics[SeverityCritical] = p.CriticalAlarmTopic
	}
	if p.WarningAlarmTopic != nil {
		topics[SeverityWarning] = p.WarningAlarmTopic
	}
	actions := map[string]awscloudwatch.IAlarmAction{}
	for severity, topic := range topics {
		actions[severity] = awscloudwatchactions.NewSnsAction(topic)
	}
	f.alarmsBySeverity = map[string][]awscloudwatch.Alarm{}
	for _, s := range specs {
		severity := severities[alarmKind(s, f.functions)]
		action := actions[severity]
		alarm := awscloudwatch.NewAlarm(f, jsii.String(s.id+"Alarm"), &awscloudwatch.AlarmProps{
			AlarmName:          jsii.String(prefix + "-" + s.subject + "-" + s.what),
			AlarmDescription:   jsii.String(fmt.Sprintf("FleetApi %s: %s %s %v in %v of %v periods (%s)", s.subject, s.what, opWords[s.op], s.threshold, *t.DatapointsToAlarm, *t.EvaluationPeriods, severity)),
			Metric:             s.metric,
			Threshold:          jsii.Number(s.threshold),
			ComparisonOperator: s.op,
			EvaluationPeriods:  t.EvaluationPeriods,
			DatapointsToAlarm:  t.DatapointsToAlarm,
			TreatMissingData:   s.missing,
		})
		alarm.AddAlarmAction(action)
		alarm.AddOkAction(action)
		f.alarms = append(f.alarms, alarm)
		f.alarmsBySeverity[severity] = append(f.alarmsBySeverity[severity], alarm)
	}
	f.burnRateBySeverity = map[string][]awscloudwatch.CompositeAlarm{}
	f.addBurnRateAlarms(p, actions)
}

// alarmKind is an alarm's key in docs/operating.md and
// DefaultAlarmSeverities: FUNCTION-Errors for every function's errors.
func alarmKind(s alarmSpec, functions map[string]awslambda.Function) string {
	switch {
	case s.subject == "Api", s.subject == "Uploads":
		return s.subject + "-" + s.what
	case functions[s.subject] != nil:
		return "FUNCTION-" + s.what
	default:
		return "TABLE-" + s.what
	}
}

const (
	gte           = awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD
	gt            = awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD
	notBreaching  = awscloudwatch.TreatMissingData_NOT_BREACHING
	ignoreMissing = awscloudwatch.TreatMissingData_IGNORE
)

var opWords = map[awscloudwatch.ComparisonOperator]string{gte: "at least", gt: "above"}

// namePrefix starts the names of the alarms and the dashboard: the stack's
// name and the construct's ID, e.g. FleetApi-prod-Fleet.
func (f *FleetApi) namePrefix() string {
	return *awscdk.Stack_Of(f).StackName() + "-" + *f.Node().Id()
}

// tableOperationsMetric sums a per-operation DynamoDB metric (Sum) over
// the operations the functions perform on the tables, each term FILLed
// with 0: DynamoDB writes a data point only for an operation that had the
// event, and a sum with a missing term has no data point at all, which
// would drop the very period of a throttle on one operation.
func (f *FleetApi) tableOperationsMetric(name, label string, tables map[string]awsdynamodb.Table, period awscdk.Duration) awscloudwatch.IMetric {
	using := map[string]awscloudwatch.IMetric{}
	for prefix, table := range tables {
		for _, op := range f.tableOperations[table] {
			using[prefix+strings.ToLower(op)] = awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
				Namespace: jsii.String("AWS/DynamoDB"), MetricName: jsii.String(name),
				DimensionsMap: &map[string]*string{"TableName": table.TableName(), "Operation": jsii.String(op)},
				Statistic:     jsii.String("Sum"), Period: period,
			})
		}
	}
	return filledSum(label, using, period)
}

// filledSum is the sum of metrics, keyed by their IDs in metric math, each
// FILLed with 0 so that one without a data point in a period does not
// drop the period.
func filledSum(label string, using map[string]awscloudwatch.IMetric, period awscdk.Duration) awscloudwatch.IMetric {
	var terms []string
	for _, id := range slices.Sorted(maps.Keys(using)) {
		terms = append(terms, "FILL("+id+", 0)")
	}
	return awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
		Expression:   jsii.String(strings.Join(terms, " + ")),
		UsingMetrics: &using,
		Label:        jsii.String(label),
		Period:       period,
	})
}

// addDashboard defines the stage's dashboard: the API, the upload rate,
// the objectives' error budgets, every function and every table.
func (f *FleetApi) addDashboard(p FleetApiProps) {
	minute := awscdk.Duration_Minutes(jsii.Number(1))
	stat := func(s string) *awscloudwatch.MetricOptions {
		return &awscloudwatch.MetricOptions{Period: minute, Statistic: jsii.String(s), Label: jsii.String(s)}
	}
	graph := func(title string, left []awscloudwatch.IMetric, right ...awscloudwatch.IMetric) awscloudwatch.IWidget {
		return awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{
			Title: jsii.String(title), Left: &left, Right: &right, Width: jsii.Number(8), Height: jsii.Number(6),
		})
	}
	stage := f.restApi.DeploymentStage()
	rows := [][]awscloudwatch.IWidget{{
		graph("API requests", []awscloudwatch.IMetric{stage.MetricCount(stat("Sum"))}),
		graph("API 4XX and 5XX", []awscloudwatch.IMetric{
			stage.MetricClientError(&awscloudwatch.MetricOptions{Period: minute, Statistic: jsii.String("Sum"), Label: jsii.String("4XX")}),
			stage.MetricServerError(&awscloudwatch.MetricOptions{Period: minute, Statistic: jsii.String("Sum"), Label: jsii.String("5XX")}),
		}),
		graph("API latency (ms)", []awscloudwatch.IMetric{stage.MetricLatency(stat("p50")), stage.MetricLatency(stat("p99"))}),
	}, {
		graph("Samples ingested per minute", []awscloudwatch.IMetric{f.MetricSamplesIngested(&awscloudwatch.MetricOptions{Period: minute})}),
		graph("Requests refused by the functions (403: caller or vehicle not allowed)", []awscloudwatch.IMetric{f.MetricAccessRefused(&awscloudwatch.MetricOptions{Period: minute})}),
	}, f.errorBudgetWidgets(p)}
	if f.uploadRule != nil {
		labeled := func(label string) *awscloudwatch.MetricOptions {
			return &awscloudwatch.MetricOptions{Period: minute, Label: jsii.String(label)}
		}
		rows = append(rows, []awscloudwatch.IWidget{
			graph("MQTT uploads: messages the rule handed on", []awscloudwatch.IMetric{
				f.uploadRuleMetric("Success", true, labeled("to the ingest function")), f.uploadRuleMetric("Failure", true, labeled("failed")),
			}, f.uploadRuleMetric("RuleMessageThrottled", false, labeled("throttled"))),
			graph("MQTT uploads not stored, waiting in the failure queue", []awscloudwatch.IMetric{f.uploadFailuresWaiting(labeled("messages"))}),
		})
	}
	for _, name := range slices.Sorted(maps.Keys(f.functions)) {
		fn := f.functions[name]
		rows = append(rows, []awscloudwatch.IWidget{
			graph(name+": invocations and errors", []awscloudwatch.IMetric{fn.MetricInvocations(stat("Sum")), fn.MetricErrors(stat("Sum"))},
				fn.MetricThrottles(&awscloudwatch.MetricOptions{Period: minute, Statistic: jsii.String("Sum"), Label: jsii.String("Throttles")})),
			graph(name+": duration (ms)", []awscloudwatch.IMetric{fn.MetricDuration(stat("p50")), fn.MetricDuration(stat("p99"))}),
			graph(name+": concurrency", []awscloudwatch.IMetric{fn.Metric(jsii.String("ConcurrentExecutions"), stat("Maximum"))}),
		})
	}
	for _, table := range []struct {
		title string
		table awsdynamodb.Table
	}{{"vehicles", f.vehicles}, {"vehicleEvents", f.events}} {
		rows = append(rows, []awscloudwatch.IWidget{
			graph(table.title+": consumed units", []awscloudwatch.IMetric{
				table.table.MetricConsumedReadCapacityUnits(&awscloudwatch.MetricOptions{Period: minute, Statistic: jsii.String("Sum"), Label: jsii.String("read")}),
				table.table.MetricConsumedWriteCapacityUnits(&awscloudwatch.MetricOptions{Period: minute, Statistic: jsii.String("Sum"), Label: jsii.String("write")}),
			}),
			graph(table.title+": throttled requests", []awscloudwatch.IMetric{
				f.tableOperationsMetric("ThrottledRequests", "throttled requests", map[string]awsdynamodb.Table{"": table.table}, minute),
			}),
		})
	}
	widgets := make([]*[]awscloudwatch.IWidget, len(rows))
	for i := range rows {
		widgets[i] = &rows[i]
	}
	// Dashboard names are the account's, across Regions: the Region in it
	// lets one stage deploy to two Regions of an account.
	f.dashboard = awscloudwatch.NewDashboard(f, jsii.String("Dashboard"), &awscloudwatch.DashboardProps{
		DashboardName: jsii.String(f.namePrefix() + "-" + *awscdk.Stack_Of(f).Region()),
		Widgets:       &widgets,
	})
}

// MetricSamplesIngested is the number of samples stored by uploads (a
// retried upload stores none), which the ingest function writes into its
// log lines in CloudWatch embedded metric format.
// Default statistic: Sum, over 5 minutes.
func (f *FleetApi) MetricSamplesIngested(opts *awscloudwatch.MetricOptions) awscloudwatch.Metric {
	return functionMetric(metrics.SamplesIngested, f.function(f.spec.Upload().Function).FunctionName(), metricOptions(opts, "Sum"))
}

// MetricAccessRefused is the number of requests the functions refused,
// 403, because the caller may not call the operation or not on the
// vehicle it names (metrics.AccessRefused, which each function writes into
// its log line in CloudWatch embedded metric format), over all functions.
// Default statistic: Sum, over 5 minutes.
func (f *FleetApi) MetricAccessRefused(opts *awscloudwatch.MetricOptions) awscloudwatch.IMetric {
	o := metricOptions(opts, "Sum")
	return sumOf("refused requests", f.functions, o, func(fn awslambda.Function) awscloudwatch.IMetric {
		return functionMetric(metrics.AccessRefused, fn.FunctionName(), o)
	})
}

// MetricApiServerErrors is the number of 5XX answers of the API stage.
// Default statistic: Sum, over 5 minutes.
func (f *FleetApi) MetricApiServerErrors(opts *awscloudwatch.MetricOptions) awscloudwatch.Metric {
	return stageMetric("5XXError", f.restApi.RestApiName(), f.restApi.DeploymentStage().StageName(), metricOptions(opts, "Sum"))
}

// MetricApiLatency is the latency of the API stage's answers in milliseconds.
// Default statistic: p99, over 5 minutes.
func (f *FleetApi) MetricApiLatency(opts *awscloudwatch.MetricOptions) awscloudwatch.Metric {
	return stageMetric("Latency", f.restApi.RestApiName(), f.restApi.DeploymentStage().StageName(), metricOptions(opts, "p99"))
}

// AlarmTopic is the topic the alarms and the budget notify: subscribe to it.
func (f *FleetApi) AlarmTopic() awssns.ITopic { return f.alarmTopic }

// Alarms lists the construct's metric alarms that notify, to which more
// actions may be added (AddAlarmAction, AddOkAction). The objectives'
// alarms are BurnRateAlarms.
func (f *FleetApi) Alarms() []awscloudwatch.Alarm { return slices.Clone(f.alarms) }

// AlarmsOf lists the metric alarms of a severity (SeverityCritical,
// SeverityWarning); an unknown severity has none.
func (f *FleetApi) AlarmsOf(severity string) []awscloudwatch.Alarm {
	return slices.Clone(f.alarmsBySeverity[severity])
}

// BurnRateAlarms lists the composite alarms of the service level
// objectives (ServiceLevelObjectives), one per objective: each goes off
// when the objective's error budget burns fast over a long and a short
// window. The alarms of the windows have no action of their own.
func (f *FleetApi) BurnRateAlarms() []awscloudwatch.CompositeAlarm {
	return slices.Clone(f.burnRateAlarms)
}

// AddAlarmAction adds actions to every alarm of a severity, the metric
// alarms' and the burn-rate alarms', e.g. a pager's topic to the critical
// ones: they run when an alarm goes off.
func (f *FleetApi) AddAlarmAction(severity string, actions ...awscloudwatch.IAlarmAction) {
	for _, a := range f.alarmsBySeverity[severity] {
		a.AddAlarmAction(actions...)
	}
	for _, a := range f.burnRateBySeverity[severity] {
		a.AddAlarmAction(actions...)
	}
}

// Dashboard is the CloudWatch dashboard of the API.
func (f *FleetApi) Dashboard() awscloudwatch.Dashboard { return f.dashboard }

// metricOptions returns a copy of opts with the statistic set to stat when
// opts names none.
func metricOptions(opts *awscloudwatch.MetricOptions, stat string) *awscloudwatch.MetricOptions {
	var o awscloudwatch.MetricOptions
	if opts != nil {
		o = *opts
	}
	if o.Statistic == nil {
		o.Statistic = jsii.String(stat)
	}
	return &o
}
