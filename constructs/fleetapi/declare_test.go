package fleetapi

import (
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/fleetapi/fleetapi/internal/testutil/docblock"
)

// notDeclared are the props with no default, no rule and no setting.
var notDeclared = map[string]bool{"AlarmTopic": true, "CriticalAlarmTopic": true, "WarningAlarmTopic": true, "BudgetCostTags": true}

func lowerFirst(s string) string { return strings.ToLower(s[:1]) + s[1:] }

// names lists a declaration's prop names, in its order.
func names[S any](decl []prop[S]) []string {
	var out []string
	for _, p := range decl {
		out = append(out, p.name)
	}
	return out
}

// Every prop is declared once, in the order of its struct (the order of
// docs/stages.md), and every declared prop is a field: a new prop without
// a declaration fails here, so it cannot go without its rule.
func TestEveryPropIsDeclaredOnce(t *testing.T) {
	for _, tt := range []struct {
		typ      reflect.Type
		declared []string
	}{
		{reflect.TypeFor[FleetApiProps](), names(propsDeclared)},
		{reflect.TypeFor[AlarmThresholds](), names(thresholdsDeclared)},
		{reflect.TypeFor[ServiceLevelObjective](), names(objectiveDeclared)},
		{reflect.TypeFor[ServiceLevelObjectives](), names(objectivesDeclared)},
	} {
		var fields []string
		for i := range tt.typ.NumField() {
			f := tt.typ.Field(i)
			if f.IsExported() && !notDeclared[f.Name] {
				fields = append(fields, lowerFirst(f.Name))
			}
		}
		if got, want := strings.Join(tt.declared, ","), strings.Join(fields, ","); got != want {
			t.Errorf("%s: declared %s,\nwant its fields %s", tt.typ.Name(), got, want)
		}
	}
}

// A prop's documented default is its declared one (the value the
// declaration applies).
func TestDocumentedDefaultsAreDeclared(t *testing.T) {
	check := func(typ string, declared map[string]string) {
		fields, err := docblock.Fields(".", typ)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fields {
			for _, name := range f.Names {
				want, ok := declared[lowerFirst(name)]
				if !ok || want == "" {
					continue
				}
				// The value, then perhaps why: "false: vehicles need …".
				got := strings.TrimSuffix(f.Default, ".")
				if got != want && !strings.HasPrefix(got, want+",") && !strings.HasPrefix(got, want+":") {
					t.Errorf("%s.%s: documented default %q, declared %s", typ, name, got, want)
				}
			}
		}
	}
	defaults := func(names []string, docs []string) map[string]string {
		m := map[string]string{}
		for i, n := range names {
			m[n] = docs[i]
		}
		return m
	}
	docs := func(ps []prop[FleetApiProps]) []string {
		var out []string
		for _, p := range ps {
			out = append(out, p.docDefault)
		}
		return out
	}
	check("FleetApiProps", defaults(names(propsDeclared), docs(propsDeclared)))
	var thresholds, objective []string
	for _, p := range thresholdsDeclared {
		thresholds = append(thresholds, p.docDefault)
	}
	for _, p := range objectiveDeclared {
		objective = append(objective, p.docDefault)
	}
	check("AlarmThresholds", defaults(names(thresholdsDeclared), thresholds))
	check("ServiceLevelObjective", defaults(names(objectiveDeclared), objective))
}

// Each stage of the app's cdk.json sets its props through Settings: every
// setting it gives reaches the prop the setting names (a value that means
// unset aside), and the stage is valid.
func TestCdkJsonStagesReachTheirProps(t *testing.T) {
	data, err := os.ReadFile("../../cdk.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Context struct {
			Stages map[string]map[string]any `json:"stages"`
		} `json:"context"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	for name, stage := range doc.Context.Stages {
		var p FleetApiProps
		for _, s := range Settings() {
			v, ok := stage[s.Key]
			if !ok {
				continue
			}
			if err := p.SetSetting(s.Key, v); err != nil {
				t.Fatalf("stage %s: %v", name, err)
			}
			unset := s.Key == "eventsTableClass" && v == "standard" || s.Key == "lambdaReservedConcurrency" && v == 0.0
			field := reflect.ValueOf(p).FieldByName(strings.ToUpper(s.Prop[:1]) + s.Prop[1:])
			if field.IsZero() != unset {
				t.Errorf("stage %s: %s %v leaves %s %v", name, s.Key, v, s.Prop, field)
			}
		}
		p.BudgetCostTags = &map[string]*string{"Stage": &name}
		if err := p.Validate(); err != nil {
			t.Errorf("stage %s: %v", name, err)
		}
	}
}

// An error of a prop a setting sets names the setting's key, nested ones
// too; a setting's value of the wrong type names the key; an unknown key
// lists the known ones.
func TestSettingErrorsNameTheKey(t *testing.T) {
	for prop, key := range map[string]string{
		"memorySize": "lambdaMemoryMiB", "eventRetention": "eventRetentionDays", "cloudWatchRole": "apiGatewayCloudWatchRole",
		"alarmThresholds.period": "alarmThresholds.periodMinutes", "alarmThresholds.functionErrors": "alarmThresholds.functionErrors",
		"serviceLevelObjectives.reads.latencyMs": "serviceLevelObjectives.reads.latencyMs", "apiStageName": "apiStageName",
		"budgetCostTags": "budgetCostTags", "vehicleCredentialDuration": "vehicleCredentialDuration",
	} {
		var pe *PropError
		if err := SettingError(&PropError{Prop: prop, Value: 0}); !errors.As(err, &pe) || pe.Prop != key {
			t.Errorf("%s: %v, want %s", prop, err, key)
		}
	}
	var p FleetApiProps
	for key, tt := range map[string]struct {
		value any
		want  string
	}{
		"lambdaMemoryMiB":        {"256", `lambdaMemoryMiB "256" is invalid: must be a number`},
		"removalPolicy":          {"RETAIN", `removalPolicy "RETAIN" is invalid: allowed values are "retain", "destroy", "retainOnUpdateOrDelete"`},
		"logRetentionDays":       {10.0, "logRetentionDays 10 is invalid: allowed values are 1, 3, 5, 7, 14, 30, 60, 90"},
		"alarmThresholds":        {map[string]any{"periodMinutes": true}, "alarmThresholds.periodMinutes true is invalid: must be a number"},
		"serviceLevelObjectives": {map[string]any{"reads": map[string]any{"p99": 1.0}}, `serviceLevelObjectives.reads: unknown setting "p99": known settings are availabilityPercent, latencyPercent, latencyMs`},
		"alarmEmails":            {[]any{1.0}, "alarmEmails (a list) is invalid: must be a list of e-mail addresses"},
		"memory":                 {256.0, `unknown setting "memory": known settings are removalPolicy, deletionProtection`},
	} {
		if err := p.SetSetting(key, tt.value); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s %v: %v, want %q", key, tt.value, err, tt.want)
		}
	}
}
