package fleetapi

import (
	"fmt"
	"math"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/fleetapi/fleetapi/api"
)

// ServiceLevelObjectives are the API's objectives over a rolling 30 days,
// for uploads and for reads. Each objective is watched by multi-window,
// multi-burn-rate alarms (Google SRE Workbook, "Alerting on SLOs"): a
// composite alarm goes off when the error budget burns 14.4 times as fast
// as the objective allows over both the last hour and the last 5 minutes
// (2 % of the budget in an hour), or 6 times as fast over both the last 6
// hours and the last 30 minutes (5 % in 6 hours).
type ServiceLevelObjectives struct {
	// The objectives of the uploads (the ingest function's operation).
	// Default: - every default of ServiceLevelObjective.
	Uploads *ServiceLevelObjective
	// The objectives of the reads (the API's GET operations).
	// Default: - every default of ServiceLevelObjective.
	Reads *ServiceLevelObjective
}

// ServiceLevelObjective is the share of requests, over a rolling 30 days,
// that the API answers well, as API Gateway's per-method metrics count
// them. A nil field takes its default.
type ServiceLevelObjective struct {
	// Percent of requests answered without a 5XX, below 100 and above
	// 93.06 (the fast burn rate's threshold, 14.4 × the error budget, must
	// stay below 100 %).
	// Default: 99.9.
	AvailabilityPercent *float64
	// Percent of requests answered within LatencyMs, in the same range.
	// Default: 99.
	LatencyPercent *float64
	// Latency in milliseconds within which a request counts as fast, as API
	// Gateway's Latency metric measures it (the whole request, the
	// integration included), whole milliseconds from 1 to 29000.
	// Default: 300.
	LatencyMs *float64
}

// DefaultServiceLevelObjective returns the objective an unset field takes,
// every field set.
func DefaultServiceLevelObjective() ServiceLevelObjective {
	return (*ServiceLevelObjective)(nil).withDefaults()
}

func (o *ServiceLevelObjective) withDefaults() ServiceLevelObjective {
	return withDefaults(objectiveDeclared, o)
}

// burnRateWindows are the SRE Workbook's page-worthy windows: a long
// window that says the budget really burns and a short one, a twelfth of
// it, that says it still does (the alarm resets soon after the burn stops).
var burnRateWindows = []struct {
	long, short float64 // minutes
	burnRate    float64
}{{60, 5, 14.4}, {360, 30, 6}}

// maxAlarmMetrics is CloudWatch's hard limit on the metrics one metric
// math alarm reads.
const maxAlarmMetrics = 10

// sloWindowDays is the period an objective is met over, which the burn
// rates assume (14.4 = 2 % of 30 days' budget in one hour).
const sloWindowDays = 30

// objectiveDeclared declares each field of ServiceLevelObjective once (see
// prop); objectivesDeclared the two objectives. A settings object sets
// them under serviceLevelObjectives.uploads and .reads.
var (
	objectiveDeclared = []prop[ServiceLevelObjective]{
		numberProp("availabilityPercent", "availabilityPercent", func(o *ServiceLevelObjective) **float64 { return &o.AvailabilityPercent }, jsii.Number(99.9), targetBounds),
		numberProp("latencyPercent", "latencyPercent", func(o *ServiceLevelObjective) **float64 { return &o.LatencyPercent }, jsii.Number(99), targetBounds),
		numberProp("latencyMs", "latencyMs", func(o *ServiceLevelObjective) **float64 { return &o.LatencyMs }, jsii.Number(300),
			bounds{min: 1, max: maxIntegrationTimeoutMs, whole: true,
				allowed: fmt.Sprintf("allowed are whole milliseconds from 1 to %d (API Gateway's integration timeout)", maxIntegrationTimeoutMs)}),
	}
	objectivesDeclared = []prop[ServiceLevelObjectives]{
		nested("uploads", "uploads", func(s *ServiceLevelObjectives) **ServiceLevelObjective { return &s.Uploads }, objectiveDeclared, nil),
		nested("reads", "reads", func(s *ServiceLevelObjectives) **ServiceLevelObjective { return &s.Reads }, objectiveDeclared, nil),
	}
)

// minTarget is the lowest target a burn-rate alarm can watch: the fast burn
// rate's threshold, 14.4 × the error budget, must stay below 100 %.
var minTarget = 100 - 100/burnRateWindows[0].burnRate

// targetBounds: 100 itself leaves no budget, every bad request would page.
var targetBounds = bounds{min: minTarget, aboveMin: true, max: 100, belowMax: true, allowed: targetRange(minTarget)}

func targetRange(min float64) string {
	return fmt.Sprintf("allowed range is (%.2f, 100) percent: 100 leaves no error budget, and the fast burn-rate alarm goes off at %v × the budget, which must stay below 100 %%",
		math.Ceil(min*100)/100, burnRateWindows[0].burnRate)
}

// objective is one service level indicator of a set of operations with
// its target.
type objective struct {
	subject   string // Uploads, Reads
	indicator string // Availability, Latency
	target    float64
	latencyMs float64
	ops       []api.Operation
}

// kind is the objective's key in docs/operating.md and
// DefaultAlarmSeverities, which its composite alarm is named after.
func (o objective) kind() string { return o.subject + "-" + o.indicator + "-BurnRate" }

// id names the objective in metric math: uploadsAvailability.
func (o objective) id() string { return strings.ToLower(o.subject[:1]) + o.subject[1:] + o.indicator }

// budgetPercent is the error budget: the percent of requests that may be
// answered badly.
func (o objective) budgetPercent() float64 { return roundPercent(100 - o.target) }

// threshold is the percent of bad requests in a window at which the budget
// burns burnRate times as fast as the objective allows.
func (o objective) threshold(burnRate float64) float64 {
	return roundPercent(burnRate * o.budgetPercent())
}

// objectives lists the stage's objectives: the upload operation's and the
// GET operations' (those not out of them, api.ExtObjective).
func objectives(p FleetApiProps, spec *api.Spec) []objective {
	var s ServiceLevelObjectives
	if p.ServiceLevelObjectives != nil {
		s = *p.ServiceLevelObjectives
	}
	var reads []api.Operation
	for _, op := range spec.Operations {
		if op.Method == "GET" && op.Objective {
			reads = append(reads, op)
		}
	}
	var out []objective
	for _, set := range []struct {
		subject string
		slo     ServiceLevelObjective
		ops     []api.Operation
	}{{"Uploads", s.Uploads.withDefaults(), []api.Operation{spec.Upload()}}, {"Reads", s.Reads.withDefaults(), reads}} {
		out = append(out,
			objective{set.subject, "Availability", *set.slo.AvailabilityPercent, 0, set.ops},
			objective{set.subject, "Latency", *set.slo.LatencyPercent, *set.slo.LatencyMs, set.ops},
		)
	}
	return out
}

// badPercent is the percent of the objective's requests answered badly in
// each period, in metric math over API Gateway's per-method metrics
// (detailed metrics are on): 5XXError over Count, or the share of Latency
// above latencyMs (100 − the percentile rank PR(:latencyMs), which
// CloudWatch defines as the percent of values at most latencyMs) weighted
// by each method's Count. Every term is FILLed: a method without requests
// in a period has no data point, and a sum with a missing term has none
// either. A period without any request is 0.
func (b *FleetApiBase) badPercent(o objective, period awscdk.Duration) awscloudwatch.IMetric {
	apiName, stage := b.apiName, b.stageName
	perMethod := func(name, stat string, op api.Operation) awscloudwatch.IMetric {
		return methodMetric(name, apiName, stage, op.Method, op.Path, &awscloudwatch.MetricOptions{Period: period, Statistic: jsii.String(stat)})
	}
	using := map[string]awscloudwatch.IMetric{}
	var bad, total []string
	for _, op := range o.ops {
		n := "n_" + op.ID
		using[n] = perMethod("Count", "Sum", op)
		total = append(total, fmt.Sprintf("FILL(%s, 0)", n))
		switch o.indicator {
		case "Availability":
			e := "e_" + op.ID
			using[e] = perMethod("5XXError", "Sum", op)
			bad = append(bad, fmt.Sprintf("FILL(%s, 0)", e))
		default:
			pr := "pr_" + op.ID
			using[pr] = perMethod("Latency", *awscloudwatch.Stats_PercentileRank(jsii.Number(o.latencyMs), nil), op)
			bad = append(bad, fmt.Sprintf("(100 - FILL(%s, 100)) / 100 * FILL(%s, 0)", pr, n))
		}
	}
	if len(using) > maxAlarmMetrics {
		panic(fmt.Errorf("fleetapi: the %s objective of %s watches %d operations, %d metrics: a CloudWatch metric math alarm reads at most %d",
			strings.ToLower(o.indicator), strings.ToLower(o.subject), len(o.ops), len(using), maxAlarmMetrics))
	}
	label := map[string]string{"Availability": "% answered 5XX", "Latency": fmt.Sprintf("%% slower than %v ms", o.latencyMs)}[o.indicator]
	sum := func(label string, terms []string) awscloudwatch.IMetric {
		return awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
			Expression: jsii.String(strings.Join(terms, " + ")), UsingMetrics: &using, Label: jsii.String(label), Period: period,
		})
	}
	// IDs of their own: a graph of several objectives holds them all.
	badID, totalID := o.id()+"Bad", o.id()+"Total"
	return awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
		Expression:   jsii.String(fmt.Sprintf("IF(%[2]s > 0, 100 * %[1]s / %[2]s, 0)", badID, totalID)),
		UsingMetrics: &map[string]awscloudwatch.IMetric{badID: sum("bad requests", bad), totalID: sum("requests", total)},
		Label:        jsii.String(strings.ToLower(o.subject) + ": " + label),
		Period:       period,
	})
}

// burnRateAlarm is an objective's composite alarm and its severity.
type burnRateAlarm struct {
	alarm    awscloudwatch.CompositeAlarm
	severity string
}

// newBurnRateAlarms defines, for each objective, an alarm per window on
// its percent of bad requests (no action of its own) and the composite
// alarm that joins them, which notifies by its severity.
func newBurnRateAlarms(scope constructs.Construct, p FleetApiProps, m monitored, actions map[string]awscloudwatch.IAlarmAction) []burnRateAlarm {
	prefix := namePrefix(scope)
	severities := p.alarmSeverities()
	minutes := func(n float64) awscdk.Duration { return awscdk.Duration_Minutes(jsii.Number(n)) }
	var out []burnRateAlarm
	for _, o := range objectives(p, m.base.spec) {
		id := o.subject + o.indicator // construct IDs
		name := prefix + "-" + o.kind()
		window := func(length, burnRate float64) awscloudwatch.Alarm {
			label := windowLabel(length)
			threshold := o.threshold(burnRate)
			return awscloudwatch.NewAlarm(scope, jsii.String(id+"BurnRate"+label+"Alarm"), &awscloudwatch.AlarmProps{
				AlarmName: jsii.String(name + "-" + label),
				AlarmDescription: jsii.String(fmt.Sprintf("FleetApi %s %s over the last %s: bad requests above %v %% (%v × the error budget of %v %%); part of %s",
					strings.ToLower(o.subject), strings.ToLower(o.indicator), label, threshold, burnRate, o.budgetPercent(), name)),
				Metric:             m.base.badPercent(o, minutes(length)),
				Threshold:          jsii.Number(threshold),
				ComparisonOperator: gt,
				EvaluationPeriods:  jsii.Number(1),
				DatapointsToAlarm:  jsii.Number(1),
				TreatMissingData:   notBreaching,
			})
		}
		var rules []awscloudwatch.IAlarmRule
		var parts []string
		for _, w := range burnRateWindows {
			long, short := window(w.long, w.burnRate), window(w.short, w.burnRate)
			rules = append(rules, awscloudwatch.AlarmRule_AllOf(awscloudwatch.AlarmRule_FromAlarm(long, awscloudwatch.AlarmState_ALARM), awscloudwatch.AlarmRule_FromAlarm(short, awscloudwatch.AlarmState_ALARM)))
			parts = append(parts, fmt.Sprintf("%v × over %s and %s", w.burnRate, windowLabel(w.long), windowLabel(w.short)))
		}
		severity, ok := severities[o.kind()]
		if !ok {
			panic(fmt.Errorf("fleetapi: objective alarm %s has no severity", o.kind()))
		}
		composite := awscloudwatch.NewCompositeAlarm(scope, jsii.String(id+"BurnRateAlarm"), &awscloudwatch.CompositeAlarmProps{
			CompositeAlarmName: jsii.String(name),
			AlarmDescription: jsii.String(fmt.Sprintf("FleetApi %s %s objective %v %% over %d days: the error budget burns %s (%s)",
				strings.ToLower(o.subject), strings.ToLower(o.indicator), o.target, sloWindowDays, strings.Join(parts, ", or "), severity)),
			AlarmRule: awscloudwatch.AlarmRule_AnyOf(rules...),
		})
		composite.AddAlarmAction(actions[severity])
		composite.AddOkAction(actions[severity])
		out = append(out, burnRateAlarm{alarm: composite, severity: severity})
	}
	return out
}

// windowLabel writes a window of minutes as its alarm names it: 5m, 1h.
func windowLabel(m float64) string {
	if math.Mod(m, 60) == 0 {
		return fmt.Sprintf("%vh", m/60)
	}
	return fmt.Sprintf("%vm", m)
}

// roundPercent drops the float noise of a difference such as 100 - 99.9.
func roundPercent(v float64) float64 { return math.Round(v*1e6) / 1e6 }

// errorBudgetWidgets are the dashboard's row of objectives: for each, the
// error budget left over the last 30 days (100 % untouched, 0 spent,
// below 0 overspent), and a graph of the burn rates over the last hour.
func errorBudgetWidgets(p FleetApiProps, m monitored) []awscloudwatch.IWidget {
	month := awscdk.Duration_Days(jsii.Number(sloWindowDays))
	hour := awscdk.Duration_Hours(jsii.Number(1))
	var widgets []awscloudwatch.IWidget
	var burnRates []awscloudwatch.IMetric
	for _, o := range objectives(p, m.base.spec) {
		budget := jsii.Number(o.budgetPercent())
		widgets = append(widgets, awscloudwatch.NewSingleValueWidget(&awscloudwatch.SingleValueWidgetProps{
			Title: jsii.String(fmt.Sprintf("%s %s: error budget left, %d days (objective %v %%)", o.subject, strings.ToLower(o.indicator), sloWindowDays, o.target)),
			Metrics: &[]awscloudwatch.IMetric{awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
				Expression:   jsii.String(fmt.Sprintf("100 - 100 * %s / %v", o.id()+"Percent", *budget)),
				UsingMetrics: &map[string]awscloudwatch.IMetric{o.id() + "Percent": m.base.badPercent(o, month)},
				Label:        jsii.String("% of the budget left"),
				Period:       month,
			})},
			Start:                jsii.String(fmt.Sprintf("-P%dD", sloWindowDays)),
			SetPeriodToTimeRange: jsii.Bool(true),
			Width:                jsii.Number(4), Height: jsii.Number(6),
		}))
		burnRates = append(burnRates, awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
			Expression:   jsii.String(fmt.Sprintf("%s / %v", o.id()+"Percent", *budget)),
			UsingMetrics: &map[string]awscloudwatch.IMetric{o.id() + "Percent": m.base.badPercent(o, hour)},
			Label:        jsii.String(strings.ToLower(o.subject + " " + o.indicator)),
			Period:       hour,
		}))
	}
	var annotations []*awscloudwatch.HorizontalAnnotation
	for _, w := range burnRateWindows {
		annotations = append(annotations, &awscloudwatch.HorizontalAnnotation{Value: jsii.Number(w.burnRate), Label: jsii.String(fmt.Sprintf("%v × (pages with the %s window)", w.burnRate, windowLabel(w.short)))})
	}
	widgets = append(widgets, awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{
		Title: jsii.String("Burn rate of the error budgets, 1 h windows (1 = spends it in 30 days)"), Left: &burnRates,
		LeftAnnotations: &annotations, Width: jsii.Number(8), Height: jsii.Number(6),
	}))
	return widgets
}
