package stage

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/jsii-runtime-go"
	"github.com/fleetapi/fleetapi/constructs/fleetapi"
	"github.com/go-json-experiment/json/jsontext"
)

func TestMain(m *testing.M) {
	code := m.Run()
	jsii.Close()
	os.Exit(code)
}

// validStage returns a complete, valid stage as a JSON object, with the
// given settings replaced (a nil value deletes the setting).
func validStage(t *testing.T, replace map[string]any) map[string]any {
	t.Helper()
	s := map[string]any{
		"removalPolicy":              "retain",
		"deletionProtection":         true,
		"pointInTimeRecovery":        true,
		"logRetentionDays":           30,
		"eventRetentionDays":         90,
		"eventsTableClass":           "standard",
		"apiThrottleRateLimit":       100,
		"apiThrottleBurstLimit":      200,
		"lambdaMemoryMiB":            256,
		"lambdaTimeoutSeconds":       10,
		"lambdaDeployment":           "canary10Percent5Minutes",
		"lambdaReservedConcurrency":  0,
		"alarmEmails":                []any{"ops@example.com"},
		"requireAlarmSubscriber":     true,
		"monthlyBudgetUsd":           100,
		"costCenter":                 "cc-42",
		"owner":                      "fleet team",
		"tableMaxReadRequestUnits":   1000,
		"tableMaxWriteRequestUnits":  500,
		"alarmThresholds":            map[string]any{"evaluationPeriods": 5, "api4xxRatePercent": 2.5},
		"serviceLevelObjectives":     map[string]any{"uploads": map[string]any{"availabilityPercent": 99.9}},
		"apiGatewayCloudWatchRole":   true,
		"vehicleCredentials":         true,
		"mqttUploads":                true,
		"syntheticVehicle":           true,
		"stateBatchingWindowSeconds": 70,
		"silentAfterMinutes":         10,
		"notSeenAfterDays":           7,
		"apiTraceSamplePercent":      5,
		"history":                    true,
		"historyRetentionDays":       90,
		"historyScanLimitGB":         10,
	}
	for k, v := range replace {
		if v == nil {
			delete(s, k)
		} else {
			s[k] = v
		}
	}
	return s
}

func TestSelectValid(t *testing.T) {
	table := map[string]any{"dev": validStage(t, map[string]any{"removalPolicy": "destroy", "deletionProtection": false}), "prod": validStage(t, map[string]any{"apiGatewayCloudWatchRole": false})}
	tests := []struct {
		name     any
		wantName string
	}{
		{nil, "dev"},
		{"", "dev"},
		{"prod", "prod"},
	}
	for _, tt := range tests {
		cfg, err := Select(table, tt.name)
		if err != nil {
			t.Fatalf("Select(%v): %v", tt.name, err)
		}
		if cfg.Name != tt.wantName {
			t.Errorf("Select(%v).Name = %q, want %q", tt.name, cfg.Name, tt.wantName)
		}
	}
	cfg, _ := Select(table, "prod")
	p := cfg.Props
	if p.LogRetention != awslogs.RetentionDays_ONE_MONTH || *p.ThrottlingRateLimit != 100 || cfg.AlarmEmails()[0] != "ops@example.com" || !*p.DeletionProtection ||
		*p.AlarmThresholds.EvaluationPeriods != 5 || *p.AlarmThresholds.Api4xxRatePercent != 2.5 || p.AlarmThresholds.Period != nil ||
		*p.EventRetention.ToDays(nil) != 90 || *p.Timeout.ToSeconds(nil) != 10 || p.ReservedConcurrentExecutions != nil || p.EventsTableClass != "" ||
		p.Deployment != fleetapi.LambdaDeploymentCanary10Percent5Minutes ||
		*p.ApiStageName != "prod" || *(*p.BudgetCostTags)["Stage"] != "prod" || *p.ServiceLevelObjectives.Uploads.AvailabilityPercent != 99.9 ||
		cfg.CostCenter != "cc-42" || !cfg.RequireAlarmSubscriber || cfg.CreatesCloudWatchRole() {
		t.Errorf("decoded %+v, want the values of validStage", cfg)
	}

	// A table given as a JSON string, as `--context stages=...` passes it.
	raw, _ := json.Marshal(table)
	if cfg, err := Select(string(raw), "prod"); err != nil || cfg.Name != "prod" {
		t.Errorf("Select(JSON string) = %+v, %v; want stage prod", cfg, err)
	}
}

func TestSelectErrors(t *testing.T) {
	good := validStage(t, nil)
	tests := []struct {
		desc   string
		stages any
		name   any
		want   []string // substrings of the error
	}{
		{"unknown stage", map[string]any{"dev": good, "prod": good}, "qa", []string{`unknown stage "qa"`, "dev, prod"}},
		{"stage not a string", map[string]any{"dev": good}, 3.0, []string{`"stage" must be a string`}},
		{"no table", nil, "dev", []string{`"stages" is missing`}},
		{"table not an object", "[1,2]", "dev", []string{`"stages" must be a JSON object`}},
		{"empty table", map[string]any{}, "dev", []string{"declares no stage"}},
		{"malformed table JSON", `{"dev": {`, "dev", []string{`"stages" must be a JSON object`}},
		{"settings not an object", map[string]any{"dev": "fast"}, "dev", []string{`stage "dev": settings must be a JSON object`}},
		{"settings null", map[string]any{"dev": nil}, "dev", []string{`stage "dev": settings must be a JSON object`}},
		{"table null", "null", "dev", []string{`"stages" must be a JSON object`}},
		{"invalid stage name", map[string]any{"Prod_1": good}, "Prod_1", []string{`stage name "Prod_1" is invalid`}},
		{"missing setting", map[string]any{"dev": validStage(t, map[string]any{"owner": nil})}, "dev", []string{`missing setting "owner"`}},
		{"unknown setting", map[string]any{"dev": validStage(t, map[string]any{"memory": 512})}, "dev", []string{`unknown setting "memory"`, "lambdaMemoryMiB"}},
		{"string for number", map[string]any{"dev": validStage(t, map[string]any{"logRetentionDays": "30"})}, "dev", []string{`stage "dev": logRetentionDays "30" is invalid: must be a number`}},
		{"fraction for integer", map[string]any{"dev": validStage(t, map[string]any{"lambdaMemoryMiB": 256.5})}, "dev", []string{"lambdaMemoryMiB 256.5 is invalid: allowed are whole MiB from 128 to 10240"}},
		{"string for bool", map[string]any{"dev": validStage(t, map[string]any{"deletionProtection": "yes"})}, "dev", []string{`deletionProtection "yes" is invalid: must be true or false`}},
		{"vehicle credentials not a bool", map[string]any{"dev": validStage(t, map[string]any{"vehicleCredentials": "on"})}, "dev", []string{`vehicleCredentials "on" is invalid: must be true or false`}},
		{"string for list", map[string]any{"dev": validStage(t, map[string]any{"alarmEmails": "ops@example.com"})}, "dev", []string{`alarmEmails "ops@example.com" is invalid: must be a list of e-mail addresses`}},
		{"unknown threshold", map[string]any{"dev": validStage(t, map[string]any{"alarmThresholds": map[string]any{"errors": 1}})}, "dev",
			[]string{`alarmThresholds: unknown setting "errors": known settings are periodMinutes, evaluationPeriods`}},
		{"threshold of the wrong type", map[string]any{"dev": validStage(t, map[string]any{"alarmThresholds": map[string]any{"apiLatencyP99Ms": "fast"}})}, "dev",
			[]string{`alarmThresholds.apiLatencyP99Ms "fast" is invalid: must be a number`}},
		{"missing thresholds", map[string]any{"dev": validStage(t, map[string]any{"alarmThresholds": nil})}, "dev", []string{`missing setting "alarmThresholds"`}},
		{"missing objectives", map[string]any{"dev": validStage(t, map[string]any{"serviceLevelObjectives": nil})}, "dev", []string{`missing setting "serviceLevelObjectives"`}},
		{"unknown objective", map[string]any{"dev": validStage(t, map[string]any{"serviceLevelObjectives": map[string]any{"writes": map[string]any{}}})}, "dev",
			[]string{`serviceLevelObjectives: unknown setting "writes": known settings are uploads, reads`}},
		{"unknown target", map[string]any{"dev": validStage(t, map[string]any{"serviceLevelObjectives": map[string]any{"uploads": map[string]any{"p99Ms": 300}}})}, "dev",
			[]string{`serviceLevelObjectives.uploads: unknown setting "p99Ms": known settings are availabilityPercent, latencyPercent, latencyMs`}},
		{"fractional latency target", map[string]any{"dev": validStage(t, map[string]any{"serviceLevelObjectives": map[string]any{"reads": map[string]any{"latencyMs": 2.5}}})}, "dev",
			[]string{"serviceLevelObjectives.reads.latencyMs 2.5 is invalid: allowed are whole milliseconds from 1 to 29000"}},
		// Names are matched as written, once each; null is no value.
		{"a name of another case", map[string]any{"dev": validStage(t, map[string]any{"logRetentionDays": nil, "LogRetentionDays": 30})}, "dev", []string{`unknown setting "LogRetentionDays"`}},
		{"an unknown name of another case", map[string]any{"dev": validStage(t, map[string]any{"LogRetentionDays": 30})}, "dev", []string{`unknown setting "LogRetentionDays": known settings are`, "removalPolicy", "logRetentionDays"}},
		// The stack's own settings, by their types.
		{"stack setting of the wrong type", map[string]any{"dev": validStage(t, map[string]any{"requireAlarmSubscriber": "yes"})}, "dev", []string{`stage "dev": requireAlarmSubscriber must be true or false, got string`}},
		{"tag of the wrong type", map[string]any{"dev": validStage(t, map[string]any{"costCenter": 42})}, "dev", []string{"costCenter must be a string, got number"}},
		{"a setting twice", `{"dev": {"owner": "a", "owner": "b"}}`, "dev", []string{`"stages" must be a JSON object`}},
		{"a null setting", map[string]any{"dev": validStage(t, map[string]any{"lambdaMemoryMiB": jsontext.Value("null")})}, "dev", []string{`setting "lambdaMemoryMiB" is null: give it a value`}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			_, err := Select(tt.stages, tt.name)
			if err == nil {
				t.Fatalf("Select succeeded, want an error containing %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		desc    string
		replace map[string]any
		want    string // substring of the error; "" for valid
	}{
		{"valid", nil, ""},
		{"destroy without protection", map[string]any{"removalPolicy": "destroy", "deletionProtection": false}, ""},
		{"no alarm emails", map[string]any{"alarmEmails": []any{}}, ""},
		{"removal policy", map[string]any{"removalPolicy": "snapshot"}, `removalPolicy "snapshot" is invalid: allowed values are "retain", "destroy"`},
		{"infrequent access", map[string]any{"eventsTableClass": "standardInfrequentAccess"}, ""},
		{"table class", map[string]any{"eventsTableClass": "STANDARD_IA"}, `eventsTableClass "STANDARD_IA" is invalid: allowed values are "standard", "standardInfrequentAccess"`},
		{"linear deployment", map[string]any{"lambdaDeployment": "linear10PercentEvery10Minutes"}, ""},
		{"deployment all at once", map[string]any{"lambdaDeployment": "allAtOnce"}, ""},
		{"deployment CodeDeploy does not know", map[string]any{"lambdaDeployment": "canary10Percent7Minutes"},
			`lambdaDeployment "canary10Percent7Minutes" is invalid: allowed values are "allAtOnce", "canary10Percent5Minutes", "canary10Percent10Minutes", "canary10Percent15Minutes", "canary10Percent30Minutes", "linear10PercentEvery1Minute", "linear10PercentEvery2Minutes", "linear10PercentEvery3Minutes", "linear10PercentEvery10Minutes"`},
		{"deployment named as CodeDeploy does", map[string]any{"lambdaDeployment": "CodeDeployDefault.LambdaCanary10Percent5Minutes"}, `lambdaDeployment "CodeDeployDefault.LambdaCanary10Percent5Minutes" is invalid`},
		{"synthetic vehicle without MQTT", map[string]any{"mqttUploads": false},
			"syntheticVehicle true is invalid: needs vehicleCredentials and mqttUploads: the synthetic vehicle gets its credentials from its certificate and uploads over HTTPS and MQTT"},
		{"no synthetic vehicle", map[string]any{"syntheticVehicle": false, "mqttUploads": false, "vehicleCredentials": false}, ""},
		{"empty cost center", map[string]any{"costCenter": " "}, "costCenter must not be empty"},
		{"bad owner", map[string]any{"owner": "team;drop"}, `owner "team;drop" is not a valid tag value`},
		{"long owner", map[string]any{"owner": strings.Repeat("a", 257)}, "is not a valid tag value"},
		{"negative concurrency", map[string]any{"lambdaReservedConcurrency": -1}, "lambdaReservedConcurrency -1 is invalid: allowed are whole numbers from 1 to 1000 (0 would stop the functions: no reservation is unset, 0 in a settings object)"},
		{"longest owner", map[string]any{"owner": strings.Repeat("a", 256)}, ""},
		{"topic", map[string]any{"alarmTopicArn": "arn:aws:sns:eu-west-1:123456789012:fleet-alarms"}, ""},
		{"topic not an ARN", map[string]any{"alarmTopicArn": "fleet-alarms"}, `alarmTopicArn "fleet-alarms" is not an SNS topic ARN`},
		{"topic of another service", map[string]any{"alarmTopicArn": "arn:aws:sqs:eu-west-1:123456789012:q"}, "is not an SNS topic ARN"},
		{"account and region", map[string]any{"account": "123456789012", "region": "us-gov-west-1"}, ""},
		{"account", map[string]any{"account": "12345"}, `account "12345" is invalid: an AWS account ID is 12 digits`},
		{"region", map[string]any{"region": "Europe"}, `region "Europe" is invalid: want a Region code such as eu-west-1`},
		// The construct's props, checked by the construct's rules and named
		// by their settings.
		{"unreserved", map[string]any{"lambdaReservedConcurrency": 0}, ""},
		{"reserved", map[string]any{"lambdaReservedConcurrency": 1000}, ""},
		{"edges", map[string]any{"apiThrottleRateLimit": 10000, "apiThrottleBurstLimit": 5000, "lambdaTimeoutSeconds": 29, "lambdaMemoryMiB": 10240}, ""},
		{"destroy with protection", map[string]any{"removalPolicy": "destroy"}, `stage "dev": deletionProtection true is invalid: must be false with removalPolicy DESTROY`},
		{"log retention", map[string]any{"logRetentionDays": 10}, `stage "dev": logRetentionDays 10 is invalid: allowed values are 1, 3, 5, 7, 14, 30`},
		{"event retention zero", map[string]any{"eventRetentionDays": 0}, "eventRetentionDays 0 is invalid: allowed are whole days from 1 to 3650"},
		{"event retention in part", map[string]any{"eventRetentionDays": 1.5}, "eventRetentionDays 1.5 is invalid: allowed are whole days"},
		{"rate zero", map[string]any{"apiThrottleRateLimit": 0}, "apiThrottleRateLimit 0 is invalid: allowed range is (0, 10000]"},
		{"rate too high", map[string]any{"apiThrottleRateLimit": 10001}, "apiThrottleRateLimit 10001 is invalid"},
		{"burst", map[string]any{"apiThrottleBurstLimit": 5001}, "apiThrottleBurstLimit 5001 is invalid: allowed are whole numbers from 1 to 5000"},
		{"no burst", map[string]any{"apiThrottleBurstLimit": 0}, "apiThrottleBurstLimit 0 is invalid"},
		{"memory low", map[string]any{"lambdaMemoryMiB": 64}, "lambdaMemoryMiB 64 is invalid: allowed are whole MiB from 128 to 10240"},
		{"memory high", map[string]any{"lambdaMemoryMiB": 10241}, "lambdaMemoryMiB 10241 is invalid"},
		{"timeout", map[string]any{"lambdaTimeoutSeconds": 30}, "lambdaTimeoutSeconds 30 is invalid: allowed are whole seconds from 1 to 29"},
		{"timeout in part", map[string]any{"lambdaTimeoutSeconds": 9.5}, "lambdaTimeoutSeconds 9.5 is invalid: allowed are whole seconds"},
		{"concurrency", map[string]any{"lambdaReservedConcurrency": 1001}, "lambdaReservedConcurrency 1001 is invalid: allowed are whole numbers from 1 to 1000"},
		{"bad email", map[string]any{"alarmEmails": []any{"ops"}}, `alarmEmails "ops" is invalid: allowed are plain e-mail addresses`},
		{"email with name", map[string]any{"alarmEmails": []any{"Ops <ops@example.com>"}}, "alarmEmails"},
		{"duplicate email", map[string]any{"alarmEmails": []any{"a@example.com", "A@example.com"}}, `alarmEmails "A@example.com" is invalid`},
		{"budget", map[string]any{"monthlyBudgetUsd": 0}, "monthlyBudgetUsd 0 is invalid: must be above 0"},
		{"max read units", map[string]any{"tableMaxReadRequestUnits": 0}, "tableMaxReadRequestUnits 0 is invalid: allowed are whole request units per second from 1 to 40000"},
		{"max write units", map[string]any{"tableMaxWriteRequestUnits": 40001}, "tableMaxWriteRequestUnits 40001 is invalid"},
		{"alarm period", map[string]any{"alarmThresholds": map[string]any{"periodMinutes": 0}}, "alarmThresholds.periodMinutes 0 is invalid"},
		{"alarm window", map[string]any{"alarmThresholds": map[string]any{"periodMinutes": 60, "evaluationPeriods": 25}},
			"alarmThresholds.evaluationPeriods 25 is invalid: period × evaluationPeriods must be at most one day (1440 minutes), got 1500 minutes"},
		{"alarm threshold", map[string]any{"alarmThresholds": map[string]any{"functionErrors": 0}}, "alarmThresholds.functionErrors 0 is invalid"},
		{"datapoints", map[string]any{"alarmThresholds": map[string]any{"datapointsToAlarm": 6}}, "alarmThresholds.datapointsToAlarm 6 is invalid: allowed are whole numbers from 1 to evaluationPeriods (3)"},
		{"alarm severity", map[string]any{"alarmSeverities": map[string]any{"Api-Latency-p99": "critical"}}, ""},
		{"unknown alarm kind", map[string]any{"alarmSeverities": map[string]any{"Api-Latency": "critical"}},
			`alarmSeverities "Api-Latency" is invalid: allowed keys are the kinds of alarm: Api-4XXError-rate, Api-5XXError`},
		{"unknown severity", map[string]any{"alarmSeverities": map[string]any{"Api-Latency-p99": "page"}},
			`alarmSeverities.Api-Latency-p99 "page" is invalid: allowed values are critical, warning`},
		{"objective without budget", map[string]any{"serviceLevelObjectives": map[string]any{"uploads": map[string]any{"availabilityPercent": 100}}},
			"serviceLevelObjectives.uploads.availabilityPercent 100 is invalid: allowed range is (93.06, 100) percent"},
		{"objective latency", map[string]any{"serviceLevelObjectives": map[string]any{"reads": map[string]any{"latencyMs": 0}}},
			"serviceLevelObjectives.reads.latencyMs 0 is invalid: allowed are whole milliseconds from 1 to 29000"},
		{"burn-rate severity", map[string]any{"alarmSeverities": map[string]any{"Reads-Latency-BurnRate": "warning"}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			raw, err := json.Marshal(validStage(t, tt.replace))
			if err != nil {
				t.Fatal(err)
			}
			_, err = Decode("dev", raw)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("got error %v, want none", err)
			case tt.want != "" && err == nil:
				t.Fatalf("got no error, want one containing %q", tt.want)
			case tt.want != "" && !strings.Contains(err.Error(), tt.want):
				t.Fatalf("got error %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestDecodeTrailingData(t *testing.T) {
	raw, _ := json.Marshal(validStage(t, nil))
	if _, err := Decode("dev", append(raw, []byte(` {}`)...)); err == nil {
		t.Fatal("got no error for trailing data")
	}
}

func TestAllSortsAndValidatesEveryStage(t *testing.T) {
	notOwner := map[string]any{"apiGatewayCloudWatchRole": false}
	table := map[string]any{"prod": validStage(t, notOwner), "dev": validStage(t, nil), "staging": validStage(t, notOwner)}
	cfgs, err := All(table)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range cfgs {
		names = append(names, c.Name)
	}
	if got := strings.Join(names, ","); got != "dev,prod,staging" {
		t.Errorf("stages = %s, want dev,prod,staging", got)
	}
	// Every stage that logs sets a role of its own, in one account too.
	table["prod"] = validStage(t, map[string]any{"apiGatewayCloudWatchRole": true})
	table["staging"] = validStage(t, map[string]any{"apiGatewayCloudWatchRole": true})
	if cfgs, err := All(table); err != nil || !cfgs[0].CreatesCloudWatchRole() || !cfgs[1].CreatesCloudWatchRole() {
		t.Errorf("All with a role per stage: %v", err)
	}
	table["staging"] = validStage(t, map[string]any{"removalPolicy": "snapshot"})
	if _, err := All(table); err == nil || !strings.Contains(err.Error(), `stage "staging"`) {
		t.Errorf("All with a bad staging stage: got %v, want an error naming stage \"staging\"", err)
	}
}

// A stage whose alarms and budget reach no one says what to set.
func TestNoAlarmSubscriber(t *testing.T) {
	for _, tt := range []struct {
		replace map[string]any
		none    bool
	}{
		{map[string]any{"alarmEmails": []any{}}, true},
		{map[string]any{"alarmEmails": []any{"ops@example.com"}}, false},
		{map[string]any{"alarmEmails": []any{}, "alarmTopicArn": "arn:aws:sns:eu-west-1:123456789012:pager"}, false},
	} {
		raw, _ := json.Marshal(validStage(t, tt.replace))
		cfg, err := Decode("dev", raw)
		if err != nil {
			t.Fatal(err)
		}
		err = cfg.NoAlarmSubscriber()
		if (err != nil) != tt.none || err != nil && !strings.Contains(err.Error(), `stage "dev": no one is told of its alarms and its budget`) {
			t.Errorf("%v: %v", tt.replace, err)
		}
	}
}
