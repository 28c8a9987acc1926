package fleetstack

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/jsii-runtime-go"

	"github.com/fleetapi/fleetapi/constructs/fleetapi"
	"github.com/fleetapi/fleetapi/internal/app/stage"
)

func TestMain(m *testing.M) {
	code := m.Run()
	jsii.Close()
	os.Exit(code)
}

func validConfig() stage.Config {
	return stage.Config{
		Name: "prod", RemovalPolicy: "retain", DeletionProtection: true, PointInTimeRecovery: true,
		LogRetentionDays: 30, EventRetentionDays: 90, ApiThrottleRateLimit: 100, ApiThrottleBurstLimit: 200,
		LambdaMemoryMiB: 256, LambdaTimeoutSeconds: 10, TableMaxReadRequestUnits: 1000, TableMaxWriteRequestUnits: 500,
		AlarmEmails: []string{"ops@example.com"}, MonthlyBudgetUsd: 100, CostCenter: "cc-42", Owner: "fleet team",
	}
}

// The construct checks a stage's values against AWS's limits (the one
// place that knows them); the error names the value by its cdk.json
// setting and says what is allowed.
func TestStageValuesAreCheckedByTheConstruct(t *testing.T) {
	tests := []struct {
		desc string
		edit func(*stage.Config)
		want string // substring of the error; "" for valid
	}{
		{"valid", func(*stage.Config) {}, ""},
		{"unreserved", func(c *stage.Config) { c.LambdaReservedConcurrency = 0 }, ""},
		{"reserved", func(c *stage.Config) { c.LambdaReservedConcurrency = 1000 }, ""},
		{"edges", func(c *stage.Config) {
			c.ApiThrottleRateLimit, c.ApiThrottleBurstLimit, c.LambdaTimeoutSeconds, c.LambdaMemoryMiB = 10000, 5000, 29, 10240
		}, ""},
		{"destroy with protection", func(c *stage.Config) { c.RemovalPolicy = "destroy" }, `stage "prod": deletionProtection true is invalid: must be false with removalPolicy DESTROY`},
		{"log retention", func(c *stage.Config) { c.LogRetentionDays = 10 }, `stage "prod": logRetentionDays 10 is invalid: allowed values are 1, 3, 5, 7, 14, 30`},
		{"event retention zero", func(c *stage.Config) { c.EventRetentionDays = 0 }, "eventRetentionDays 0 is invalid: allowed are whole days from 1 to 3650"},
		{"rate zero", func(c *stage.Config) { c.ApiThrottleRateLimit = 0 }, "apiThrottleRateLimit 0 is invalid: allowed range is (0, 10000]"},
		{"rate too high", func(c *stage.Config) { c.ApiThrottleRateLimit = 10001 }, "apiThrottleRateLimit 10001 is invalid"},
		{"burst", func(c *stage.Config) { c.ApiThrottleBurstLimit = 5001 }, "apiThrottleBurstLimit 5001 is invalid: allowed are whole numbers from 1 to 5000"},
		{"no burst", func(c *stage.Config) { c.ApiThrottleBurstLimit = 0 }, "apiThrottleBurstLimit 0 is invalid"},
		{"memory low", func(c *stage.Config) { c.LambdaMemoryMiB = 64 }, "lambdaMemoryMiB 64 is invalid: allowed are whole MiB from 128 to 10240"},
		{"memory high", func(c *stage.Config) { c.LambdaMemoryMiB = 10241 }, "lambdaMemoryMiB 10241 is invalid"},
		{"timeout", func(c *stage.Config) { c.LambdaTimeoutSeconds = 30 }, "lambdaTimeoutSeconds 30 is invalid: allowed range is 1 to 29 seconds"},
		{"concurrency", func(c *stage.Config) { c.LambdaReservedConcurrency = 1001 }, "lambdaReservedConcurrency 1001 is invalid: allowed are whole numbers from 1 to 1000"},
		{"bad email", func(c *stage.Config) { c.AlarmEmails = []string{"ops"} }, `alarmEmails "ops" is invalid: allowed are plain e-mail addresses`},
		{"email with name", func(c *stage.Config) { c.AlarmEmails = []string{"Ops <ops@example.com>"} }, "alarmEmails"},
		{"duplicate email", func(c *stage.Config) { c.AlarmEmails = []string{"a@example.com", "A@example.com"} }, `alarmEmails "A@example.com" is invalid`},
		{"budget", func(c *stage.Config) { c.MonthlyBudgetUsd = 0 }, "monthlyBudgetUsd 0 is invalid: must be above 0"},
		{"max read units", func(c *stage.Config) { c.TableMaxReadRequestUnits = 0 }, "tableMaxReadRequestUnits 0 is invalid: allowed are whole request units per second from 1 to 40000"},
		{"max write units", func(c *stage.Config) { c.TableMaxWriteRequestUnits = 40001 }, "tableMaxWriteRequestUnits 40001 is invalid"},
		{"alarm period", func(c *stage.Config) { c.AlarmThresholds.PeriodMinutes = new(0) }, "alarmThresholds.periodMinutes 0 is invalid"},
		{"alarm threshold", func(c *stage.Config) { c.AlarmThresholds.FunctionErrors = new(0) }, "alarmThresholds.functionErrors 0 is invalid"},
		{"alarm severity", func(c *stage.Config) { c.AlarmSeverities = map[string]string{"Api-Latency-p99": "critical"} }, ""},
		{"unknown alarm kind", func(c *stage.Config) { c.AlarmSeverities = map[string]string{"Api-Latency": "critical"} },
			`alarmSeverities "Api-Latency" is invalid: allowed keys are the kinds of alarm: Api-4XXError-rate, Api-5XXError`},
		{"unknown severity", func(c *stage.Config) { c.AlarmSeverities = map[string]string{"Api-Latency-p99": "page"} },
			`alarmSeverities.Api-Latency-p99 "page" is invalid: allowed values are critical, warning`},
		{"objective without budget", func(c *stage.Config) { c.ServiceLevelObjectives.Uploads.AvailabilityPercent = new(100.0) },
			"serviceLevelObjectives.uploads.availabilityPercent 100 is invalid: allowed range is (93.06, 100) percent"},
		{"objective latency", func(c *stage.Config) { c.ServiceLevelObjectives.Reads.LatencyMs = new(0) },
			"serviceLevelObjectives.reads.latencyMs 0 is invalid: allowed are whole milliseconds from 1 to 29000"},
		{"burn-rate severity", func(c *stage.Config) { c.AlarmSeverities = map[string]string{"Reads-Latency-BurnRate": "warning"} }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			cfg := validConfig()
			tt.edit(&cfg)
			err := Validate(cfg, Props(cfg))
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("got %v, want no error", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
			var pe *fleetapi.PropError
			if err != nil && !errors.As(err, &pe) {
				t.Errorf("error %v is not a *fleetapi.PropError", err)
			}
		})
	}
}

// Every alarm threshold of the construct has a stage setting of the same
// name, and each setting reaches its prop: the stage table cannot forget
// a threshold, nor map one onto another. (Period is periodMinutes.)
func TestEveryThresholdMaps(t *testing.T) {
	var a stage.AlarmThresholds
	sv := reflect.ValueOf(&a).Elem()
	for i := range sv.NumField() {
		f := sv.Field(i)
		n := float64(i + 2) // distinct, and a valid minute count
		switch f.Interface().(type) {
		case *int:
			v := int(n)
			f.Set(reflect.ValueOf(&v))
		case *float64:
			f.Set(reflect.ValueOf(&n))
		default:
			t.Fatalf("stage.AlarmThresholds.%s: type %s", sv.Type().Field(i).Name, f.Type())
		}
	}
	props := alarmThresholds(a)
	pv := reflect.ValueOf(props).Elem()
	if pv.NumField() != sv.NumField() {
		t.Errorf("the construct has %d thresholds, the stage table %d", pv.NumField(), sv.NumField())
	}
	for i := range sv.NumField() {
		name := sv.Type().Field(i).Name
		want := float64(i + 2)
		if name == "PeriodMinutes" {
			if got := *props.Period.ToMinutes(nil); got != want {
				t.Errorf("periodMinutes %g reaches Period as %g minutes", want, got)
			}
			continue
		}
		p := pv.FieldByName(name)
		if !p.IsValid() {
			t.Errorf("stage setting %s has no construct threshold of that name", name)
			continue
		}
		if got, ok := p.Interface().(*float64); !ok || got == nil || *got != want {
			t.Errorf("%s: %g in the stage table reaches the construct as %v", name, want, p.Interface())
		}
	}
}
