package costmodel

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fleetapi/fleetapi/api"
)

// What the estimate reads from prod's committed template, counted by hand
// in it: three arm64 functions of 256 MB serving the seven operations
// between them, events kept 365 days in a Standard-IA table, logs 90, PITR on, 20 alarms and
// the burn-rate alarms (below), one dashboard, key, secret, topic and budget.
func TestParseProdStack(t *testing.T) {
	s, err := LoadStack("../../../test/testdata/FleetApi-prod.template.json")
	if err != nil {
		t.Fatal(err)
	}
	if s.Stage != "prod" || len(s.Functions) != 3 {
		t.Fatalf("stage %q, %d functions", s.Stage, len(s.Functions))
	}
	spec, err := api.Load()
	if err != nil {
		t.Fatal(err)
	}
	if ops := s.Operations(); !slices.Equal(ops, spec.IDs()) {
		t.Errorf("operations served %v, want each of the spec's %v once", ops, spec.IDs())
	}
	for _, f := range s.Functions {
		// The upload's function passes traces through and logs no
		// platform lines; the others trace and do.
		upload := slices.Contains(f.Operations, "createEvent")
		if f.MemoryMiB != 256 || f.Architecture != "arm64" || f.Tracing == upload || f.QuietPlatform != upload || f.LogRetentionDays != 90 || f.ReservedConcurrency != 100 {
			t.Errorf("%+v", f)
		}
		if want := !slices.Contains(f.Operations, "createEvent"); f.ReadsSecret != want {
			t.Errorf("%s reads the cursor secret: %v, want %v", f.LogicalID, f.ReadsSecret, want)
		}
	}
	if f, ok := s.FunctionOf("createEvent"); !ok || !strings.Contains(f.LogicalID, "Ingest") {
		t.Errorf("createEvent served by %+v", f)
	}
	if r := s.APITraceSampling; r == nil || r.Reservoir != 0 || r.FixedRate != 0.05 {
		t.Errorf("the stage's sampling rule %+v, want 5 %% and no reservoir", r)
	}
	if s.EventRetentionDays != 30 || s.AccessLogRetentionDays != 90 || !s.APITracing || !s.DetailedMetrics {
		t.Errorf("retention %d/%d, tracing %v, detailed metrics %v", s.EventRetentionDays, s.AccessLogRetentionDays, s.APITracing, s.DetailedMetrics)
	}
	if !s.Events.OnDemand || !s.Events.PITR || !s.Vehicles.PITR || s.Events.MaxWriteUnits != 4000 || s.Events.InfrequentAccess || s.Vehicles.InfrequentAccess {
		t.Errorf("tables %+v %+v", s.Events, s.Vehicles)
	}
	// 20 alarms read 32 metrics (the functions' refusals and the tables'
	// errors read one per function or operation), and each function's
	// rollback alarm on its operations' 5XX 7 more, one per operation; the 16 windows of the
	// burn-rate alarms 80 more: 2 for the upload method, 8 for the 4 GET
	// methods, in each of 4 windows, for availability and for latency; the
	// MQTT path's seven (the rule's failures and error action failures,
	// each a Metrics Insights query, its throttles, the function's dropped
	// events and destination failures, the failure queue's depth and age).
	// And the synthetic vehicle's failures, 1; its secret beside the
	// cursor key's. The tracker's errors, iterator age and failure queue
	// and the silent vehicles, 4; the state table's throttles and errors,
	// 6 (its three operations each); the vehicles function's rollback
	// alarm, 2 more (the state's two reads). The history writer's errors,
	// iterator age and failure queue, 3.
	if s.AlarmMetrics != 32+7+80+7+1+4+6+2+3 || s.HighResolutionAlarmMetrics != 0 || s.CompositeAlarms != 4 || s.Dashboards != 1 || s.KMSKeys != 1 || s.Secrets != 2 || s.Topics != 1 || s.Budgets != 1 {
		t.Errorf("alarm metrics %d (+%d high resolution), composite alarms %d, dashboards %d, keys %d, secrets %d, topics %d, budgets %d",
			s.AlarmMetrics, s.HighResolutionAlarmMetrics, s.CompositeAlarms, s.Dashboards, s.KMSKeys, s.Secrets, s.Topics, s.Budgets)
	}
	if f := s.Synthetic; f == nil || f.MemoryMiB != 256 || f.Architecture != "arm64" || s.SyntheticEveryMinutes != 1 || len(s.Functions) != 3 {
		t.Errorf("synthetic vehicle %+v every %d minutes; %d API functions", f, s.SyntheticEveryMinutes, len(s.Functions))
	}
	if tr := s.Tracker; tr == nil || tr.BatchingWindowSeconds != 70 || tr.BatchSize != 10000 || tr.Parallelization != 1 || tr.FiguresEveryMinutes != 5 ||
		!tr.QuietPlatform || tr.Tracing || s.State.LogicalID == "" || !s.State.OnDemand || !s.LifecycleRule || !s.UploadRule {
		t.Errorf("tracker %+v, state table %+v, lifecycle rule %v", tr, s.State, s.LifecycleRule)
	}
	if s.ThrottleRate != 1000 || s.ThrottleBurst != 2000 {
		t.Errorf("throttle %g/%g", s.ThrottleRate, s.ThrottleBurst)
	}
}

func TestStackErrors(t *testing.T) {
	prod, err := os.ReadFile("../../../test/testdata/FleetApi-prod.template.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ name, old, new, want string }{
		{"unknown type", `"Type": "AWS::KMS::Key"`, `"Type": "AWS::EC2::NatGateway"`, "AWS::EC2::NatGateway"},
		{"memory not literal", `"MemorySize": 256`, `"MemorySize": {"Ref": "Memory"}`, "MemorySize is not a literal whole number"},
		{"unknown table class", `"BillingMode": "PAY_PER_REQUEST"`, `"BillingMode": "PAY_PER_REQUEST", "TableClass": "GLACIER"`, "TableClass GLACIER"},
		{"schedule not a rate", `"ScheduleExpression": "rate(1 minute)"`, `"ScheduleExpression": "cron(0/5 * * * ? *)"`, `schedule "cron(0/5 * * * ? *)": the cost model reads rate(N minutes)`},
		{"rule without a schedule", `"ScheduleExpression": "rate(1 minute)"`, `"Description": "no schedule"`, `schedule "": the cost model reads rate(N minutes)`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(string(prod), tt.old) {
				t.Fatalf("the template no longer holds %s", tt.old)
			}
			_, err := ParseStack([]byte(strings.Replace(string(prod), tt.old, tt.new, 1)))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error with %q", err, tt.want)
			}
		})
	}
	missing := filepath.Join(t.TempDir(), "FleetApi-prod.template.json")
	if _, err := LoadStack(missing); err == nil || !strings.Contains(err.Error(), missing) || !strings.Contains(err.Error(), "make synth") {
		t.Errorf("a missing template: %v, want an error naming it and how to make it", err)
	}
}

// Every operation of the spec has the cost model's figures, and nothing
// else does: a new operation fails here until it is priced.
func TestEveryOperationHasFigures(t *testing.T) {
	spec, err := api.Load()
	if err != nil {
		t.Fatal(err)
	}
	if priced := slices.Sorted(maps.Keys(operations)); !slices.Equal(priced, spec.IDs()) {
		t.Errorf("the cost model prices %v, the spec declares %v", priced, spec.IDs())
	}
}
