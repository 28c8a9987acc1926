package fleetapi

import (
	"errors"
	"slices"
)

// Setting is a prop as a settings object names it: a JSON object such as a
// stage of a CDK app's cdk.json (this module's app keeps its stages so;
// docs/stages.md). Its key says its unit where the prop's type does not:
// lambdaMemoryMiB is MemorySize, eventRetentionDays is EventRetention in
// days, lambdaReservedConcurrency 0 is no reservation. Each is declared
// once, beside the prop's default and rule, so that a value a settings
// object gives is checked by the same rule as one Go code gives, and its
// error names the key instead of the prop.
type Setting struct {
	// Key is the setting's key in a settings object.
	Key string
	// Prop is the prop it sets, as PropError names it: memorySize.
	Prop string
	// Optional settings may be left out; the others must be given, so
	// that a settings object says what it does.
	Optional bool
}

// Settings lists the props a settings object may set, in the order of
// FleetApiProps. Those it does not list (ApiStageName, AlarmTopic,
// BudgetCostTags, ...) an app sets in Go.
func Settings() []Setting {
	var out []Setting
	for _, p := range propsDeclared {
		if p.key != "" {
			out = append(out, Setting{Key: p.key, Prop: p.name, Optional: p.optional})
		}
	}
	return out
}

// SetSetting sets the prop a settings object names key from its value, a
// JSON value as encoding/json decodes it into an any (float64, bool,
// string, []any, map[string]any). A value of the wrong type or form is a
// *PropError naming the key (alarmThresholds.periodMinutes for a member of
// an object); an unknown key or member is an error listing the known
// ones. The value's range is Validate's to check; SettingError names
// what it finds by its key.
func (props *FleetApiProps) SetSetting(key string, value any) error {
	i := slices.IndexFunc(propsDeclared, func(p prop[FleetApiProps]) bool { return p.key == key })
	if i < 0 {
		return &unknownSettingError{"", key, settingKeys(propsDeclared)}
	}
	return setting(propsDeclared[i], props, value)
}

// SettingError returns err with its prop named as a settings object names
// it: the *PropError Validate gives of memorySize becomes one of
// lambdaMemoryMiB, of alarmThresholds.period one of
// alarmThresholds.periodMinutes. Any other error, or one of a prop no
// setting sets (apiStageName), is returned as it is.
func SettingError(err error) error {
	var pe *PropError
	if !errors.As(err, &pe) {
		return err
	}
	key := keyOf(propsDeclared, pe.Prop)
	if key == "" {
		return err
	}
	return &PropError{Prop: key, Value: pe.Value, Allowed: pe.Allowed}
}
