package costmodel

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/fleetapi/fleetapi/internal/shared/contract"
	"github.com/fleetapi/fleetapi/internal/shared/schema"
)

// Stack is what a synthesized FleetApi template deploys that the bill
// depends on, read from the template itself rather than from the settings
// that produced it.
type Stack struct {
	// Stage is the template's Stage tag.
	Stage     string
	Functions []Function
	// Events and Vehicles are the tables of the API, told apart by their
	// keys; State is the vehicles' state table, the one the functions are
	// told of as contract.EnvStateTable.
	Events, Vehicles, State Table
	// EventRetentionDays is the events' TTL, as the functions are told it.
	EventRetentionDays int
	// AccessLogFormat is the stage's access log format; AccessLogRetentionDays
	// its log group's retention (0: never expires).
	AccessLogFormat        string
	AccessLogRetentionDays int
	// APITracing is the stage's X-Ray tracing; DetailedMetrics its
	// per-method CloudWatch metrics.
	APITracing, DetailedMetrics bool
	// APITraceSampling is the stage's X-Ray sampling rule, nil for X-Ray's
	// default (a request a second, 5 % of the rest).
	APITraceSampling *TraceSampling
	// ThrottleRate and ThrottleBurst are the stage's default method throttle.
	ThrottleRate, ThrottleBurst float64
	// AlarmMetrics counts the metrics the alarms watch (a metric math alarm
	// is billed per metric it reads), by resolution.
	AlarmMetrics, HighResolutionAlarmMetrics int
	// CompositeAlarms are billed by the alarm, whatever their rule reads.
	CompositeAlarms                                                   int
	Dashboards, KMSKeys, Secrets, Topics, Budgets, EmailSubscriptions int
	// UploadRule: vehicles may upload over MQTT (an AWS::IoT::TopicRule).
	UploadRule bool
	// LifecycleRule: IoT Core's connect and disconnect events reach the
	// tracker (the topic rule on contract.LifecycleTopicFilter).
	LifecycleRule bool
	// Synthetic is the synthetic vehicle's function, nil without one;
	// SyntheticEveryMinutes its schedule.
	Synthetic             *Function
	SyntheticEveryMinutes int
	// Tracker keeps the vehicles' state; nil in a template without one.
	Tracker *Tracker
	// History is the fleet's history; nil in a template without one.
	History *History
}

// TraceSampling is an X-Ray sampling rule: a reservoir of requests a
// second, then a fixed rate of the rest.
type TraceSampling struct {
	Reservoir, FixedRate float64
}

// Tracker is the function that keeps the vehicles' state: how the events
// table's stream reaches it, and how often it counts the fleet.
type Tracker struct {
	Function
	// BatchingWindowSeconds, BatchSize and Parallelization are its stream
	// mapping's.
	BatchingWindowSeconds, BatchSize, Parallelization int
	// FiguresEveryMinutes is its schedule's.
	FiguresEveryMinutes int
}

// Function is one Lambda function of the stack.
type Function struct {
	LogicalID string
	// Operations are the API operations it serves (contract.EnvRoutes).
	Operations []string
	MemoryMiB  int
	// Architecture is arm64 or x86_64.
	Architecture        string
	Tracing             bool
	LogRetentionDays    int
	TimeoutSeconds      int
	ReservedConcurrency int // 0: none reserved
	// ReadsSecret says the function reads a secret (the cursor key).
	ReadsSecret bool
	// QuietPlatform: its system log level is WARN, so Lambda writes no
	// start and report lines of its invocations.
	QuietPlatform bool
}

// Table is one DynamoDB table of the stack.
type Table struct {
	LogicalID string
	// OnDemand is PAY_PER_REQUEST billing; otherwise provisioned.
	OnDemand bool
	// ReadCapacity and WriteCapacity are the provisioned units.
	ReadCapacity, WriteCapacity float64
	// MaxReadUnits and MaxWriteUnits cap an on-demand table (0: no cap).
	MaxReadUnits, MaxWriteUnits float64
	// InfrequentAccess is the STANDARD_INFREQUENT_ACCESS table class.
	InfrequentAccess bool
	PITR             bool
}

// FunctionOf returns the function that serves an operation.
func (s *Stack) FunctionOf(op string) (Function, bool) {
	for _, f := range s.Functions {
		if slices.Contains(f.Operations, op) {
			return f, true
		}
	}
	return Function{}, false
}

// Operations returns every operation the stack's functions serve.
func (s *Stack) Operations() []string {
	var ops []string
	for _, f := range s.Functions {
		ops = append(ops, f.Operations...)
	}
	slices.Sort(ops)
	return ops
}

// LoadStack reads a synthesized template; its errors name the file.
func LoadStack(path string) (*Stack, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("template: %w (synthesize it first: make synth STAGE=…)", err)
	}
	s, err := ParseStack(data)
	if err != nil {
		return nil, fmt.Errorf("template %s: %w", path, err)
	}
	return s, nil
}

// ParseStack reads a template's contents. A resource type the cost model
// does not know is an error, as is a property it needs that is not a
// literal value.
func ParseStack(data []byte) (*Stack, error) {
	resources, err := parseResources(data)
	if err != nil {
		return nil, err
	}
	if err := unknownTypes(countTypes(resources)); err != nil {
		return nil, err
	}
	s := &Stack{}
	logRetention := map[string]int{}
	stateTable, historyBucket := "", ""
	aliasOf := map[string]string{} // alias logical ID → its function's
	serves := map[string]any{}     // function logical ID → what it serves
	for id, r := range resources {
		switch r.Type {
		case "AWS::Logs::LogGroup":
			days, err := intProp(r.Properties, "RetentionInDays", 0)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", id, err)
			}
			logRetention[id] = days
		case "AWS::Lambda::Function":
			env, _ := r.Properties["Environment"].(map[string]any)
			vars, _ := env["Variables"].(map[string]any)
			if ref := findRef(vars[contract.EnvStateTable]); ref != "" {
				stateTable = ref
			}
			if ref := findRef(vars[contract.EnvHistoryBucket]); ref != "" {
				historyBucket = ref
			}
			serves[id] = vars[contract.EnvServes]
		case "AWS::Lambda::Alias":
			aliasOf[id] = findRef(r.Properties["FunctionName"])
		}
	}
	var schedules []schedule
	for _, id := range sortedKeys(resources) {
		r := resources[id]
		var err error
		switch r.Type {
		case "AWS::Lambda::Function":
			err = s.addFunction(id, r.Properties, logRetention)
		case "AWS::DynamoDB::Table":
			if id == stateTable {
				s.State = Table{LogicalID: id}
				err = s.State.read(r.Properties)
				break
			}
			err = s.addTable(id, r.Properties)
		case "AWS::Lambda::EventSourceMapping":
			target := findRef(r.Properties["FunctionName"])
			if fn, ok := aliasOf[target]; ok {
				target = fn
			}
			if serves[target] == contract.ServesHistory {
				err = s.readHistoryMapping(r.Properties)
			} else {
				err = s.readMapping(r.Properties)
			}
		case "AWS::S3::Bucket":
			if id == historyBucket {
				s.history().BucketLogicalID = id
				err = s.history().readLifecycle(r.Properties)
			}
		case "AWS::XRay::SamplingRule":
			rule, _ := r.Properties["SamplingRule"].(map[string]any)
			if rule["ServiceType"] == "AWS::ApiGateway::Stage" {
				rate, ok1 := rule["FixedRate"].(float64)
				reservoir, ok2 := rule["ReservoirSize"].(float64)
				if !ok1 || !ok2 {
					err = errors.New("a sampling rule without a literal FixedRate and ReservoirSize")
					break
				}
				s.APITraceSampling = &TraceSampling{Reservoir: reservoir, FixedRate: rate}
			}
		case "AWS::Athena::WorkGroup":
			cutoff, _ := dig(r.Properties, "WorkGroupConfiguration", "BytesScannedCutoffPerQuery").(float64)
			s.history().ScanLimitBytes = cutoff
		case "AWS::ApiGateway::Stage":
			err = s.readStage(r.Properties, logRetention)
		case "AWS::CloudWatch::Alarm":
			err = s.addAlarm(r.Properties)
		case "AWS::CloudWatch::CompositeAlarm":
			s.CompositeAlarms++
		case "AWS::CloudWatch::Dashboard":
			s.Dashboards++
		case "AWS::KMS::Key":
			s.KMSKeys++
		case "AWS::SecretsManager::Secret":
			s.Secrets++
		case "AWS::SNS::Topic":
			s.Topics++
		case "AWS::SNS::Subscription":
			if r.Properties["Protocol"] == "email" {
				s.EmailSubscriptions++
			}
		case "AWS::IoT::TopicRule":
			sql, _ := dig(r.Properties, "TopicRulePayload", "Sql").(string)
			if strings.Contains(sql, "'"+contract.LifecycleTopicFilter+"'") {
				s.LifecycleRule = true
			} else {
				s.UploadRule = true
			}
		case "AWS::Events::Rule":
			var sc schedule
			if sc, err = readSchedule(r.Properties, aliasOf); err == nil {
				schedules = append(schedules, sc)
			}
		case "AWS::Budgets::Budget":
			s.Budgets++
		}
		if err != nil {
			return nil, fmt.Errorf("%s (%s): %w", id, r.Type, err)
		}
	}
	for _, sc := range schedules {
		switch {
		case s.Synthetic != nil && sc.target == s.Synthetic.LogicalID && s.SyntheticEveryMinutes == 0:
			s.SyntheticEveryMinutes = sc.minutes
		case s.Tracker != nil && sc.target == s.Tracker.LogicalID && s.Tracker.FiguresEveryMinutes == 0:
			s.Tracker.FiguresEveryMinutes = sc.minutes
		default:
			return nil, fmt.Errorf("a schedule of function %s: the cost model knows one of the synthetic vehicle's and one of the tracker's", sc.target)
		}
	}
	switch {
	case len(s.Functions) == 0:
		return nil, errors.New("no Lambda function")
	case s.Events.LogicalID == "" || s.Vehicles.LogicalID == "":
		return nil, errors.New("not the two FleetApi tables (vehicles by vid; events by vid and eid)")
	case s.AccessLogFormat == "":
		return nil, errors.New("no API Gateway stage with an access log")
	case s.EventRetentionDays == 0:
		return nil, fmt.Errorf("no function is told the event retention (%s)", contract.EnvEventRetentionDays)
	case (s.Synthetic != nil) != (s.SyntheticEveryMinutes > 0):
		return nil, errors.New("a synthetic vehicle's function and its schedule come together")
	case s.Tracker != nil && (s.State.LogicalID == "" || s.Tracker.BatchSize == 0 || s.Tracker.FiguresEveryMinutes == 0):
		return nil, errors.New("the tracker comes with the state table, its stream mapping and its schedule")
	case s.Tracker == nil && s.State.LogicalID != "":
		return nil, errors.New("a state table without the tracker that keeps it")
	case s.History != nil && (s.History.LogicalID == "" || s.History.BatchSize == 0 || s.History.BucketLogicalID == ""):
		return nil, errors.New("the history comes with its writer, its stream mapping and its bucket")
	}
	return s, nil
}

// schedule is an EventBridge rule's rate and the function it runs.
type schedule struct {
	minutes int
	target  string // the function's logical ID
}

// scheduleRate reads a schedule's rate(N minute|minutes|hour|hours).
var scheduleRate = regexp.MustCompile(`^rate\((\d+) (minute|minutes|hour|hours)\)$`)

// readSchedule reads an EventBridge schedule and the function of its one
// target (its ARN, or an alias of it).
func readSchedule(p map[string]any, aliasOf map[string]string) (schedule, error) {
	expr, _ := p["ScheduleExpression"].(string)
	m := scheduleRate.FindStringSubmatch(expr)
	if m == nil {
		return schedule{}, fmt.Errorf("schedule %q: the cost model reads rate(N minutes) or rate(N hours)", expr)
	}
	n, _ := strconv.Atoi(m[1])
	if strings.HasPrefix(m[2], "hour") {
		n *= 60
	}
	targets, _ := p["Targets"].([]any)
	if n < 1 || len(targets) != 1 {
		return schedule{}, fmt.Errorf("schedule %q: one target, at least a minute apart", expr)
	}
	arn := dig(targets[0], "Arn")
	target := findRef(arn)
	if fn, ok := aliasOf[target]; ok {
		target = fn
	}
	if att, _ := dig(arn, "Fn::GetAtt").([]any); len(att) == 2 {
		target, _ = att[0].(string)
	}
	return schedule{minutes: n, target: target}, nil
}

// history returns the stack's history, made on first use.
func (s *Stack) history() *History {
	if s.History == nil {
		s.History = &History{}
	}
	return s.History
}

// readHistoryMapping reads the history writer's stream mapping.
func (s *Stack) readHistoryMapping(p map[string]any) error {
	h := s.history()
	var err error
	if h.BatchingWindowSeconds, err = intProp(p, "MaximumBatchingWindowInSeconds", 0); err != nil {
		return err
	}
	h.BatchSize, err = intProp(p, "BatchSize", 100)
	return err
}

// readMapping reads the tracker's stream mapping.
func (s *Stack) readMapping(p map[string]any) error {
	if s.Tracker == nil {
		s.Tracker = &Tracker{}
	}
	t := s.Tracker
	var err error
	if t.BatchingWindowSeconds, err = intProp(p, "MaximumBatchingWindowInSeconds", 0); err != nil {
		return err
	}
	// Lambda's defaults for a DynamoDB stream: 100 records, one batch a
	// shard at a time.
	if t.BatchSize, err = intProp(p, "BatchSize", 100); err != nil {
		return err
	}
	t.Parallelization, err = intProp(p, "ParallelizationFactor", 1)
	return err
}

// dig follows keys through nested objects, nil when one is missing.
func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, _ := v.(map[string]any)
		v = m[k]
	}
	return v
}

func (s *Stack) addFunction(id string, p map[string]any, logRetention map[string]int) error {
	f := Function{LogicalID: id, Architecture: "x86_64"}
	var err error
	if f.MemoryMiB, err = intProp(p, "MemorySize", 128); err != nil {
		return err
	}
	if f.TimeoutSeconds, err = intProp(p, "Timeout", 3); err != nil {
		return err
	}
	if f.ReservedConcurrency, err = intProp(p, "ReservedConcurrentExecutions", 0); err != nil {
		return err
	}
	if archs, ok := p["Architectures"].([]any); ok && len(archs) == 1 {
		if f.Architecture, ok = archs[0].(string); !ok {
			return errors.New("the Architectures property is not a literal")
		}
	}
	if tc, ok := p["TracingConfig"].(map[string]any); ok {
		f.Tracing = tc["Mode"] == "Active"
	}
	if lc, ok := p["LoggingConfig"].(map[string]any); ok {
		f.QuietPlatform = lc["SystemLogLevel"] == "WARN"
		if ref, ok := lc["LogGroup"].(map[string]any); ok {
			group, _ := ref["Ref"].(string)
			days, ok := logRetention[group]
			if !ok {
				return fmt.Errorf("its log group %v is not in the template", ref)
			}
			f.LogRetentionDays = days
		}
	}
	env, _ := p["Environment"].(map[string]any)
	vars, _ := env["Variables"].(map[string]any)
	switch vars[contract.EnvServes] {
	case contract.ServesSyntheticVehicle:
		s.Synthetic = &f
		return nil
	case contract.ServesTracker:
		// The mapping may have been read first.
		if s.Tracker == nil {
			s.Tracker = &Tracker{}
		}
		s.Tracker.Function = f
		return nil
	case contract.ServesHistory:
		s.history().Function = f
		return nil
	case contract.ServesSyntheticVehicleProvider:
		// Runs when the stack is deployed: a few invocations a month.
		return nil
	}
	routes, ok := vars[contract.EnvRoutes].(string)
	if !ok {
		return fmt.Errorf("no %s: the cost model cannot tell which requests it serves", contract.EnvRoutes)
	}
	rs, err := contract.ParseRoutes(routes)
	if err != nil {
		return fmt.Errorf("%s: %w", contract.EnvRoutes, err)
	}
	for _, r := range rs {
		f.Operations = append(f.Operations, r.Operation)
	}
	_, f.ReadsSecret = vars[contract.EnvCursorKeySecret]
	if days, ok := vars[contract.EnvEventRetentionDays].(string); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 1 {
			return fmt.Errorf("%s %q is not a number of days", contract.EnvEventRetentionDays, days)
		}
		if s.EventRetentionDays != 0 && s.EventRetentionDays != n {
			return fmt.Errorf("%s %d differs from another function's %d", contract.EnvEventRetentionDays, n, s.EventRetentionDays)
		}
		s.EventRetentionDays = n
	}
	s.Functions = append(s.Functions, f)
	return nil
}

func (s *Stack) addTable(id string, p map[string]any) error {
	t := Table{LogicalID: id}
	if err := t.read(p); err != nil {
		return err
	}
	keys, _ := p["KeySchema"].([]any)
	names := map[string]string{}
	for _, k := range keys {
		k, _ := k.(map[string]any)
		name, _ := k["AttributeName"].(string)
		typ, _ := k["KeyType"].(string)
		names[typ] = name
	}
	switch {
	case names["HASH"] == schema.VehicleEvents.PartitionKey && names["RANGE"] == schema.VehicleEvents.SortKey:
		s.Events = t
	case names["HASH"] == schema.Vehicles.PartitionKey && names["RANGE"] == "":
		s.Vehicles = t
	default:
		return fmt.Errorf("key schema %v is neither table's", names)
	}
	return nil
}

// read reads a table's billing: its mode, capacity, class and backups.
func (t *Table) read(p map[string]any) error {
	t.OnDemand = p["BillingMode"] == "PAY_PER_REQUEST"
	if !t.OnDemand {
		pt, _ := p["ProvisionedThroughput"].(map[string]any)
		r, err := intProp(pt, "ReadCapacityUnits", -1)
		if err != nil || r < 0 {
			return fmt.Errorf("provisioned without literal ReadCapacityUnits")
		}
		w, err := intProp(pt, "WriteCapacityUnits", -1)
		if err != nil || w < 0 {
			return fmt.Errorf("provisioned without literal WriteCapacityUnits")
		}
		t.ReadCapacity, t.WriteCapacity = float64(r), float64(w)
	}
	if odt, ok := p["OnDemandThroughput"].(map[string]any); ok {
		r, err := intProp(odt, "MaxReadRequestUnits", 0)
		if err != nil {
			return err
		}
		w, err := intProp(odt, "MaxWriteRequestUnits", 0)
		if err != nil {
			return err
		}
		t.MaxReadUnits, t.MaxWriteUnits = float64(r), float64(w)
	}
	switch class := p["TableClass"]; class {
	case nil, "STANDARD":
	case "STANDARD_INFREQUENT_ACCESS":
		t.InfrequentAccess = true
	default:
		return fmt.Errorf("TableClass %v: the cost model knows STANDARD and STANDARD_INFREQUENT_ACCESS", class)
	}
	if pitr, ok := p["PointInTimeRecoverySpecification"].(map[string]any); ok {
		t.PITR = pitr["PointInTimeRecoveryEnabled"] == true
	}
	return nil
}

func (s *Stack) readStage(p map[string]any, logRetention map[string]int) error {
	als, _ := p["AccessLogSetting"].(map[string]any)
	format, ok := als["Format"].(string)
	if !ok {
		return errors.New("no literal AccessLogSetting.Format")
	}
	s.AccessLogFormat = format
	tags, _ := p["Tags"].([]any)
	for _, t := range tags {
		if t, _ := t.(map[string]any); t["Key"] == "Stage" {
			s.Stage, _ = t["Value"].(string)
		}
	}
	if s.Stage == "" {
		s.Stage, _ = p["StageName"].(string)
	}
	// The destination is the log group's ARN, joined from its Ref.
	group := findRef(als["DestinationArn"])
	days, ok := logRetention[group]
	if !ok {
		return fmt.Errorf("access log destination %q is not a log group of the template", group)
	}
	s.AccessLogRetentionDays = days
	s.APITracing = p["TracingEnabled"] == true
	settings, _ := p["MethodSettings"].([]any)
	for _, ms := range settings {
		ms, _ := ms.(map[string]any)
		if ms["HttpMethod"] != "*" || ms["ResourcePath"] != "/*" {
			return errors.New("method settings other than for every method (*, /*): the cost model reads the stage's default only")
		}
		s.DetailedMetrics = ms["MetricsEnabled"] == true
		rate, ok := ms["ThrottlingRateLimit"].(float64)
		if !ok {
			return errors.New("no literal ThrottlingRateLimit")
		}
		burst, ok := ms["ThrottlingBurstLimit"].(float64)
		if !ok {
			return errors.New("no literal ThrottlingBurstLimit")
		}
		s.ThrottleRate, s.ThrottleBurst = rate, burst
	}
	return nil
}

func (s *Stack) addAlarm(p map[string]any) error {
	n := 1
	period, _ := p["Period"].(float64)
	if metrics, ok := p["Metrics"].([]any); ok {
		n, period = 0, 0
		for _, m := range metrics {
			m, _ := m.(map[string]any)
			stat, ok := m["MetricStat"].(map[string]any)
			if expr, _ := m["Expression"].(string); !ok && strings.HasPrefix(expr, "SELECT ") {
				// A Metrics Insights query is billed by the metrics it
				// analyzes: the upload rule's one action of each kind.
				// Counted as one alarm metric at the standard rate (not
				// in the free tier, which is for alarms that list their
				// metrics: CloudWatch pricing).
				n++
				p, _ := m["Period"].(float64)
				if period == 0 || p < period {
					period = p
				}
				continue
			}
			if !ok {
				continue // an expression: billed through the metrics it reads
			}
			n++
			p, _ := stat["Period"].(float64)
			if period == 0 || p < period {
				period = p
			}
		}
		if n == 0 {
			return errors.New("an alarm on metrics the cost model cannot count (no MetricStat)")
		}
	}
	if period == 0 {
		return errors.New("no literal Period")
	}
	if period < 60 {
		s.HighResolutionAlarmMetrics += n
	} else {
		s.AlarmMetrics += n
	}
	return nil
}

// findRef returns the first Ref to a resource in a CloudFormation value
// (pseudo parameters such as AWS::Region skipped).
func findRef(v any) string {
	switch v := v.(type) {
	case map[string]any:
		if ref, ok := v["Ref"].(string); ok && !strings.HasPrefix(ref, "AWS::") {
			return ref
		}
		for _, k := range sortedKeys(v) {
			if ref := findRef(v[k]); ref != "" {
				return ref
			}
		}
	case []any:
		for _, e := range v {
			if ref := findRef(e); ref != "" {
				return ref
			}
		}
	}
	return ""
}

// intProp reads a whole-number property, def when it is absent.
func intProp(p map[string]any, name string, def int) (int, error) {
	v, ok := p[name]
	if !ok {
		return def, nil
	}
	switch v := v.(type) {
	case float64:
		if v == float64(int(v)) {
			return int(v), nil
		}
	case string: // CloudFormation accepts numbers as strings
		if n, err := strconv.Atoi(v); err == nil {
			return n, nil
		}
	}
	return 0, fmt.Errorf("%s is not a literal whole number: %v", name, v)
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
