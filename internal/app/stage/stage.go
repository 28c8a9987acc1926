// Package stage decodes and validates the deployment stages (dev, staging,
// prod, ...) that cdk.json declares under the "stages" context key. A
// stage's settings are the construct's props as fleetapi.Settings names
// them, each declared once in the construct with its default and rule,
// and the stack's own (Config's fields).
package stage

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"github.com/aws/jsii-runtime-go"
	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/fleetapi/fleetapi/constructs/fleetapi"
)

// Context keys read from cdk.json or from `cdk ... --context stage=NAME`.
const (
	ContextKeyStage  = "stage"
	ContextKeyStages = "stages"
	// DefaultStage is used when no stage is given on the command line.
	DefaultStage = "dev"
)

// Project is the value of the Project cost allocation tag.
const Project = "FleetApi"

// Config holds the settings of one stage. Every setting is required in
// cdk.json, but for the optional ones, so that a stage says explicitly
// what it does; unknown settings are refused.
type Config struct {
	// Name is the stage's key in the stages table, e.g. "prod".
	Name string `json:"-"`

	// Props are the construct's props: those a stage sets
	// (fleetapi.Settings: each setting's key, rule and doc are the
	// construct's), and those derived from the stage (ApiStageName: its
	// name; BudgetCostTags: Project and Stage). fleetstack adds AlarmTopic.
	Props fleetapi.FleetApiProps `json:"-"`

	// The stack's own settings.

	// AlarmTopicArn, when set, names an existing SNS topic the alarms and
	// the budget notify instead of a topic of the stack's own.
	AlarmTopicArn string `json:"alarmTopicArn,omitempty"`
	// RequireAlarmSubscriber makes make deploy and make preflight refuse
	// the stage while it has neither alarmEmails nor alarmTopicArn: its
	// alarms must reach someone (its synthesis only warns).
	RequireAlarmSubscriber bool `json:"requireAlarmSubscriber"`
	// CostCenter and Owner become cost allocation tags (with Project and
	// Stage) on the stack and every taggable resource.
	CostCenter string `json:"costCenter"`
	Owner      string `json:"owner"`
	// Account and Region, when set, bind the stack to that AWS account and
	// Region; when not, it deploys where the credentials of the deploy point.
	Account string `json:"account,omitempty"`
	Region  string `json:"region,omitempty"`
}

// AlarmEmails are the addresses the stage's alarms and budget notify.
func (c Config) AlarmEmails() []string {
	var out []string
	if c.Props.AlarmEmails != nil {
		for _, e := range *c.Props.AlarmEmails {
			out = append(out, *e)
		}
	}
	return out
}

// CreatesCloudWatchRole reports whether the stage's stack creates API
// Gateway's CloudWatch role of its account and Region.
func (c Config) CreatesCloudWatchRole() bool {
	return c.Props.CloudWatchRole != nil && *c.Props.CloudWatchRole
}

// CostTags returns the cost allocation tags put on the stack of a stage and
// on every taggable resource in it.
func (c Config) CostTags() map[string]string {
	return map[string]string{"Project": Project, "Stage": c.Name, "CostCenter": c.CostCenter, "Owner": c.Owner}
}

// Tag values may hold at most 256 characters.
const maxTagValueLen = 256

var (
	// Stage names become part of stack names and tag values.
	stageNamePattern = regexp.MustCompile(`^[a-z][a-z0-9-]{0,19}$`)
	// Characters AWS allows in tag values.
	tagValuePattern = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$`)
	accountPattern  = regexp.MustCompile(`^[0-9]{12}$`)
	// Region codes such as eu-west-1, us-gov-west-1, ap-southeast-5.
	regionPattern = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$`)
	// An SNS topic ARN: partition, Region, account, topic name.
	topicArnPattern = regexp.MustCompile(`^arn:aws(-[a-z]+)*:sns:[a-z]{2}(-[a-z]+)+-[0-9]{1,2}:[0-9]{12}:[A-Za-z0-9_-]{1,256}$`)
)

// Select decodes the stages table and returns the stage named name.
// stages is the value of the "stages" context key (a JSON object, or a JSON
// string of one); name is the value of the "stage" key, nil for the default.
// Every stage is validated, since some rules span stages.
func Select(stages any, name any) (Config, error) {
	stageName, err := stageNameOf(name)
	if err != nil {
		return Config{}, err
	}
	table, err := decodeTable(stages)
	if err != nil {
		return Config{}, err
	}
	if _, ok := table[stageName]; !ok {
		return Config{}, fmt.Errorf("unknown stage %q: known stages are %s", stageName, strings.Join(slices.Sorted(maps.Keys(table)), ", "))
	}
	all, err := All(stages)
	if err != nil {
		return Config{}, err
	}
	i := slices.IndexFunc(all, func(c Config) bool { return c.Name == stageName })
	return all[i], nil
}

// All decodes and validates every stage of the table, sorted by name.
func All(stages any) ([]Config, error) {
	table, err := decodeTable(stages)
	if err != nil {
		return nil, err
	}
	var out []Config
	for _, name := range slices.Sorted(maps.Keys(table)) {
		cfg, err := Decode(name, table[name])
		if err != nil {
			return nil, err
		}
		out = append(out, cfg)
	}
	return out, nil
}

// Decode decodes one stage's settings strictly and validates them: the
// construct's by its rules (fleetapi.Settings), named by their keys, and
// the stack's own (Validate).
func Decode(name string, raw jsontext.Value) (Config, error) {
	if !stageNamePattern.MatchString(name) {
		return Config{}, fmt.Errorf("stage name %q is invalid: want lower-case letters, digits and '-', starting with a letter, at most 20 characters", name)
	}
	var present map[string]jsontext.Value
	if err := json.Unmarshal(raw, &present); err != nil || present == nil {
		return Config{}, fmt.Errorf("stage %q: settings must be a JSON object", name)
	}
	own := jsonNames(reflect.TypeFor[Config](), true)
	settings := fleetapi.Settings()
	known := slices.Clone(own)
	for _, s := range settings {
		known = append(known, s.Key)
	}
	for _, key := range slices.Sorted(maps.Keys(present)) {
		if !slices.Contains(known, key) {
			return Config{}, fmt.Errorf("stage %q: unknown setting %q: known settings are %s", name, key, strings.Join(known, ", "))
		}
		// json v2 decodes null as the zero value; a stage says what it does.
		if present[key].Kind() == 'n' {
			return Config{}, fmt.Errorf("stage %q: setting %q is null: give it a value", name, key)
		}
	}
	required := jsonNames(reflect.TypeFor[Config](), false)
	for _, s := range settings {
		if !s.Optional {
			required = append(required, s.Key)
		}
	}
	for _, key := range required {
		if _, ok := present[key]; !ok {
			return Config{}, fmt.Errorf("stage %q: missing setting %q", name, key)
		}
	}

	// The stack's own settings, as Config's fields declare them.
	stack := map[string]jsontext.Value{}
	for _, key := range own {
		if v, ok := present[key]; ok {
			stack[key] = v
		}
	}
	ownRaw, err := json.Marshal(stack)
	if err != nil {
		return Config{}, fmt.Errorf("stage %q: %w", name, err)
	}
	var cfg Config
	// json v2 matches names case-sensitively, refuses duplicate names and
	// trailing data, and reports what it refuses as values (SemanticError).
	if err := json.Unmarshal(ownRaw, &cfg, json.RejectUnknownMembers(true)); err != nil {
		return Config{}, fmt.Errorf("stage %q: %w", name, describeDecodeError(err))
	}
	cfg.Name = name

	// The construct's settings, as the construct declares them.
	for _, s := range settings {
		v, ok := present[s.Key]
		if !ok {
			continue
		}
		var value any
		if err := json.Unmarshal(v, &value); err != nil {
			return Config{}, fmt.Errorf("stage %q: %s: %w", name, s.Key, err)
		}
		if err := cfg.Props.SetSetting(s.Key, value); err != nil {
			return Config{}, fmt.Errorf("stage %q: %w", name, err)
		}
	}
	// What derives from the stage itself.
	cfg.Props.ApiStageName = jsii.String(name)
	cfg.Props.BudgetCostTags = &map[string]*string{"Project": jsii.String(Project), "Stage": jsii.String(name)}
	if err := cfg.Props.Validate(); err != nil {
		return Config{}, fmt.Errorf("stage %q: %w", name, fleetapi.SettingError(err))
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, fmt.Errorf("stage %q: %w", name, err)
	}
	return cfg, nil
}

// Validate checks the stack's own settings: its tags, account and
// Region, and the alarm topic's ARN. The construct checks its props
// (Decode).
func (c Config) Validate() error {
	if c.AlarmTopicArn != "" && !topicArnPattern.MatchString(c.AlarmTopicArn) {
		return fmt.Errorf("alarmTopicArn %q is not an SNS topic ARN such as arn:aws:sns:eu-west-1:123456789012:alarms", c.AlarmTopicArn)
	}
	if c.Account != "" && !accountPattern.MatchString(c.Account) {
		return fmt.Errorf("account %q is invalid: an AWS account ID is 12 digits", c.Account)
	}
	if c.Region != "" && !regionPattern.MatchString(c.Region) {
		return fmt.Errorf("region %q is invalid: want a Region code such as eu-west-1", c.Region)
	}
	if err := tagValue("costCenter", c.CostCenter); err != nil {
		return err
	}
	return tagValue("owner", c.Owner)
}

func stageNameOf(name any) (string, error) {
	switch v := name.(type) {
	case nil:
		return DefaultStage, nil
	case string:
		if v == "" {
			return DefaultStage, nil
		}
		return v, nil
	default:
		return "", fmt.Errorf("context %q must be a string such as \"prod\", got %v (%T)", ContextKeyStage, v, v)
	}
}

func decodeTable(stages any) (map[string]jsontext.Value, error) {
	var raw []byte
	switch v := stages.(type) {
	case nil:
		return nil, fmt.Errorf("context %q is missing: cdk.json must declare the stages table", ContextKeyStages)
	case string:
		// A value given with --context arrives as a string.
		raw = []byte(v)
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("context %q: %w", ContextKeyStages, err)
		}
		raw = b
	}
	var table map[string]jsontext.Value
	if err := json.Unmarshal(raw, &table); err != nil || table == nil {
		return nil, fmt.Errorf("context %q must be a JSON object mapping stage names to settings", ContextKeyStages)
	}
	if len(table) == 0 {
		return nil, fmt.Errorf("context %q declares no stage", ContextKeyStages)
	}
	return table, nil
}

// describeDecodeError names the stack setting a decoding error is about,
// as cdk.json writes it, and what it must be.
func describeDecodeError(err error) error {
	var semErr *json.SemanticError
	if !errors.As(err, &semErr) {
		var syntaxErr *jsontext.SyntacticError
		if errors.As(err, &syntaxErr) {
			return fmt.Errorf("malformed JSON at %q: %w", syntaxErr.JSONPointer, err)
		}
		return err
	}
	setting := strings.Join(slices.Collect(semErr.JSONPointer.Tokens()), ".")
	got := "null"
	if semErr.JSONKind != 0 {
		got = kindName[semErr.JSONKind]
	}
	if semErr.GoType != nil {
		return fmt.Errorf("%s must be %s, got %s", setting, jsonKind(semErr.GoType), got)
	}
	return fmt.Errorf("%s: %w", setting, semErr.Err)
}

// kindName names a JSON kind as a setting's error says what it got.
var kindName = map[jsontext.Kind]string{
	'n': "null", 'f': "false", 't': "true", '"': "string", '0': "number", '{': "object", '[': "array",
}

func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64:
		return "a whole number"
	case reflect.Pointer:
		return jsonKind(t.Elem())
	case reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Slice:
		return "a list"
	default:
		return t.String()
	}
}

// jsonNames lists the JSON names of a struct's settings, in declaration
// order: every one, or only the required ones (those without omitempty).
func jsonNames(t reflect.Type, optionalToo bool) []string {
	var names []string
	for i := range t.NumField() {
		tag := t.Field(i).Tag.Get("json")
		if tag == "" || tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if optionalToo || opts != "omitempty" {
			names = append(names, name)
		}
	}
	return names
}

func tagValue(setting, v string) error {
	if strings.TrimSpace(v) == "" {
		return fmt.Errorf("%s must not be empty: it becomes a cost allocation tag", setting)
	}
	if len(v) > maxTagValueLen || !tagValuePattern.MatchString(v) {
		return fmt.Errorf("%s %q is not a valid tag value: at most %d letters, digits, spaces and _ . : / = + - @", setting, v, maxTagValueLen)
	}
	return nil
}

// NoAlarmSubscriber says, when the stage's alarms and budget would notify
// no one (neither alarmEmails nor alarmTopicArn), what to set; nil when
// they reach someone.
func (c Config) NoAlarmSubscriber() error {
	if len(c.AlarmEmails()) > 0 || c.AlarmTopicArn != "" {
		return nil
	}
	return fmt.Errorf("stage %q: no one is told of its alarms and its budget: set alarmEmails (each address must confirm the subscription SNS mails it) or alarmTopicArn in cdk.json", c.Name)
}
