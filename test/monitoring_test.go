package test

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/fleetapi/fleetapi/constructs/fleetapi"
	"github.com/fleetapi/fleetapi/internal/shared/metrics"
	"github.com/fleetapi/fleetapi/internal/testutil/cdktest"
	"github.com/fleetapi/fleetapi/internal/testutil/metricmath"
)

// TestAlarms checks every stage's alarms: one per function for errors,
// throttles, p99 duration and its operations' 5XX (and concurrency where it is reserved), four
// for the API stage (the functions' refusals among them), two per table; thresholds and evaluation from the
// stage table; missing data chosen per alarm; each notifying the alarm
// topic when it goes off and when it recovers.
func TestAlarms(t *testing.T) {
	forEachStage(t, func(t *testing.T, stageName string, s *synthesis) {
		cfg := stageSettings(t, stageName)
		topicID := onlyID(t, s, "AWS::SNS::Topic")
		// The stage's thresholds over the construct's defaults.
		d := fleetapi.DefaultAlarmThresholds()
		a := cfg.AlarmThresholds
		or := func(v *int, def *float64) float64 {
			if v != nil {
				return float64(*v)
			}
			return *def
		}
		pct := func(v, def *float64) float64 {
			if v != nil {
				return *v
			}
			return *def
		}
		period := *d.Period.ToSeconds(nil)
		if a.PeriodMinutes != nil {
			period = float64(*a.PeriodMinutes * 60)
		}
		evaluations, datapoints := or(a.EvaluationPeriods, d.EvaluationPeriods), or(a.DatapointsToAlarm, d.DatapointsToAlarm)
		timeoutMs := float64(cfg.LambdaTimeoutSeconds * 1000)
		type want struct {
			threshold float64
			missing   string
		}
		wants := map[string]want{}
		for _, fn := range []string{"events", "ingest", "vehicles"} {
			wants[fn+"-Errors"] = want{or(a.FunctionErrors, d.FunctionErrors), "notBreaching"}
			wants[fn+"-Throttles"] = want{or(a.FunctionThrottles, d.FunctionThrottles), "notBreaching"}
			// The API's 5XX of the function's operations (TestDeploymentsRollBack).
			wants[fn+"-Api5XXError"] = want{or(a.Api5xxErrors, d.Api5xxErrors), "notBreaching"}
			wants[fn+"-Duration-p99"] = want{timeoutMs * pct(a.FunctionDurationP99Percent, d.FunctionDurationP99Percent) / 100, "ignore"}
			if cfg.LambdaReservedConcurrency > 0 {
				wants[fn+"-ConcurrentExecutions"] = want{float64(cfg.LambdaReservedConcurrency) * pct(a.FunctionConcurrencyPercent, d.FunctionConcurrencyPercent) / 100, "ignore"}
			}
		}
		wants["Api-5XXError"] = want{or(a.Api5xxErrors, d.Api5xxErrors), "notBreaching"}
		wants["Api-Latency-p99"] = want{or(a.ApiLatencyP99Ms, d.ApiLatencyP99Ms), "ignore"}
		wants["Api-4XXError-rate"] = want{pct(a.Api4xxRatePercent, d.Api4xxRatePercent) / 100, "ignore"}
		wants["Api-AccessRefused"] = want{or(a.AccessRefused, d.AccessRefused), "notBreaching"}
		for _, table := range []string{"Vehicles", "VehicleEvents", "VehicleState"} {
			wants[table+"-ThrottledRequests"] = want{or(a.TableThrottledRequests, d.TableThrottledRequests), "notBreaching"}
			wants[table+"-SystemErrors"] = want{or(a.TableSystemErrors, d.TableSystemErrors), "notBreaching"}
		}
		if cfg.MqttUploads {
			// Any failed, throttled, dropped or queued MQTT upload.
			for _, what := range []string{"RuleFailures", "RuleErrorActionFailures", "RuleThrottled", "AsyncEventsDropped", "DestinationDeliveryFailures", "FailureQueue"} {
				wants["Uploads-"+what] = want{1, "notBreaching"}
			}
			// Half the failure queue's 14 days.
			wants["Uploads-FailureQueueAge"] = want{7 * 86400, "notBreaching"}
		}
		if cfg.SyntheticVehicle {
			// A failed run, or none (TestSyntheticVehicle).
			wants["SyntheticVehicle-Failures"] = want{1, "breaching"}
		}
		// The tracker's: an error, a state behind by the stage's lag (the
		// IteratorAge, in ms), anything given up on (TestTracker).
		wants["Tracker-Errors"] = want{or(a.FunctionErrors, d.FunctionErrors), "notBreaching"}
		wants["Tracker-IteratorAge"] = want{1000 * or(a.StateLagSeconds, d.StateLagSeconds), "ignore"}
		wants["Tracker-Failures"] = want{1, "notBreaching"}
		// Two counts in a row, every 5 minutes, whatever the stage's period.
		silentVehicles := "Fleet-SilentVehicles"
		wants[silentVehicles] = want{or(a.SilentVehicles, d.SilentVehicles), "ignore"}
		if cfg.History {
			// The history writer's: a failed batch, a history behind by
			// the stage's lag (ms), anything given up on (TestHistory).
			wants["History-WriterErrors"] = want{or(a.FunctionErrors, d.FunctionErrors), "notBreaching"}
			wants["History-IteratorAge"] = want{1000 * or(a.HistoryLagSeconds, d.HistoryLagSeconds), "ignore"}
			wants["History-Failures"] = want{1, "notBreaching"}
		}

		alarms := s.resourcesOfType("AWS::CloudWatch::Alarm")
		var names []string
		for id, a := range alarms {
			p := a.Properties
			name, _ := p["AlarmName"].(string)
			if burnRateWindow.MatchString(name) && strings.Contains(name, "-BurnRate-") {
				continue // TestBurnRateAlarms
			}
			names = append(names, name)
			key, ok := strings.CutPrefix(name, "FleetApi-"+stageName+"-Fleet-")
			w, known := wants[key]
			if !ok || !known {
				t.Errorf("%s: unexpected alarm %q", id, name)
				continue
			}
			delete(wants, key)
			if p["Threshold"] != w.threshold || p["TreatMissingData"] != w.missing {
				t.Errorf("%s: threshold %v, missing data %v; want %v, %v", name, p["Threshold"], p["TreatMissingData"], w.threshold, w.missing)
			}
			wantEvaluations, wantDatapoints, wantPeriod := evaluations, datapoints, period
			if key == silentVehicles {
				wantEvaluations, wantDatapoints, wantPeriod = 2, 2, 300
			}
			if p["EvaluationPeriods"] != wantEvaluations || p["DatapointsToAlarm"] != wantDatapoints {
				t.Errorf("%s: %v of %v periods, want %v of %v", name, p["DatapointsToAlarm"], p["EvaluationPeriods"], wantDatapoints, wantEvaluations)
			}
			if got := alarmPeriod(p); got != wantPeriod {
				t.Errorf("%s: period %v s, want %v", name, got, wantPeriod)
			}
			for _, actions := range []string{"AlarmActions", "OKActions"} {
				if refs := fmt.Sprint(p[actions]); refs != "[map[Ref:"+topicID+"]]" {
					t.Errorf("%s: %s %s, want the alarm topic %s", name, actions, refs, topicID)
				}
			}
		}
		for key := range wants {
			t.Errorf("no alarm %s", key)
		}
		slices.Sort(names)
		t.Logf("%d alarms: %s", len(names), strings.Join(names, ", "))
	})
}

// TestBurnRateAlarms checks every stage's objectives: per objective, four
// window alarms whose thresholds are the SRE Workbook's burn rates (2 % of
// a 30-day budget in 1 h, 5 % in 6 h; the short window a twelfth of the
// long one) times the error budget of the stage's target, and a composite
// alarm that notifies the alarm topic, with the stage's severity.
func TestBurnRateAlarms(t *testing.T) {
	windows := []struct {
		long, short   string
		longS, shortS float64
		burnRate      float64
	}{{"1h", "5m", 3600, 300, 0.02 * 720 / 1}, {"6h", "30m", 21600, 1800, 0.05 * 720 / 6}}
	forEachStage(t, func(t *testing.T, stageName string, s *synthesis) {
		cfg := stageSettings(t, stageName)
		topicID := onlyID(t, s, "AWS::SNS::Topic")
		def := fleetapi.DefaultServiceLevelObjective()
		byName := map[string]map[string]any{}
		for _, typ := range []string{"AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm"} {
			for _, r := range s.resourcesOfType(typ) {
				byName[r.Properties["AlarmName"].(string)] = r.Properties
			}
		}
		severities := fleetapi.DefaultAlarmSeverities()
		maps.Copy(severities, cfg.AlarmSeverities)
		targets := map[string]float64{}
		for subject, o := range map[string]objectiveSettings{"Uploads": cfg.ServiceLevelObjectives.Uploads, "Reads": cfg.ServiceLevelObjectives.Reads} {
			targets[subject+"-Availability"] = *cmp.Or(o.AvailabilityPercent, def.AvailabilityPercent)
			targets[subject+"-Latency"] = *cmp.Or(o.LatencyPercent, def.LatencyPercent)
		}
		var report []string
		for _, kind := range slices.Sorted(maps.Keys(targets)) {
			name := "FleetApi-" + stageName + "-Fleet-" + kind + "-BurnRate"
			composite, ok := byName[name]
			if !ok {
				t.Errorf("no composite alarm %s", name)
				continue
			}
			severity := severities[kind+"-BurnRate"]
			for _, actions := range []string{"AlarmActions", "OKActions"} {
				if refs := fmt.Sprint(composite[actions]); refs != "[map[Ref:"+topicID+"]]" {
					t.Errorf("%s: %s %s, want the alarm topic", name, actions, refs)
				}
			}
			if d, _ := composite["AlarmDescription"].(string); !strings.HasSuffix(d, "("+severity+")") {
				t.Errorf("%s: description %q, want severity %s", name, d, severity)
			}
			var thresholds []string
			for _, w := range windows {
				for _, win := range []struct {
					label   string
					seconds float64
				}{{w.long, w.longS}, {w.short, w.shortS}} {
					a, ok := byName[name+"-"+win.label]
					if !ok {
						t.Errorf("no alarm %s-%s", name, win.label)
						continue
					}
					want := w.burnRate * (100 - targets[kind])
					if got, _ := a["Threshold"].(float64); math.Abs(got-want) > 1e-9 {
						t.Errorf("%s-%s: threshold %v, want %v × (100 − %v) = %v", name, win.label, got, w.burnRate, targets[kind], want)
					}
					if got := alarmPeriod(a); got != win.seconds {
						t.Errorf("%s-%s: period %v s, want %v", name, win.label, got, win.seconds)
					}
					if a["AlarmActions"] != nil {
						t.Errorf("%s-%s notifies of its own", name, win.label)
					}
				}
				thresholds = append(thresholds, fmt.Sprintf("%s/%s > %.4g %%", w.long, w.short, w.burnRate*(100-targets[kind])))
			}
			report = append(report, fmt.Sprintf("%s %v %% (%s): %s", kind, targets[kind], severity, strings.Join(thresholds, ", ")))
		}
		t.Logf("burn-rate alarms: %s", strings.Join(report, "; "))
	})
}

// alarmPeriod is an alarm's period: of its metric, or of its math
// expression's metrics.
func alarmPeriod(p map[string]any) float64 {
	if v, ok := p["Period"].(float64); ok {
		return v
	}
	for _, m := range asList(p["Metrics"]) {
		if v, ok := dig(m, "MetricStat", "Period").(float64); ok {
			return v
		}
		// A Metrics Insights query has its own period.
		if v, ok := dig(m, "Period").(float64); ok {
			return v
		}
	}
	return 0
}

// TestAlarmTopicAcceptsCloudWatchAndBudgets: CloudWatch alarms cannot
// publish to a topic encrypted with the AWS-managed key alias/aws/sns
// (whose policy cannot be changed), so the topic's key is customer-managed
// and its key policy lets cloudwatch.amazonaws.com and budgets.amazonaws.com
// use it (Amazon SNS Developer Guide, sns-key-management.html#compatibility-with-aws-services,
// "Enable compatibility between event sources from AWS services and
// encrypted topics"; AWS Budgets: "Creating an Amazon SNS topic for budget
// notifications"). A topic policy replaces SNS's default one, so it must
// let both publish, each for this account's own alarms or budgets only
// (aws:SourceAccount, aws:SourceArn).
func TestAlarmTopicAcceptsCloudWatchAndBudgets(t *testing.T) {
	forEachStage(t, func(t *testing.T, stageName string, s *synthesis) {
		topicID := onlyID(t, s, "AWS::SNS::Topic")
		keyID := onlyID(t, s, "AWS::KMS::Key")
		topic := s.resources[topicID]
		if getAttTarget(topic.Properties["KmsMasterKeyId"]) != keyID {
			t.Errorf("topic key %v, want the customer-managed key %s", topic.Properties["KmsMasterKeyId"], keyID)
		}
		key := s.resources[keyID].Properties
		if key["EnableKeyRotation"] != true {
			t.Error("the topic's key does not rotate")
		}
		var keyAllows, topicAllows []string
		for _, st := range asList(dig(key, "KeyPolicy", "Statement")) {
			if dig(st, "Principal", "Service") == nil {
				continue // the account's own administration
			}
			for _, principal := range asStrings(dig(st, "Principal", "Service")) {
				keyAllows = append(keyAllows, principal+" "+strings.Join(asStrings(dig(st, "Action")), ","))
			}
		}
		for _, p := range s.resourcesOfType("AWS::SNS::TopicPolicy") {
			for _, st := range asList(dig(p.Properties, "PolicyDocument", "Statement")) {
				if dig(st, "Effect") != "Allow" {
					continue
				}
				cond, _ := json.Marshal(dig(st, "Condition"))
				for _, principal := range asStrings(dig(st, "Principal", "Service")) {
					topicAllows = append(topicAllows, fmt.Sprintf("%s %v own account %v", principal, dig(st, "Action"), strings.Contains(string(cond), `"aws:SourceAccount":{"Ref":"AWS::AccountId"}`)))
				}
			}
		}
		slices.Sort(keyAllows)
		slices.Sort(topicAllows)
		if want := []string{"budgets.amazonaws.com kms:Decrypt,kms:GenerateDataKey*", "cloudwatch.amazonaws.com kms:Decrypt,kms:GenerateDataKey*"}; !slices.Equal(keyAllows, want) {
			t.Errorf("key policy lets %v, want %v", keyAllows, want)
		}
		if want := []string{"budgets.amazonaws.com sns:Publish own account true", "cloudwatch.amazonaws.com sns:Publish own account true"}; !slices.Equal(topicAllows, want) {
			t.Errorf("topic policy lets %v, want %v", topicAllows, want)
		}
	})
}

// TestBudget: one monthly cost budget per stage, of the stage's amount, for
// the costs tagged with this project and stage, notifying the alarm topic at
// 80 % of the forecast and 100 % of the actual month.
func TestBudget(t *testing.T) {
	forEachStage(t, func(t *testing.T, stageName string, s *synthesis) {
		cfg := stageSettings(t, stageName)
		topic := map[string]any{"Ref": onlyID(t, s, "AWS::SNS::Topic")}
		tags := func(key, value string) map[string]any {
			return map[string]any{"Tags": map[string]any{"Key": key, "MatchOptions": []any{"EQUALS"}, "Values": []any{value}}}
		}
		notify := func(kind string, percent float64) map[string]any {
			return map[string]any{
				"Notification": map[string]any{"NotificationType": kind, "ComparisonOperator": "GREATER_THAN", "Threshold": percent, "ThresholdType": "PERCENTAGE"},
				"Subscribers":  []any{map[string]any{"SubscriptionType": "SNS", "Address": topic}},
			}
		}
		tmpl := assertions.Template_FromJSON(templateMap(t, s), nil)
		cdktest.Check(t, "budget", func() {
			tmpl.ResourceCountIs(jsii.String("AWS::Budgets::Budget"), jsii.Number(1))
			tmpl.HasResourceProperties(jsii.String("AWS::Budgets::Budget"), map[string]any{
				"Budget": map[string]any{
					"BudgetName": assertions.Match_Absent(), "BudgetType": "COST", "TimeUnit": "MONTHLY", "Metrics": []any{"UnblendedCost"},
					"BudgetLimit":      map[string]any{"Amount": cfg.MonthlyBudgetUsd, "Unit": "USD"},
					"FilterExpression": map[string]any{"And": []any{tags("Project", "FleetApi"), tags("Stage", stageName)}},
				},
				"NotificationsWithSubscribers": []any{notify("FORECASTED", 80), notify("ACTUAL", 100)},
			})
		})
	})
}

// TestDashboard: the stage's dashboard graphs the API, every function and
// table, and the samples ingested per minute: the metric the ingest
// function's metric filter makes, under the same namespace, name and
// dimension (internal/shared/metrics), for the ingest function.
func TestDashboard(t *testing.T) {
	forEachStage(t, func(t *testing.T, stageName string, s *synthesis) {
		d := s.resources[onlyID(t, s, "AWS::CloudWatch::Dashboard")].Properties
		// Dashboard names are the account's: the Region in it.
		if got, _ := json.Marshal(d["DashboardName"]); string(got) != `{"Fn::Join":["",["FleetApi-`+stageName+`-Fleet-",{"Ref":"AWS::Region"}]]}` {
			t.Errorf("dashboard name %v", d["DashboardName"])
		}
		body, _ := json.Marshal(d["DashboardBody"])
		ingestID := ""
		for id, fn := range s.resourcesOfType("AWS::Lambda::Function") {
			if strings.HasPrefix(fmt.Sprint(fn.Properties["Description"]), "FleetApi ingest:") {
				ingestID = id
			}
		}
		wantMetric := fmt.Sprintf(`[\"%s\",\"%s\",\"%s\",\"`, metrics.Namespace, metrics.SamplesIngested, metrics.DimensionFunctionName)
		for _, want := range []string{
			wantMetric, `{"Ref":"` + ingestID + `"}`,
			`API requests`, `API 4XX and 5XX`, `API latency (ms)`, `Samples ingested per minute`,
			`ingest: duration (ms)`, `events: concurrency`, `vehicles: invocations and errors`,
			`vehicleEvents: consumed units`, `vehicles: throttled requests`,
		} {
			if !strings.Contains(string(body), want) {
				t.Errorf("dashboard lacks %s", want)
			}
		}
	})
}

// TestSamplesIngestedFilter: the one metric filter reads the ingest
// function's log group (the one its LoggingConfig names) with the pattern,
// value and dimension the handlers' lines are tested against
// (internal/runtime/httpapi TestSamplesIngestedByTheMetricFilter): the
// dimension's value is the line's function member, which the functions'
// logger sets to AWS_LAMBDA_FUNCTION_NAME, the name the dashboard's and
// the alarms' metric names by Ref.
func TestSamplesIngestedFilter(t *testing.T) {
	forEachStage(t, func(t *testing.T, stageName string, s *synthesis) {
		f := s.resources[onlyID(t, s, "AWS::Logs::MetricFilter")].Properties
		var logGroup any
		for _, fn := range s.resourcesOfType("AWS::Lambda::Function") {
			if strings.HasPrefix(fmt.Sprint(fn.Properties["Description"]), "FleetApi ingest:") {
				logGroup = fn.Properties["LoggingConfig"].(map[string]any)["LogGroup"]
			}
		}
		if got, want := mustJSON(f["LogGroupName"]), mustJSON(logGroup); got != want || want == "null" {
			t.Errorf("the filter reads %s, want the ingest function's log group %s", got, want)
		}
		if f["FilterPattern"] != metrics.SamplesIngestedFilterPattern {
			t.Errorf("pattern %v, want %s", f["FilterPattern"], metrics.SamplesIngestedFilterPattern)
		}
		want := fmt.Sprintf(`[{"Dimensions":[{"Key":"%s","Value":"$.%s"}],"MetricName":"%s","MetricNamespace":"%s","MetricValue":"$.%s","Unit":"Count"}]`,
			metrics.DimensionFunctionName, metrics.FieldFunction, metrics.SamplesIngested, metrics.Namespace, metrics.SamplesIngested)
		if got := mustJSON(f["MetricTransformations"]); got != want {
			t.Errorf("transformations %s, want %s", got, want)
		}
	})
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestHardening: access logs hold what on-call needs; the tables' on-demand
// throughput is capped by the stage; only the stage that owns it creates
// API Gateway's account-wide CloudWatch role.
func TestHardening(t *testing.T) {
	forEachStage(t, func(t *testing.T, stageName string, s *synthesis) {
		cfg := stageSettings(t, stageName)
		st := s.resources[onlyID(t, s, "AWS::ApiGateway::Stage")].Properties
		format, _ := dig(st, "AccessLogSetting", "Format").(string)
		var line map[string]string
		if err := json.Unmarshal([]byte(format), &line); err != nil {
			t.Fatalf("access log format is not JSON: %v", err)
		}
		for _, v := range []string{
			"$context.requestId", "$context.extendedRequestId", "$context.identity.userArn", "$context.httpMethod",
			"$context.resourcePath", "$context.status", "$context.integration.status", "$context.integration.error",
			"$context.error.message", "$context.error.responseType", "$context.integration.latency",
			"$context.responseLatency", "$context.xrayTraceId", "$context.identity.userAgent",
		} {
			if !slices.Contains(mapValues(line), v) {
				t.Errorf("access log lacks %s", v)
			}
		}
		for id, table := range s.resourcesOfType("AWS::DynamoDB::Table") {
			got := fmt.Sprint(table.Properties["OnDemandThroughput"])
			want := fmt.Sprintf("map[MaxReadRequestUnits:%d MaxWriteRequestUnits:%d]", cfg.TableMaxReadRequestUnits, cfg.TableMaxWriteRequestUnits)
			if got != want {
				t.Errorf("%s: on-demand throughput %s, want %s", id, got, want)
			}
		}
		accounts := len(s.resourcesOfType("AWS::ApiGateway::Account"))
		if want := map[bool]int{true: 1, false: 0}[cfg.ApiGatewayCloudWatchRole]; accounts != want {
			t.Errorf("%d AWS::ApiGateway::Account, want %d (apiGatewayCloudWatchRole %v)", accounts, want, cfg.ApiGatewayCloudWatchRole)
		}
	})
}

func mapValues(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// onlyID returns the logical ID of the one resource of a type.
func onlyID(t *testing.T, s *synthesis, typ string) string {
	t.Helper()
	rs := s.resourcesOfType(typ)
	if len(rs) != 1 {
		t.Fatalf("%d resources of type %s, want 1", len(rs), typ)
	}
	for id := range rs {
		return id
	}
	return ""
}

// TestEveryAlarmHasARunbook: docs/operating.md has a section for every
// alarm of every stage, its key with the function or table as FUNCTION or
// TABLE.
var burnRateWindow = regexp.MustCompile(`-\d+[mh]$`)

func TestEveryAlarmHasARunbook(t *testing.T) {
	doc, err := os.ReadFile("../docs/operating.md")
	if err != nil {
		t.Fatal(err)
	}
	forEachStage(t, func(t *testing.T, stageName string, s *synthesis) {
		alarms := s.resourcesOfType("AWS::CloudWatch::Alarm")
		maps.Copy(alarms, s.resourcesOfType("AWS::CloudWatch::CompositeAlarm"))
		for id, a := range alarms {
			name, _ := a.Properties["AlarmName"].(string)
			// A burn-rate alarm's windows share its section.
			name = burnRateWindow.ReplaceAllString(name, "")
			key, ok := strings.CutPrefix(name, "FleetApi-"+stageName+"-Fleet-")
			if !ok {
				t.Errorf("%s: alarm name %q", id, name)
				continue
			}
			head, rest, _ := strings.Cut(key, "-")
			switch head {
			case "events", "ingest", "vehicles":
				key = "FUNCTION-" + rest
			case "Vehicles", "VehicleEvents", "VehicleState":
				key = "TABLE-" + rest
			}
			if !strings.Contains(string(doc), "\n### `"+key+"`\n") {
				t.Errorf("alarm %s: docs/operating.md has no section ### `%s`", name, key)
			}
		}
	})
}

// Every alarm on metric math keeps a period in which only one of its
// metrics has a data point: CloudWatch writes per-operation DynamoDB
// metrics and the functions' refusals only when they happen, and a sum
// with a missing term has no value, so each term is FILLed. Evaluated, as
// CloudWatch evaluates the expression, with each metric alone at 1.
func TestSparseMetricsKeepTheirPeriod(t *testing.T) {
	forEachStage(t, func(t *testing.T, stageName string, s *synthesis) {
		checked := 0
		for _, a := range s.resourcesOfType("AWS::CloudWatch::Alarm") {
			queries, err := metricmath.Queries(a.Properties)
			if err != nil {
				continue // a single metric
			}
			name := a.Properties["AlarmName"].(string)
			for _, q := range queries {
				if q.Expression != "" {
					continue
				}
				v, err := metricmath.Evaluate(queries, map[string]metricmath.Value{q.ID: metricmath.Point(1)})
				if err != nil || v.Missing {
					t.Errorf("%s with only %s at 1: %+v, %v: the period is lost", name, q.ID, v, err)
				}
				// A count alarm (the tables', the refusals') breaches on that one point.
				if threshold := a.Properties["Threshold"]; a.Properties["ComparisonOperator"] == "GreaterThanOrEqualToThreshold" && (v.Missing || v.V < threshold.(float64)) {
					t.Errorf("%s with only %s at 1: %v, below its threshold %v", name, q.ID, v.V, threshold)
				}
			}
			checked++
		}
		if checked < 5+16 {
			t.Errorf("%d alarms on metric math, want the tables' four, the refusals' and the 16 burn-rate windows", checked)
		}
	})
}
