// Package stage decodes and validates the deployment stages (dev, staging,
// prod, ...) that cdk.json declares under the "stages" context key.
package stage

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
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

	// RemovalPolicy of the stateful resources (tables, log groups, the
	// alarm topic's key): "retain" or "destroy".
	RemovalPolicy string `json:"removalPolicy"`
	// DeletionProtection turns on table deletion protection and stack
	// termination protection; false with "destroy".
	DeletionProtection bool `json:"deletionProtection"`
	// PointInTimeRecovery enables continuous backups of the tables.
	PointInTimeRecovery bool `json:"pointInTimeRecovery"`
	// LogRetentionDays of every log group; one of CloudWatch Logs' retention
	// periods (fleetstack checks it).
	LogRetentionDays int `json:"logRetentionDays"`
	// EventRetentionDays after which vehicle events expire through TTL,
	// 1 to 3650.
	EventRetentionDays int `json:"eventRetentionDays"`
	// EventsTableClass of the events table: "standard" or
	// "standardInfrequentAccess" (cheaper storage, dearer requests).
	EventsTableClass string `json:"eventsTableClass"`

	// ApiThrottleRateLimit is the steady-state request rate (requests/s) of
	// the API stage: above 0, at most 10000.
	ApiThrottleRateLimit float64 `json:"apiThrottleRateLimit"`
	// ApiThrottleBurstLimit is the burst capacity (requests) of the API
	// stage, 1 to 5000.
	ApiThrottleBurstLimit int `json:"apiThrottleBurstLimit"`

	// LambdaMemoryMiB of every function, 128 to 10240.
	LambdaMemoryMiB int `json:"lambdaMemoryMiB"`
	// LambdaTimeoutSeconds of every function, 1 to 29 (API Gateway's
	// integration timeout).
	LambdaTimeoutSeconds int `json:"lambdaTimeoutSeconds"`
	// LambdaReservedConcurrency of each function, up to 1000; 0 leaves it
	// unreserved.
	LambdaReservedConcurrency int `json:"lambdaReservedConcurrency"`

	// TableMaxReadRequestUnits and TableMaxWriteRequestUnits cap the
	// on-demand throughput of each table, per second: a cost ceiling, 1 to
	// 40000 (DynamoDB's default table quota).
	TableMaxReadRequestUnits  int `json:"tableMaxReadRequestUnits"`
	TableMaxWriteRequestUnits int `json:"tableMaxWriteRequestUnits"`

	// AlarmEmails receive the stage's alarm and budget notifications: plain
	// addresses, each once.
	AlarmEmails []string `json:"alarmEmails"`
	// AlarmTopicArn, when set, names an existing SNS topic the alarms and
	// the budget notify instead of a topic of the stack's own.
	AlarmTopicArn string `json:"alarmTopicArn,omitempty"`
	// RequireAlarmSubscriber makes make deploy and make preflight refuse
	// the stage while it has neither alarmEmails nor alarmTopicArn: its
	// alarms must reach someone (its synthesis only warns).
	RequireAlarmSubscriber bool `json:"requireAlarmSubscriber"`
	// AlarmThresholds of the stage; a setting left out takes the
	// construct's documented default.
	AlarmThresholds AlarmThresholds `json:"alarmThresholds"`
	// AlarmSeverities, when set, changes the severity ("critical" or
	// "warning") of kinds of alarm, by their key in docs/operating.md (e.g.
	// "Api-Latency-p99"); the others keep the construct's
	// (fleetapi.DefaultAlarmSeverities).
	AlarmSeverities map[string]string `json:"alarmSeverities,omitempty"`
	// ServiceLevelObjectives of the stage's uploads and reads over 30 days,
	// which its burn-rate alarms watch; a target left out takes the
	// construct's default (fleetapi.ServiceLevelObjective).
	ServiceLevelObjectives ServiceLevelObjectives `json:"serviceLevelObjectives"`
	// MonthlyBudgetUsd is the stage's monthly cost budget in US dollars,
	// above 0.
	MonthlyBudgetUsd float64 `json:"monthlyBudgetUsd"`
	// CostCenter and Owner become cost allocation tags (with Project and
	// Stage) on the stack and every taggable resource.
	CostCenter string `json:"costCenter"`
	Owner      string `json:"owner"`

	// ApiGatewayCloudWatchRole says whether this stage's stack creates the
	// role through which API Gateway writes logs, an account-wide setting of
	// API Gateway (one per account and region): exactly one stage of an
	// account and region must own it, or execution logging cannot be set.
	ApiGatewayCloudWatchRole bool `json:"apiGatewayCloudWatchRole"`
	// VehicleCredentials makes the stack create what vehicles need to get
	// credentials from their X.509 certificate through the AWS IoT Core
	// credentials provider (fleetapi.FleetApiProps.VehicleCredentials).
	VehicleCredentials bool `json:"vehicleCredentials"`
	// MqttUploads lets vehicles upload over MQTT through AWS IoT Core's
	// Basic Ingest (fleetapi.FleetApiProps.MqttUploads).
	MqttUploads bool `json:"mqttUploads"`

	// CloudWatchRoleOwner is the stage that creates that role in this
	// stage's account and Region (this one or another); set by All and Select.
	CloudWatchRoleOwner string `json:"-"`

	// Account and Region, when set, bind the stack to that AWS account and
	// Region; when not, it deploys where the credentials of the deploy point.
	Account string `json:"account,omitempty"`
	Region  string `json:"region,omitempty"`
}

// AlarmThresholds are the alarm settings of a stage (see
// fleetapi.AlarmThresholds for their meaning and defaults). Each is optional.
type AlarmThresholds struct {
	PeriodMinutes              *int     `json:"periodMinutes,omitempty"`
	EvaluationPeriods          *int     `json:"evaluationPeriods,omitempty"`
	DatapointsToAlarm          *int     `json:"datapointsToAlarm,omitempty"`
	FunctionErrors             *int     `json:"functionErrors,omitempty"`
	FunctionThrottles          *int     `json:"functionThrottles,omitempty"`
	FunctionDurationP99Percent *float64 `json:"functionDurationP99Percent,omitempty"`
	FunctionConcurrencyPercent *float64 `json:"functionConcurrencyPercent,omitempty"`
	Api5xxErrors               *int     `json:"api5xxErrors,omitempty"`
	ApiLatencyP99Ms            *int     `json:"apiLatencyP99Ms,omitempty"`
	Api4xxRatePercent          *float64 `json:"api4xxRatePercent,omitempty"`
	TableThrottledRequests     *int     `json:"tableThrottledRequests,omitempty"`
	TableSystemErrors          *int     `json:"tableSystemErrors,omitempty"`
	AccessRefused              *int     `json:"accessRefused,omitempty"`
}

// ServiceLevelObjectives are the objectives of a stage (see
// fleetapi.ServiceLevelObjectives).
type ServiceLevelObjectives struct {
	Uploads ServiceLevelObjective `json:"uploads,omitempty"`
	Reads   ServiceLevelObjective `json:"reads,omitempty"`
}

// ServiceLevelObjective is one set of targets (see
// fleetapi.ServiceLevelObjective for their meaning and defaults). Each is
// optional.
type ServiceLevelObjective struct {
	AvailabilityPercent *float64 `json:"availabilityPercent,omitempty"`
	LatencyPercent      *float64 `json:"latencyPercent,omitempty"`
	LatencyMs           *int     `json:"latencyMs,omitempty"`
}

// Removal policies a stage may name.
const (
	RemovalPolicyRetain  = "retain"
	RemovalPolicyDestroy = "destroy"
)

// Table classes a stage may name for its events table.
const (
	TableClassStandard                 = "standard"
	TableClassStandardInfrequentAccess = "standardInfrequentAccess"
)

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
	if err := checkAccountRoles(out); err != nil {
		return nil, err
	}
	return out, nil
}

// checkAccountRoles requires exactly one stage of each account and
// Region to create API Gateway's account-wide CloudWatch role, and tells
// every stage which one does. Stages that name no account or Region are
// taken to share the deploying credentials' one.
func checkAccountRoles(cfgs []Config) error {
	owners := map[string][]string{}
	where := func(c Config) string {
		return cmp.Or(c.Account, "(the deploying account)") + " " + cmp.Or(c.Region, "(the deploying Region)")
	}
	for _, c := range cfgs {
		if c.ApiGatewayCloudWatchRole {
			owners[where(c)] = append(owners[where(c)], c.Name)
		}
	}
	for i, c := range cfgs {
		switch names := owners[where(c)]; len(names) {
		case 0:
			return fmt.Errorf("apiGatewayCloudWatchRole: no stage creates the account-wide API Gateway CloudWatch role in %s, which stage %q needs for its logs: set it true for the stage deployed there first", where(c), c.Name)
		case 1:
			cfgs[i].CloudWatchRoleOwner = names[0]
		default:
			return fmt.Errorf("apiGatewayCloudWatchRole: stages %s would each create the account-wide API Gateway CloudWatch role in %s: set it true for one of them only", strings.Join(names, ", "), where(c))
		}
	}
	return nil
}

// Decode decodes one stage's settings strictly and validates them.
func Decode(name string, raw jsontext.Value) (Config, error) {
	if !stageNamePattern.MatchString(name) {
		return Config{}, fmt.Errorf("stage name %q is invalid: want lower-case letters, digits and '-', starting with a letter, at most 20 characters", name)
	}
	var present map[string]jsontext.Value
	if err := json.Unmarshal(raw, &present); err != nil || present == nil {
		return Config{}, fmt.Errorf("stage %q: settings must be a JSON object", name)
	}
	for _, key := range jsonNames(reflect.TypeFor[Config](), false) {
		v, ok := present[key]
		if !ok {
			return Config{}, fmt.Errorf("stage %q: missing setting %q", name, key)
		}
		// json v2 decodes null as the zero value; a stage says what it does.
		if v.Kind() == 'n' {
			return Config{}, fmt.Errorf("stage %q: setting %q is null: give it a value", name, key)
		}
	}
	var cfg Config
	// json v2 matches names case-sensitively, refuses duplicate names and
	// trailing data, and reports what it refuses as values (SemanticError).
	if err := json.Unmarshal(raw, &cfg, json.RejectUnknownMembers(true)); err != nil {
		return Config{}, fmt.Errorf("stage %q: %w", name, describeDecodeError(err))
	}
	cfg.Name = name
	if err := cfg.Validate(); err != nil {
		return Config{}, fmt.Errorf("stage %q: %w", name, err)
	}
	return cfg, nil
}

// Validate checks the settings that are the stage table's own: the
// values it names by words (removal policy, events table class), the
// stack's (tags, account, Region) and the alarm topic's ARN. The construct checks every
// other value against AWS's limits (fleetstack.Validate names its errors
// by these settings).
func (c Config) Validate() error {
	switch c.RemovalPolicy {
	case RemovalPolicyRetain, RemovalPolicyDestroy:
	default:
		return fmt.Errorf("removalPolicy %q is invalid: allowed values are %q, %q", c.RemovalPolicy, RemovalPolicyRetain, RemovalPolicyDestroy)
	}
	switch c.EventsTableClass {
	case TableClassStandard, TableClassStandardInfrequentAccess:
	default:
		return fmt.Errorf("eventsTableClass %q is invalid: allowed values are %q, %q", c.EventsTableClass, TableClassStandard, TableClassStandardInfrequentAccess)
	}
	if c.LambdaReservedConcurrency < 0 {
		return fmt.Errorf("lambdaReservedConcurrency %d is invalid: 0 leaves the functions unreserved, a positive number reserves", c.LambdaReservedConcurrency)
	}
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

// describeDecodeError names the setting a decoding error is about, as
// cdk.json writes it (alarmThresholds.periodMinutes), and what it must be.
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
	if errors.Is(semErr.Err, json.ErrUnknownName) {
		parent, name := "", setting
		if i := strings.LastIndex(setting, "."); i >= 0 {
			parent, name = setting[:i]+": ", setting[i+1:]
		}
		known := settingType(reflect.TypeFor[Config](), strings.Split(setting, ".")[:strings.Count(setting, ".")])
		return fmt.Errorf("%sunknown setting %q: known settings are %s", parent, name, strings.Join(jsonNames(known, true), ", "))
	}
	got := "null"
	if semErr.JSONKind != 0 {
		got = kindName[semErr.JSONKind]
	}
	if semErr.GoType != nil {
		return fmt.Errorf("%s must be %s, got %s", setting, jsonKind(semErr.GoType), got)
	}
	return fmt.Errorf("%s: %w", setting, semErr.Err)
}

// settingType is the struct type of the setting at path, by the JSON names
// of the fields that lead there.
func settingType(t reflect.Type, path []string) reflect.Type {
	for _, name := range path {
		for i := range t.NumField() {
			if tag, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ","); tag == name {
				t = t.Field(i).Type
				break
			}
		}
	}
	return t
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
	if len(c.AlarmEmails) > 0 || c.AlarmTopicArn != "" {
		return nil
	}
	return fmt.Errorf("stage %q: no one is told of its alarms and its budget: set alarmEmails (each address must confirm the subscription SNS mails it) or alarmTopicArn in cdk.json", c.Name)
}
