package fleetapi

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigateway"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
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
	// How far the vehicles' state may be behind the newest upload the
	// tracker read (its IteratorAge, the batching window included), in
	// whole seconds, before a period breaches.
	// Default: 300.
	StateLagSeconds *float64
	// Vehicles connected and silent (the fleet's figures, every 5
	// minutes) that breach, in two counts in a row: agents that stopped
	// uploading.
	// Default: 1.
	SilentVehicles *float64
	// How far the history may be behind the newest upload its writer read
	// (its IteratorAge, the 5-minute batching window included), in whole
	// seconds, before a period breaches.
	// Default: 900.
	HistoryLagSeconds *float64
}

// DefaultAlarmThresholds returns the thresholds an unset field takes, every
// field set.
func DefaultAlarmThresholds() AlarmThresholds { return (*AlarmThresholds)(nil).withDefaults() }

// withDefaults returns a copy of t with every unset field at its default.
func (t *AlarmThresholds) withDefaults() AlarmThresholds { return withDefaults(thresholdsDeclared, t) }

// maxAlarmWindowMinutes is CloudWatch's bound on the time an alarm
// evaluates at once: periods × evaluation periods at most one day.
const maxAlarmWindowMinutes = 24 * 60

// thresholdsDeclared declares each field of AlarmThresholds once (see
// prop); a settings object sets them under alarmThresholds.
var thresholdsDeclared = []prop[AlarmThresholds]{
	durationProp("period", "periodMinutes", inMinutes, inMinutes, func(t *AlarmThresholds) *awscdk.Duration { return &t.Period }, jsii.Number(5),
		bounds{min: 1, max: math.Inf(1), whole: true, allowed: "allowed are whole minutes, at least 1"}),
	numberProp("evaluationPeriods", "evaluationPeriods", func(t *AlarmThresholds) **float64 { return &t.EvaluationPeriods }, jsii.Number(3),
		bounds{min: 1, max: math.Inf(1), whole: true, allowed: "allowed are whole numbers of at least 1"}),
	{name: "datapointsToAlarm", key: "datapointsToAlarm",
		setDefault: numberProp("", "", func(t *AlarmThresholds) **float64 { return &t.DatapointsToAlarm }, jsii.Number(2), bounds{}).setDefault,
		check: func(t *AlarmThresholds) error {
			n := *t.EvaluationPeriods
			return bounds{min: 1, max: n, whole: true, allowed: fmt.Sprintf("allowed are whole numbers from 1 to evaluationPeriods (%v)", n)}.check("datapointsToAlarm", t.DatapointsToAlarm)
		},
		set: numberProp("", "datapointsToAlarm", func(t *AlarmThresholds) **float64 { return &t.DatapointsToAlarm }, nil, bounds{}).set, docDefault: "2"},
	count("functionErrors", func(t *AlarmThresholds) **float64 { return &t.FunctionErrors }),
	count("functionThrottles", func(t *AlarmThresholds) **float64 { return &t.FunctionThrottles }),
	percent("functionDurationP99Percent", func(t *AlarmThresholds) **float64 { return &t.FunctionDurationP99Percent }, 80),
	percent("functionConcurrencyPercent", func(t *AlarmThresholds) **float64 { return &t.FunctionConcurrencyPercent }, 80),
	count("api5xxErrors", func(t *AlarmThresholds) **float64 { return &t.Api5xxErrors }),
	numberProp("apiLatencyP99Ms", "apiLatencyP99Ms", func(t *AlarmThresholds) **float64 { return &t.ApiLatencyP99Ms }, jsii.Number(1000),
		bounds{min: 1, max: maxIntegrationTimeoutMs, allowed: fmt.Sprintf("allowed range is 1 to %d ms (API Gateway's integration timeout)", maxIntegrationTimeoutMs)}),
	percent("api4xxRatePercent", func(t *AlarmThresholds) **float64 { return &t.Api4xxRatePercent }, 5),
	count("tableThrottledRequests", func(t *AlarmThresholds) **float64 { return &t.TableThrottledRequests }),
	count("tableSystemErrors", func(t *AlarmThresholds) **float64 { return &t.TableSystemErrors }),
	count("accessRefused", func(t *AlarmThresholds) **float64 { return &t.AccessRefused }),
	numberProp("stateLagSeconds", "stateLagSeconds", func(t *AlarmThresholds) **float64 { return &t.StateLagSeconds }, jsii.Number(300),
		bounds{min: 60, max: trackerMaxRecordAgeHours * 3600, whole: true,
			allowed: fmt.Sprintf("allowed are whole seconds from 60 to %d (the age at which the tracker gives a record up)", trackerMaxRecordAgeHours*3600)}),
	numberProp("silentVehicles", "silentVehicles", func(t *AlarmThresholds) **float64 { return &t.SilentVehicles }, jsii.Number(1),
		bounds{min: 1, max: math.Inf(1), whole: true, allowed: "allowed are whole numbers of at least 1 vehicle"}),
	numberProp("historyLagSeconds", "historyLagSeconds", func(t *AlarmThresholds) **float64 { return &t.HistoryLagSeconds }, jsii.Number(900),
		bounds{min: 360, max: historyMaxRecordAgeHours * 3600, whole: true,
			allowed: fmt.Sprintf("allowed are whole seconds from 360 (past the 300-second batching window) to %d (the age at which the writer gives a batch up)", historyMaxRecordAgeHours*3600)}),
}

// count is a threshold of events in a period: 1 by default, whole.
func count(name string, field func(*AlarmThresholds) **float64) prop[AlarmThresholds] {
	return numberProp(name, name, field, jsii.Number(1), bounds{min: 1, max: math.Inf(1), whole: true, allowed: "allowed are whole numbers of at least 1 per period"})
}

// percent is a threshold in percent, above 0.
func percent(name string, field func(*AlarmThresholds) **float64, def float64) prop[AlarmThresholds] {
	return numberProp(name, name, field, jsii.Number(def), bounds{min: 0, aboveMin: true, max: 100, allowed: "allowed range is (0, 100] percent"})
}

// checkAlarmWindow holds an alarm's window to CloudWatch's bound.
func checkAlarmWindow(t *AlarmThresholds) error {
	minutes, n := *inMinutes.in(t.Period), *t.EvaluationPeriods
	if !unresolved(minutes) && minutes*n > maxAlarmWindowMinutes {
		return &PropError{"evaluationPeriods", n, fmt.Sprintf("period × evaluationPeriods must be at most one day (%d minutes), got %v minutes", maxAlarmWindowMinutes, minutes*n)}
	}
	return nil
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
		// A function's share of Api-5XXError, which pages; this one rolls
		// its deployment back.
		"FUNCTION-Api5XXError": SeverityWarning,
		"Api-Latency-p99":      SeverityWarning, "Api-4XXError-rate": SeverityWarning,
		"FUNCTION-Duration-p99": SeverityWarning, "FUNCTION-ConcurrentExecutions": SeverityWarning,
		"TABLE-ThrottledRequests": SeverityWarning, "TABLE-SystemErrors": SeverityWarning,
		// MQTT uploads (MqttUploads): a vehicle deleted the upload on its
		// PUBACK, so one not stored is lost unless someone redrives it.
		"Uploads-RuleFailures": SeverityCritical, "Uploads-RuleErrorActionFailures": SeverityCritical, "Uploads-RuleThrottled": SeverityCritical,
		"Uploads-AsyncEventsDropped": SeverityCritical, "Uploads-DestinationDeliveryFailures": SeverityCritical,
		"Uploads-FailureQueue": SeverityCritical, "Uploads-FailureQueueAge": SeverityCritical,
		// SyntheticVehicle: a vehicle could not get through end to end.
		"SyntheticVehicle-Failures": SeverityCritical,
		// The vehicles' state is behind or missing an update: the API
		// answers, the fleet's view is stale.
		"Tracker-Errors": SeverityWarning, "Tracker-IteratorAge": SeverityWarning, "Tracker-Failures": SeverityWarning,
		// Vehicles connected that stopped uploading: their agents.
		"Fleet-SilentVehicles": SeverityWarning,
		// The history is behind, or the writer gave up on records: a gap
		// in the history unless someone writes them from the stream
		// within the hour before it trims them.
		"History-WriterErrors": SeverityWarning, "History-IteratorAge": SeverityWarning, "History-Failures": SeverityCritical,
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

// monitored is what the alarms and the dashboard watch.
type monitored struct {
	base      *FleetApiBase
	functions functions
	tables    tables
	restApi   awsapigateway.SpecRestApi
	// upload is nil without MqttUploads, synthetic without SyntheticVehicle.
	upload    *uploadPath
	synthetic *syntheticVehicle
	tracker   *trackerResource
	// history is nil without History.
	history *historyResource
}

// alarmSpec is one alarm to define.
type alarmSpec struct {
	// id prefixes the construct ID; kind is the alarm's key in
	// docs/operating.md and DefaultAlarmSeverities, which says its
	// severity; subject and what make its name.
	id, kind, subject, what string
	metric                  awscloudwatch.IMetric
	threshold               float64
	op                      awscloudwatch.ComparisonOperator
	// missing is chosen per alarm: a count that has no data point had no
	// event (not breaching); a latency or rate without traffic says
	// nothing, so the alarm keeps its state (ignore).
	missing awscloudwatch.TreatMissingData
}

// ownPeriods are the evaluation periods, each breaching, of the kinds of
// alarm whose metric has a period of its own (the fleet's figures, every
// figuresEveryMinutes), not the thresholds'.
var ownPeriods = map[string]float64{"Fleet-SilentVehicles": silentVehiclesPeriods}

// Kinds of alarm whose subject is each function or each table: their key
// in docs/operating.md starts with these words.
const (
	kindFunction = "FUNCTION-"
	kindTable    = "TABLE-"
)

// alarms are the construct's alarms and where they notify.
type alarms struct {
	topic awssns.ITopic
	// metric are the metric alarms, bySeverity the same by severity.
	metric     []awscloudwatch.Alarm
	bySeverity map[string][]awscloudwatch.Alarm
	// burnRate are the objectives' composite alarms, also by severity.
	burnRate           []awscloudwatch.CompositeAlarm
	burnRateBySeverity map[string][]awscloudwatch.CompositeAlarm
	// rollback are, by function, the alarms that roll its deployment
	// back: its errors and the API's 5XX of its operations.
	rollback map[string][]awscloudwatch.Alarm
	// trackerRollback roll the tracker's back: its errors.
	trackerRollback []awscloudwatch.Alarm
}

// alarmSpecs lists the alarms of the functions, the API stage, the tables
// and, with MqttUploads, the upload rule, each with its kind.
func alarmSpecs(p FleetApiProps, m monitored) []alarmSpec {
	t := p.AlarmThresholds.withDefaults()
	period := &awscloudwatch.MetricOptions{Period: t.Period}
	withStat := func(stat string) *awscloudwatch.MetricOptions {
		return &awscloudwatch.MetricOptions{Period: t.Period, Statistic: jsii.String(stat)}
	}
	var specs []alarmSpec
	timeoutMs := *p.Timeout.ToMilliseconds(nil)
	for _, name := range m.functions.sorted() {
		fn := m.functions.byName[name]
		id := exportedName(name)
		specs = append(specs,
			alarmSpec{id + "Errors", kindFunction + "Errors", name, "Errors", fn.MetricErrors(period), *t.FunctionErrors, gte, notBreaching},
			alarmSpec{id + "Throttles", kindFunction + "Throttles", name, "Throttles", fn.MetricThrottles(period), *t.FunctionThrottles, gte, notBreaching},
			alarmSpec{id + "DurationP99", kindFunction + "Duration-p99", name, "Duration-p99", fn.MetricDuration(withStat("p99")), timeoutMs * *t.FunctionDurationP99Percent / 100, gt, ignoreMissing},
		)
		// The API's 5XX of the function's operations: a new version that
		// breaks them rolls back (newDeployments).
		specs = append(specs, alarmSpec{id + "Api5XXErrors", kindFunction + "Api5XXError", name, "Api5XXError",
			m.functionServerErrors(name, t.Period), *t.Api5xxErrors, gte, notBreaching})
		if r := p.ReservedConcurrentExecutions; r != nil && !unresolved(*r) {
			specs = append(specs, alarmSpec{id + "Concurrency", kindFunction + "ConcurrentExecutions", name, "ConcurrentExecutions",
				fn.Metric(jsii.String("ConcurrentExecutions"), withStat("Maximum")), *r * *t.FunctionConcurrencyPercent / 100, gt, ignoreMissing})
		}
	}
	stage := m.restApi.DeploymentStage()
	specs = append(specs,
		alarmSpec{"Api5XXErrors", "Api-5XXError", "Api", "5XXError", m.base.MetricApiServerErrors(period), *t.Api5xxErrors, gte, notBreaching},
		alarmSpec{"ApiLatencyP99", "Api-Latency-p99", "Api", "Latency-p99", m.base.MetricApiLatency(period), *t.ApiLatencyP99Ms, gt, ignoreMissing},
		// 4XXError is 1 for a 4XX answer, 0 otherwise: its average is the rate.
		alarmSpec{"Api4XXRate", "Api-4XXError-rate", "Api", "4XXError-rate", stage.MetricClientError(withStat("Average")), *t.Api4xxRatePercent / 100, gt, ignoreMissing},
		// No refusal, no data point: not breaching.
		alarmSpec{"ApiAccessRefused", "Api-AccessRefused", "Api", "AccessRefused", m.base.MetricAccessRefused(period), *t.AccessRefused, gte, notBreaching},
	)
	for _, table := range m.tables.each() {
		one := map[string]awsdynamodb.Table{"": table.table}
		specs = append(specs,
			alarmSpec{table.id + "ThrottledRequests", kindTable + "ThrottledRequests", table.id, "ThrottledRequests",
				m.functions.tableOperationsMetric("ThrottledRequests", "throttled requests", one, t.Period),
				*t.TableThrottledRequests, gte, notBreaching},
			alarmSpec{table.id + "SystemErrors", kindTable + "SystemErrors", table.id, "SystemErrors",
				m.functions.tableOperationsMetric("SystemErrors", "system errors", one, t.Period),
				*t.TableSystemErrors, gte, notBreaching},
		)
	}
	if u := m.upload; u != nil {
		// Any one is an upload not stored, or not yet: each is an alarm.
		sum := withStat("Sum")
		specs = append(specs,
			alarmSpec{"UploadRuleFailures", "Uploads-RuleFailures", "Uploads", "RuleFailures", u.ruleActionMetric("Failure", "failed", t.Period), 1, gte, notBreaching},
			// An upload the rule could hand neither to the function nor to
			// the queue: lost but for the vehicle's copy.
			alarmSpec{"UploadRuleErrorActionFailures", "Uploads-RuleErrorActionFailures", "Uploads", "RuleErrorActionFailures",
				u.ruleActionMetric("ErrorActionFailure", "failed to reach the failure queue", t.Period), 1, gte, notBreaching},
			alarmSpec{"UploadRuleThrottled", "Uploads-RuleThrottled", "Uploads", "RuleThrottled", uploadRuleMetric(u.ruleName, "RuleMessageThrottled", period), 1, gte, notBreaching},
			// Lambda gave up on an upload (retries or age spent): it went to
			// the queue, unless DestinationDeliveryFailures says it did not.
			alarmSpec{"UploadAsyncEventsDropped", "Uploads-AsyncEventsDropped", "Uploads", "AsyncEventsDropped",
				u.function.Metric(jsii.String("AsyncEventsDropped"), sum), 1, gte, notBreaching},
			alarmSpec{"UploadDestinationDeliveryFailures", "Uploads-DestinationDeliveryFailures", "Uploads", "DestinationDeliveryFailures",
				u.function.Metric(jsii.String("DestinationDeliveryFailures"), sum), 1, gte, notBreaching},
			alarmSpec{"UploadFailureQueue", "Uploads-FailureQueue", "Uploads", "FailureQueue", u.failuresWaiting(period), 1, gte, notBreaching},
			// Half the queue's retention: redrive before SQS deletes it.
			alarmSpec{"UploadFailureQueueAge", "Uploads-FailureQueueAge", "Uploads", "FailureQueueAge",
				u.failures.MetricApproximateAgeOfOldestMessage(withStat("Maximum")), uploadFailureAgeAlarmSeconds, gte, notBreaching},
		)
	}
	if tr := m.tracker; tr != nil {
		// Its errors: a lifecycle event or a count it failed (a stream
		// batch answers its failures, and is retried).
		specs = append(specs, streamReaderAlarms("Tracker", "Errors", tr.function, tr.failures, *t.FunctionErrors, *t.StateLagSeconds, t.Period)...)
	}
	if tr := m.tracker; tr != nil {
		specs = append(specs, alarmSpec{"FleetSilentVehicles", "Fleet-SilentVehicles", "Fleet", "SilentVehicles",
			tr.fleetMetric(metrics.VehiclesSilent, nil), *t.SilentVehicles, gte, ignoreMissing})
	}
	if h := m.history; h != nil {
		// Its errors: a batch it failed, retried whole.
		specs = append(specs, streamReaderAlarms("History", "WriterErrors", h.function, h.failures, *t.FunctionErrors, *t.HistoryLagSeconds, t.Period)...)
	}
	if sv := m.synthetic; sv != nil {
		// A failed run, or none: the schedule runs it every minute, so a
		// period without a data point is a vehicle that did not get through.
		specs = append(specs, alarmSpec{"SyntheticVehicleFailures", "SyntheticVehicle-Failures", "SyntheticVehicle", "Failures",
			sv.runMetric(t.Period), 1, lt, breaching})
	}
	return specs
}

// streamReaderAlarms are the alarms of a function that reads the events
// table's stream: its errors (errorsName), how far it is behind the newest
// upload it read past lagSeconds (its IteratorAge: the batching window,
// and a backlog beyond it), and anything waiting in its failure queue.
func streamReaderAlarms(group, errorsName string, fn awslambda.Function, failures awssqs.Queue, errors, lagSeconds float64, period awscdk.Duration) []alarmSpec {
	return []alarmSpec{
		{group + errorsName, group + "-" + errorsName, group, errorsName, fn.MetricErrors(&awscloudwatch.MetricOptions{Period: period}), errors, gte, notBreaching},
		{group + "IteratorAge", group + "-IteratorAge", group, "IteratorAge", fn.Metric(jsii.String("IteratorAge"), &awscloudwatch.MetricOptions{Statistic: jsii.String("Maximum"), Period: period}), lagSeconds * 1000, gt, ignoreMissing},
		{group + "Failures", group + "-Failures", group, "Failures", failures.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{Statistic: jsii.String("Maximum"), Period: period}), 1, gte, notBreaching},
	}
}

// alarmActions are the actions of each severity: the props' topic of the
// severity, else the alarm topic.
func alarmActions(p FleetApiProps, topic awssns.ITopic) map[string]awscloudwatch.IAlarmAction {
	topics := map[string]awssns.ITopic{SeverityCritical: topic, SeverityWarning: topic}
	if p.CriticalAlarmTopic != nil {
		topics[SeverityCritical] = p.CriticalAlarmTopic
	}
	if p.WarningAlarmTopic != nil {
		topics[SeverityWarning] = p.WarningAlarmTopic
	}
	actions := map[string]awscloudwatch.IAlarmAction{}
	for severity, t := range topics {
		actions[severity] = awscloudwatchactions.NewSnsAction(t)
	}
	return actions
}

// newAlarms defines the alarm topic, an alarm per alarmSpec and the
// objectives' burn-rate alarms, each notifying the actions of its
// severity when it goes off and when it recovers.
func newAlarms(scope constructs.Construct, p FleetApiProps, m monitored) alarms {
	a := alarms{topic: newAlarmTopic(scope, p), bySeverity: map[string][]awscloudwatch.Alarm{}, burnRateBySeverity: map[string][]awscloudwatch.CompositeAlarm{},
		rollback: map[string][]awscloudwatch.Alarm{}}
	t := p.AlarmThresholds.withDefaults()
	actions := alarmActions(p, a.topic)
	prefix := namePrefix(scope)
	severities := p.alarmSeverities()
	for _, s := range alarmSpecs(p, m) {
		severity, ok := severities[s.kind]
		if !ok {
			panic(fmt.Errorf("fleetapi: alarm %s is of kind %s, which has no severity: known kinds are %s", s.id, s.kind, strings.Join(slices.Sorted(maps.Keys(severities)), ", ")))
		}
		action := actions[severity]
		periods, datapoints := t.EvaluationPeriods, t.DatapointsToAlarm
		if n, ok := ownPeriods[s.kind]; ok {
			periods, datapoints = jsii.Number(n), jsii.Number(n)
		}
		alarm := awscloudwatch.NewAlarm(scope, jsii.String(s.id+"Alarm"), &awscloudwatch.AlarmProps{
			AlarmName:          jsii.String(prefix + "-" + s.subject + "-" + s.what),
			AlarmDescription:   jsii.String(fmt.Sprintf("FleetApi %s: %s %s %v in %v of %v periods (%s)", s.subject, s.what, opWords[s.op], s.threshold, *datapoints, *periods, severity)),
			Metric:             s.metric,
			Threshold:          jsii.Number(s.threshold),
			ComparisonOperator: s.op,
			EvaluationPeriods:  periods,
			DatapointsToAlarm:  datapoints,
			TreatMissingData:   s.missing,
		})
		alarm.AddAlarmAction(action)
		alarm.AddOkAction(action)
		a.metric = append(a.metric, alarm)
		a.bySeverity[severity] = append(a.bySeverity[severity], alarm)
		switch s.kind {
		case kindFunction + "Errors", kindFunction + "Api5XXError":
			a.rollback[s.subject] = append(a.rollback[s.subject], alarm)
		case "Tracker-Errors":
			a.trackerRollback = append(a.trackerRollback, alarm)
		case "SyntheticVehicle-Failures":
			// Every function's deployment: a vehicle that cannot get through
			// end to end is a deploy to take back, whichever broke it.
			for _, name := range m.functions.sorted() {
				a.rollback[name] = append(a.rollback[name], alarm)
			}
		}
	}
	for _, c := range newBurnRateAlarms(scope, p, m, actions) {
		a.burnRate = append(a.burnRate, c.alarm)
		a.burnRateBySeverity[c.severity] = append(a.burnRateBySeverity[c.severity], c.alarm)
	}
	return a
}

const (
	gte           = awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD
	gt            = awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD
	lt            = awscloudwatch.ComparisonOperator_LESS_THAN_THRESHOLD
	notBreaching  = awscloudwatch.TreatMissingData_NOT_BREACHING
	breaching     = awscloudwatch.TreatMissingData_BREACHING
	ignoreMissing = awscloudwatch.TreatMissingData_IGNORE
)

var opWords = map[awscloudwatch.ComparisonOperator]string{gte: "at least", gt: "above", lt: "below"}

// namePrefix starts the names of the alarms and the dashboard: the stack's
// name and the construct's ID, e.g. FleetApi-prod-Fleet.
func namePrefix(scope constructs.Construct) string {
	return *awscdk.Stack_Of(scope).StackName() + "-" + *scope.Node().Id()
}

// newAlarmTopic returns the topic the alarms notify: the one of the
// props, or a topic of the construct. CloudWatch alarms cannot publish to a topic
// encrypted with the AWS-managed SNS key, whose policy cannot be changed:
// the topic's key is customer-managed, and its policy lets CloudWatch and
// AWS Budgets use it.
func newAlarmTopic(scope constructs.Construct, p FleetApiProps) awssns.ITopic {
	topic := p.AlarmTopic
	if topic == nil {
		key := awskms.NewKey(scope, jsii.String("AlarmTopicKey"), &awskms.KeyProps{
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
		own := awssns.NewTopic(scope, jsii.String("AlarmTopic"), &awssns.TopicProps{
			DisplayName: jsii.String("FleetApi alarms"),
			MasterKey:   key,
			EnforceSSL:  jsii.Bool(true),
		})
		// A topic policy replaces SNS's default one, which let the
		// account's services publish: say who may, each for this account only.
		stack := awscdk.Stack_Of(scope)
		allowPublish := func(sid string, principal awsiam.IPrincipal, sourceArn string) {
			own.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid:        jsii.String(sid),
				Principals: &[]awsiam.IPrincipal{principal},
				Actions:    jsii.Strings("sns:Publish"),
				Resources:  jsii.Strings(*own.TopicArn()),
				Conditions: &map[string]any{
					"StringEquals": map[string]any{"aws:SourceAccount": stack.Account()},
					"ArnLike":      map[string]any{"aws:SourceArn": sourceArn},
				},
			}))
		}
		allowPublish("AllowAlarms", alarmPublisher(), fmt.Sprintf("arn:%s:cloudwatch:%s:%s:alarm:*", *stack.Partition(), *stack.Region(), *stack.Account()))
		allowPublish("AllowBudgets", budgetPublisher(), fmt.Sprintf("arn:%s:budgets::%s:*", *stack.Partition(), *stack.Account()))
		topic = own
	}
	if p.AlarmEmails != nil {
		for _, e := range *p.AlarmEmails {
			topic.AddSubscription(awssnssubscriptions.NewEmailSubscription(e, nil))
		}
	}
	if p.AlarmTopic == nil && p.CriticalAlarmTopic == nil && (p.AlarmEmails == nil || len(*p.AlarmEmails) == 0) {
		awscdk.Annotations_Of(scope).AddWarningV2(jsii.String(WarningNoAlarmSubscriber), jsii.String(
			"no one is told of the alarms and the budget: the construct's alarm topic has no subscription; "+
				"set AlarmEmails (each address must confirm the subscription SNS mails it) or give AlarmTopic or CriticalAlarmTopic"), nil)
	}
	return topic
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

// AlarmTopic is the topic the alarms and the budget notify: subscribe to it.
func (f *FleetApi) AlarmTopic() awssns.ITopic { return f.alarms.topic }

// Alarms lists the construct's metric alarms that notify, to which more
// actions may be added (AddAlarmAction, AddOkAction). The objectives'
// alarms are BurnRateAlarms.
func (f *FleetApi) Alarms() []awscloudwatch.Alarm { return slices.Clone(f.alarms.metric) }

// AlarmsOf lists the metric alarms of a severity (SeverityCritical,
// SeverityWarning); an unknown severity has none.
func (f *FleetApi) AlarmsOf(severity string) []awscloudwatch.Alarm {
	return slices.Clone(f.alarms.bySeverity[severity])
}

// BurnRateAlarms lists the composite alarms of the service level
// objectives (ServiceLevelObjectives), one per objective: each goes off
// when the objective's error budget burns fast over a long and a short
// window. The alarms of the windows have no action of their own.
func (f *FleetApi) BurnRateAlarms() []awscloudwatch.CompositeAlarm {
	return slices.Clone(f.alarms.burnRate)
}

// AddAlarmAction adds actions to every alarm of a severity, the metric
// alarms' and the burn-rate alarms', e.g. a pager's topic to the critical
// ones: they run when an alarm goes off.
func (f *FleetApi) AddAlarmAction(severity string, actions ...awscloudwatch.IAlarmAction) {
	for _, a := range f.alarms.bySeverity[severity] {
		a.AddAlarmAction(actions...)
	}
	for _, a := range f.alarms.burnRateBySeverity[severity] {
		a.AddAlarmAction(actions...)
	}
}
