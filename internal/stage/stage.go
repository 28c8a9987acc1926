// Package stage decodes and validates the deployment stages (dev, staging,
// prod, ...) that cdk.json declares under the "stages" context key.
package stage

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/mail"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Context keys read from cdk.json or from `cdk ... --context stage=NAME`.
const (
	ContextKeyStage  = "stage"
	ContextKeyStages = "stages"
	// DefaultStage is used when no stage is given on the command line.
	DefaultStage = "dev"
)

// Config holds the settings of one stage. Every field is required in cdk.json
// so that a stage says explicitly what it does; unknown settings are refused.
type Config struct {
	// Name is the stage's key in the stages table, e.g. "prod".
	Name string `json:"-"`

	// RemovalPolicy of the stateful resources: "retain" or "destroy".
	RemovalPolicy string `json:"removalPolicy"`
	// DeletionProtection turns on table deletion protection and stack
	// termination protection.
	DeletionProtection bool `json:"deletionProtection"`
	// PointInTimeRecovery enables continuous backups of the tables.
	PointInTimeRecovery bool `json:"pointInTimeRecovery"`
	// LogRetentionDays of every log group; one of CloudWatch's allowed values.
	LogRetentionDays int `json:"logRetentionDays"`
	// EventRetentionDays after which vehicle events expire through TTL.
	EventRetentionDays int `json:"eventRetentionDays"`

	// ApiThrottleRateLimit is the steady-state request rate (requests/s) of the API stage.
	ApiThrottleRateLimit float64 `json:"apiThrottleRateLimit"`
	// ApiThrottleBurstLimit is the burst capacity (requests) of the API stage.
	ApiThrottleBurstLimit int `json:"apiThrottleBurstLimit"`

	// LambdaMemoryMiB of every function.
	LambdaMemoryMiB int `json:"lambdaMemoryMiB"`
	// LambdaTimeoutSeconds of every function.
	LambdaTimeoutSeconds int `json:"lambdaTimeoutSeconds"`
	// LambdaReservedConcurrency of each function; 0 leaves it unreserved.
	LambdaReservedConcurrency int `json:"lambdaReservedConcurrency"`

	// AlarmEmails receive the stage's alarm and budget notifications.
	AlarmEmails []string `json:"alarmEmails"`
	// MonthlyBudgetUsd is the stage's monthly cost budget in US dollars.
	MonthlyBudgetUsd float64 `json:"monthlyBudgetUsd"`
	// CostCenter and Owner become cost allocation tags.
	CostCenter string `json:"costCenter"`
	Owner      string `json:"owner"`
}

// Removal policies a stage may name.
const (
	RemovalPolicyRetain  = "retain"
	RemovalPolicyDestroy = "destroy"
)

// Limits enforced on stage settings. Where a limit is AWS's, it is named.
const (
	// Lambda allows 128 MiB to 10,240 MiB.
	MinLambdaMemoryMiB = 128
	MaxLambdaMemoryMiB = 10240
	// API Gateway's default integration timeout is 29 s: a longer function
	// timeout would only keep running after the client got a 504.
	MaxLambdaTimeoutSeconds = 29
	// The default regional account concurrency is 1,000.
	MaxLambdaReservedConcurrency = 1000
	// API Gateway's default account-level throttle is 10,000 requests/s and 5,000 burst.
	MaxApiThrottleRateLimit  = 10000
	MaxApiThrottleBurstLimit = 5000
	// DynamoDB TTL; ten years is far beyond any telemetry retention.
	MaxEventRetentionDays = 3650
	// Tag values may hold at most 256 characters.
	maxTagValueLen = 256
)

// logRetentionDays lists the retention periods CloudWatch Logs accepts.
var logRetentionDays = []int{1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}

var (
	// Stage names become part of stack names and tag values.
	stageNamePattern = regexp.MustCompile(`^[a-z][a-z0-9-]{0,19}$`)
	// Characters AWS allows in tag values.
	tagValuePattern = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$`)
)

// Select decodes the stages table and returns the stage named name.
// stages is the value of the "stages" context key (a JSON object, or a JSON
// string of one); name is the value of the "stage" key, nil for the default.
func Select(stages any, name any) (Config, error) {
	stageName, err := stageNameOf(name)
	if err != nil {
		return Config{}, err
	}
	table, err := decodeTable(stages)
	if err != nil {
		return Config{}, err
	}
	raw, ok := table[stageName]
	if !ok {
		return Config{}, fmt.Errorf("unknown stage %q: known stages are %s", stageName, strings.Join(slices.Sorted(maps.Keys(table)), ", "))
	}
	cfg, err := Decode(stageName, raw)
	if err != nil {
		return Config{}, err
	}
	return cfg, nil
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

// Decode decodes one stage's settings strictly and validates them.
func Decode(name string, raw json.RawMessage) (Config, error) {
	if !stageNamePattern.MatchString(name) {
		return Config{}, fmt.Errorf("stage name %q is invalid: want lower-case letters, digits and '-', starting with a letter, at most 20 characters", name)
	}
	var present map[string]json.RawMessage
	if err := json.Unmarshal(raw, &present); err != nil || present == nil {
		return Config{}, fmt.Errorf("stage %q: settings must be a JSON object", name)
	}
	for _, key := range settingNames() {
		if _, ok := present[key]; !ok {
			return Config{}, fmt.Errorf("stage %q: missing setting %q", name, key)
		}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var cfg Config
	if err := dec.Decode(&cfg); err != nil {
		return Config{}, fmt.Errorf("stage %q: %w", name, describeDecodeError(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Config{}, fmt.Errorf("stage %q: trailing data after the settings object", name)
	}
	cfg.Name = name
	if err := cfg.Validate(); err != nil {
		return Config{}, fmt.Errorf("stage %q: %w", name, err)
	}
	return cfg, nil
}

// Validate checks every setting against AWS's limits and the project's rules.
// It reports the first bad setting with its value and what is allowed.
func (c Config) Validate() error {
	switch c.RemovalPolicy {
	case RemovalPolicyRetain:
	case RemovalPolicyDestroy:
		if c.DeletionProtection {
			return errors.New(`deletionProtection must be false when removalPolicy is "destroy": CloudFormation could not delete protected tables`)
		}
	default:
		return fmt.Errorf("removalPolicy %q is invalid: allowed values are %q, %q", c.RemovalPolicy, RemovalPolicyRetain, RemovalPolicyDestroy)
	}
	if !slices.Contains(logRetentionDays, c.LogRetentionDays) {
		return fmt.Errorf("logRetentionDays %d is invalid: allowed values are %s", c.LogRetentionDays, joinInts(logRetentionDays))
	}
	if err := inRange("eventRetentionDays", c.EventRetentionDays, 1, MaxEventRetentionDays); err != nil {
		return err
	}
	if c.ApiThrottleRateLimit <= 0 || c.ApiThrottleRateLimit > MaxApiThrottleRateLimit {
		return fmt.Errorf("apiThrottleRateLimit %v is invalid: allowed range is (0, %d] requests per second", c.ApiThrottleRateLimit, MaxApiThrottleRateLimit)
	}
	if err := inRange("apiThrottleBurstLimit", c.ApiThrottleBurstLimit, 1, MaxApiThrottleBurstLimit); err != nil {
		return err
	}
	if err := inRange("lambdaMemoryMiB", c.LambdaMemoryMiB, MinLambdaMemoryMiB, MaxLambdaMemoryMiB); err != nil {
		return err
	}
	if err := inRange("lambdaTimeoutSeconds", c.LambdaTimeoutSeconds, 1, MaxLambdaTimeoutSeconds); err != nil {
		return err
	}
	if err := inRange("lambdaReservedConcurrency", c.LambdaReservedConcurrency, 0, MaxLambdaReservedConcurrency); err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, addr := range c.AlarmEmails {
		parsed, err := mail.ParseAddress(addr)
		if err != nil || parsed.Address != addr {
			return fmt.Errorf("alarmEmails: %q is not a plain e-mail address such as ops@example.com", addr)
		}
		if seen[strings.ToLower(addr)] {
			return fmt.Errorf("alarmEmails: %q is listed twice", addr)
		}
		seen[strings.ToLower(addr)] = true
	}
	if c.MonthlyBudgetUsd <= 0 {
		return fmt.Errorf("monthlyBudgetUsd %v is invalid: must be greater than 0", c.MonthlyBudgetUsd)
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

func decodeTable(stages any) (map[string]json.RawMessage, error) {
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
	var table map[string]json.RawMessage
	if err := json.Unmarshal(raw, &table); err != nil || table == nil {
		return nil, fmt.Errorf("context %q must be a JSON object mapping stage names to settings", ContextKeyStages)
	}
	if len(table) == 0 {
		return nil, fmt.Errorf("context %q declares no stage", ContextKeyStages)
	}
	return table, nil
}

func describeDecodeError(err error) error {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		return fmt.Errorf("%s must be %s, got %s", typeErr.Field, jsonKind(typeErr.Type), typeErr.Value)
	}
	var syntaxErr *json.SyntaxError
	if errors.As(err, &syntaxErr) {
		return fmt.Errorf("malformed JSON at byte %d: %w", syntaxErr.Offset, err)
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return fmt.Errorf("unknown setting %s: known settings are %s", name, strings.Join(settingNames(), ", "))
	}
	return err
}

func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64:
		return "a whole number"
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

// settingNames lists the JSON names of Config's settings, in declaration order.
func settingNames() []string {
	t := reflect.TypeFor[Config]()
	var names []string
	for i := range t.NumField() {
		if tag := t.Field(i).Tag.Get("json"); tag != "" && tag != "-" {
			names = append(names, strings.Split(tag, ",")[0])
		}
	}
	return names
}

func inRange(setting string, v, lo, hi int) error {
	if v < lo || v > hi {
		return fmt.Errorf("%s %d is invalid: allowed range is %d to %d", setting, v, lo, hi)
	}
	return nil
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

func joinInts(vs []int) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = strconv.Itoa(v)
	}
	return strings.Join(s, ", ")
}
