package fleetapi_test

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/fleetapi/fleetapi/constructs/fleetapi"
	"github.com/fleetapi/fleetapi/internal/testutil/metricmath"
)

// The Google SRE Workbook's page-worthy burn rates ("Alerting on SLOs",
// table 5-8): 2 % of a 30-day budget in 1 hour, 5 % in 6 hours, each
// with a short window of a twelfth of the long one.
var workbookWindows = []struct {
	long, short string
	seconds     [2]float64
	burnRate    float64
}{
	{"1h", "5m", [2]float64{3600, 300}, 0.02 * 30 * 24 / 1},
	{"6h", "30m", [2]float64{21600, 1800}, 0.05 * 30 * 24 / 6},
}

// alarmsByName lists a template's resources of a type by their name property.
func alarmsByName(t *testing.T, tmpl assertions.Template, typ, nameProp string) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for id, r := range *tmpl.FindResources(jsii.String(typ), nil) {
		props, _ := (*r)["Properties"].(map[string]any)
		name, _ := props[nameProp].(string)
		props["logicalId"] = id
		out[name] = props
	}
	return out
}

// Each objective has four window alarms whose thresholds are the burn
// rate times its error budget, over periods of the window's length, and a
// composite alarm that goes off when both windows of a burn rate do.
func TestBurnRateAlarmsFollowTheTargets(t *testing.T) {
	slo := &fleetapi.ServiceLevelObjectives{
		Uploads: &fleetapi.ServiceLevelObjective{AvailabilityPercent: jsii.Number(99.5), LatencyPercent: jsii.Number(98), LatencyMs: jsii.Number(250)},
	}
	var api *fleetapi.FleetApi
	tmpl := mustBuild(t, &fleetapi.FleetApiProps{ServiceLevelObjectives: slo}, func(_ awscdk.Stack, f *fleetapi.FleetApi) { api = f })
	alarms := alarmsByName(t, tmpl, "AWS::CloudWatch::Alarm", "AlarmName")
	composites := alarmsByName(t, tmpl, "AWS::CloudWatch::CompositeAlarm", "AlarmName")
	if len(composites) != 4 || len(api.BurnRateAlarms()) != 4 {
		t.Fatalf("%d composite alarms in the template, %d BurnRateAlarms, want 4", len(composites), len(api.BurnRateAlarms()))
	}
	def := fleetapi.DefaultServiceLevelObjective()
	for _, o := range []struct {
		kind    string
		target  float64
		latency float64 // ms; 0 for availability
		methods int
	}{
		{"Uploads-Availability", 99.5, 0, 1},
		{"Uploads-Latency", 98, 250, 1},
		{"Reads-Availability", *def.AvailabilityPercent, 0, 4},
		{"Reads-Latency", *def.LatencyPercent, *def.LatencyMs, 4},
	} {
		name := "Consumer-Fleet-" + o.kind + "-BurnRate"
		composite, ok := composites[name]
		if !ok {
			t.Errorf("no composite alarm %s", name)
			continue
		}
		rule := fmt.Sprint(composite["AlarmRule"])
		for _, w := range workbookWindows {
			for i, window := range []string{w.long, w.short} {
				a, ok := alarms[name+"-"+window]
				if !ok {
					t.Errorf("no alarm %s-%s", name, window)
					continue
				}
				want := w.burnRate * (100 - o.target)
				if got := a["Threshold"].(float64); math.Abs(got-want) > 1e-9 || a["ComparisonOperator"] != "GreaterThanThreshold" {
					t.Errorf("%s-%s: %s %v, want above %v (%v × %v %%)", name, window, a["ComparisonOperator"], got, want, w.burnRate, 100-o.target)
				}
				if a["EvaluationPeriods"] != 1.0 || a["TreatMissingData"] != "notBreaching" || a["AlarmActions"] != nil {
					t.Errorf("%s-%s: %v periods, missing %v, actions %v: want 1, notBreaching, none of its own", name, window, a["EvaluationPeriods"], a["TreatMissingData"], a["AlarmActions"])
				}
				stats := 0
				for _, m := range a["Metrics"].([]any) {
					stat, ok := m.(map[string]any)["MetricStat"].(map[string]any)
					if !ok {
						continue
					}
					stats++
					if p := stat["Period"].(float64); p != w.seconds[i] {
						t.Errorf("%s-%s: a metric over %v s", name, window, p)
					}
					if s := stat["Stat"]; s != "Sum" && s != fmt.Sprintf("PR(:%v)", o.latency) {
						t.Errorf("%s-%s: statistic %v", name, window, s)
					}
				}
				if stats != 2*o.methods {
					t.Errorf("%s-%s reads %d metrics, want 2 per method (%d)", name, window, stats, o.methods)
				}
				if !strings.Contains(rule, a["logicalId"].(string)) {
					t.Errorf("%s does not read %s-%s", name, name, window)
				}
			}
		}
		if !strings.HasPrefix(rule, "map[Fn::Join:[ [((ALARM(\"") || strings.Count(rule, "ALARM(") != 4 || strings.Count(rule, ") AND ALARM(") != 2 || strings.Count(rule, ")) OR (ALARM(") != 1 {
			t.Errorf("%s: rule %s, want (long AND short) OR (long AND short)", name, rule)
		}
		if composite["AlarmActions"] == nil || composite["OKActions"] == nil {
			t.Errorf("%s notifies no one", name)
		}
	}
}

// The alarms' expressions, evaluated as CloudWatch evaluates them at one
// period, breach exactly above the burn rate, with requests on some
// methods only (the others have no data point), and read a period without
// any request as good.
func TestBurnRateExpressions(t *testing.T) {
	alarms := alarmsByName(t, mustBuild(t, nil, nil), "AWS::CloudWatch::Alarm", "AlarmName")
	eval := func(t *testing.T, name string, metrics map[string]metricmath.Value) float64 {
		t.Helper()
		q, err := metricmath.Queries(alarms[name])
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		v, err := metricmath.Evaluate(q, metrics)
		if err != nil || v.Missing {
			t.Fatalf("%s: %+v, %v", name, v, err)
		}
		return v.V
	}
	threshold := func(name string) float64 { return alarms[name]["Threshold"].(float64) }
	p := metricmath.Point

	// Reads at 99.9 %: 1.44 % of bad requests is the fast burn.
	name := "Consumer-Fleet-Reads-Availability-BurnRate-1h"
	for _, tt := range []struct {
		errors float64
		breach bool
	}{{14, false}, {15, true}} {
		// 1000 getVehicle requests; listEvents had none, the others one each.
		got := eval(t, name, map[string]metricmath.Value{
			"n_getVehicle": p(1000), "e_getVehicle": p(tt.errors), "n_listVehicles": p(1), "e_listVehicles": p(0),
			"n_getEvent": p(1), "e_getEvent": p(0),
		})
		if want := 100 * tt.errors / 1002; math.Abs(got-want) > 1e-9 || (got > threshold(name)) != tt.breach {
			t.Errorf("%s with %v errors in 1002 requests: %v %%, threshold %v, want %v %% (breach %v)", name, tt.errors, got, threshold(name), want, tt.breach)
		}
	}
	if got := eval(t, name, nil); got != 0 {
		t.Errorf("%s without requests: %v, want 0", name, got)
	}

	// Reads latency at 99 % under 300 ms: each method's share above 300
	// ms (100 − PR(:300)) weighted by its requests.
	name = "Consumer-Fleet-Reads-Latency-BurnRate-5m"
	got := eval(t, name, map[string]metricmath.Value{
		"n_getVehicle": p(900), "pr_getVehicle": p(90), // 90 slow
		"n_listEvents": p(100), "pr_listEvents": p(40), // 60 slow
	})
	if want := 100 * (90.0 + 60) / 1000; math.Abs(got-want) > 1e-9 || got <= threshold(name) {
		t.Errorf("%s: %v %%, want %v %%, above %v", name, got, want, threshold(name))
	}

	// The upload path alone.
	name = "Consumer-Fleet-Uploads-Availability-BurnRate-6h"
	if got := eval(t, name, map[string]metricmath.Value{"n_createEvent": p(10000), "e_createEvent": p(59)}); got > threshold(name) {
		t.Errorf("%s: %v %% of bad uploads breach %v", name, got, threshold(name))
	}
	if got := eval(t, name, map[string]metricmath.Value{"n_createEvent": p(10000), "e_createEvent": p(61)}); got <= threshold(name) {
		t.Errorf("%s: %v %% of bad uploads do not breach %v", name, got, threshold(name))
	}
}

func TestServiceLevelObjectivesBadInput(t *testing.T) {
	for _, tt := range []struct {
		name string
		slo  fleetapi.ServiceLevelObjective
		want string
	}{
		{"no budget", fleetapi.ServiceLevelObjective{AvailabilityPercent: jsii.Number(100)}, "serviceLevelObjectives.reads.availabilityPercent 100 is invalid: allowed range is (93.06, 100) percent"},
		{"burn above 100 %", fleetapi.ServiceLevelObjective{LatencyPercent: jsii.Number(93)}, "serviceLevelObjectives.reads.latencyPercent 93 is invalid: allowed range is (93.06, 100) percent"},
		{"latency past the integration timeout", fleetapi.ServiceLevelObjective{LatencyMs: jsii.Number(30000)}, "serviceLevelObjectives.reads.latencyMs 30000 is invalid: allowed are whole milliseconds from 1 to 29000"},
		{"fractional latency", fleetapi.ServiceLevelObjective{LatencyMs: jsii.Number(2.5)}, "serviceLevelObjectives.reads.latencyMs 2.5 is invalid"},
	} {
		props := &fleetapi.FleetApiProps{ServiceLevelObjectives: &fleetapi.ServiceLevelObjectives{Reads: &tt.slo}}
		if err := props.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.want)
		}
	}
}
