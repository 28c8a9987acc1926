package costmodel

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
)

// Services of the estimate, in the order it prints them.
const (
	ServiceAPIGateway = "API Gateway"
	ServiceIoTCore    = "IoT Core"
	ServiceLambda     = "Lambda"
	ServiceDynamoDB   = "DynamoDB"
	ServiceCloudWatch = "CloudWatch"
	ServiceHistory    = "S3 and Athena"
	ServiceOther      = "Other"
)

// Services lists the services in print order.
var Services = []string{ServiceAPIGateway, ServiceIoTCore, ServiceLambda, ServiceDynamoDB, ServiceCloudWatch, ServiceHistory, ServiceOther}

// Documented figures the estimate uses.
const (
	// gib is the gigabyte AWS bills DynamoDB storage and CloudWatch Logs by.
	gib = 1 << 30
	// X-Ray's default sampling rule records the first request each second
	// and 5 % of the others (X-Ray developer guide, "Sampling rules").
	xrayReservoirPerSecond = 1
	xrayFixedRate          = 0.05
	// API Gateway's per-method metrics with detailed metrics on: Count,
	// 4XXError, 5XXError, Latency and IntegrationLatency (the cache metrics
	// only with a cache), billed as custom metrics.
	detailedMetricsPerMethod = 5
	// A read request unit reads 4 KB strongly consistent; eventually
	// consistent reads (GetItem's, Query's and Scan's default) cost half.
	eventuallyConsistent = 0.5
)

// Model prices a stack's use at a fleet size.
type Model struct {
	Stack  *Stack
	Usage  Usage
	Prices *Prices
}

// Line is one meter of the monthly bill.
type Line struct {
	Service string `json:"service"`
	Item    string `json:"item"`
	// Quantity is the steady-state monthly quantity, in Unit.
	Quantity float64 `json:"quantity"`
	Unit     string  `json:"unit"`
	// Month1 and Steady are the dollars of the first month and of a month
	// once stored data stopped growing (events and logs at their retention).
	Month1 float64 `json:"month1Usd"`
	Steady float64 `json:"steadyUsd"`
	// price is the Prices key, for the free tier.
	price string
	// freeQuantity is the quantity the free tier applies to (Quantity
	// unless a line holds more than one meter's).
	freeQuantity float64
}

// Estimate is a stack's monthly bill at a fleet size.
type Estimate struct {
	Stage    string  `json:"stage"`
	Region   string  `json:"region"`
	Vehicles int     `json:"vehicles"`
	Lines    []Line  `json:"lines"`
	FreeTier []Line  `json:"freeTier"`
	Month1   float64 `json:"month1Usd"`
	Steady   float64 `json:"steadyUsd"`
	// FreeMonth1 and FreeSteady are what the free tier takes off, if the
	// account has no other use of it (negative).
	FreeMonth1 float64 `json:"freeTierMonth1Usd"`
	FreeSteady float64 `json:"freeTierSteadyUsd"`
	// Requests is the API requests a month.
	Requests float64 `json:"requestsPerMonth"`
	// State is the tracker's work a month (zero without a tracker).
	State StateFigures `json:"state"`
	// History is the history's work, zero without one.
	History HistoryFigures `json:"history"`
}

// Service sums the steady-state lines of a service.
func (e Estimate) Service(name string) float64 {
	sum := 0.0
	for _, l := range e.Lines {
		if l.Service == name {
			sum += l.Steady
		}
	}
	return sum
}

// PerVehicle is the steady-state cost of a vehicle-month, before the free tier.
func (e Estimate) PerVehicle() float64 { return e.Steady / float64(e.Vehicles) }

// bill is an estimate being written: a line per meter.
type bill struct {
	Model
	e        *Estimate
	vehicles float64
	// requests are each operation's requests a month, total their sum;
	// mqtt the uploads among them that come over MQTT, not the REST API.
	requests map[string]float64
	total    float64
	mqtt     float64
	// syntheticRuns are the synthetic vehicle's runs a month, and
	// syntheticMqtt its uploads over MQTT (one a run) among the requests.
	syntheticRuns, syntheticMqtt float64
	// coldStarts are each function's cold starts a month, by logical ID.
	coldStarts map[string]float64
	// logBytes are what the functions log a month, their own lines and
	// Lambda's platform lines.
	logBytes float64
	// units are the tables' request units a month: the operations' and
	// the tracker's.
	units tableUnits
}

// add writes a line of a quantity that is the same every month.
func (b *bill) add(service, item, price string, quantity float64) {
	p := b.Prices.Prices[price]
	cost := p.Cost(quantity)
	b.e.Lines = append(b.e.Lines, Line{Service: service, Item: item, Quantity: quantity, Unit: p.Unit,
		Month1: cost, Steady: cost, price: price, freeQuantity: quantity})
}

// addStored writes a line of a stored quantity that grows with the
// months: month 1 holds half a month of data on average; the steady state
// the retention's worth.
func (b *bill) addStored(service, item, price string, perDay float64, retentionDays int) {
	p, days := b.Prices.Prices[price], b.Usage.DaysPerMonth
	month1 := storedGBMonths(perDay, retentionDays, days, 1)
	steady := storedGBMonths(perDay, retentionDays, days, steadyMonth(retentionDays, days))
	b.e.Lines = append(b.e.Lines, Line{Service: service, Item: item, Quantity: steady, Unit: p.Unit,
		Month1: p.Cost(month1), Steady: p.Cost(steady), price: price, freeQuantity: steady})
}

// Estimate prices the stack at a fleet size.
func (m Model) Estimate(vehicles int) (Estimate, error) {
	if vehicles < 1 {
		return Estimate{}, fmt.Errorf("vehicles %d: must be 1 or more", vehicles)
	}
	requests, err := m.RequestsByOperation(vehicles)
	if err != nil {
		return Estimate{}, err
	}
	e := Estimate{Stage: m.Stack.Stage, Region: m.Prices.Region, Vehicles: vehicles}
	b := &bill{Model: m, e: &e, vehicles: float64(vehicles), requests: requests, coldStarts: map[string]float64{}}
	for id, n := range requests {
		b.total += n
		if m.Usage.UploadsOverMqtt && operations[id].upload {
			b.mqtt += n
		}
	}
	if m.Usage.UploadsOverMqtt && !m.Stack.UploadRule {
		return Estimate{}, fmt.Errorf("usage uploadsOverMqtt: stage %s has no upload rule (its stage setting mqttUploads is false)", m.Stack.Stage)
	}
	b.syntheticRequests()
	e.Requests = b.total - b.mqtt - b.syntheticMqtt
	b.units = b.tableUnits(b.requests)
	b.apiGateway()
	b.iotCore()
	b.lambda()
	b.tracker()
	b.history()
	b.dynamoDB()
	if err := b.cloudWatch(); err != nil {
		return Estimate{}, err
	}
	b.other()
	b.syntheticVehicle()
	for _, l := range e.Lines {
		e.Month1 += l.Month1
		e.Steady += l.Steady
	}
	e.FreeTier = m.freeTier(e.Lines)
	for _, l := range e.FreeTier {
		e.FreeMonth1 += l.Month1
		e.FreeSteady += l.Steady
	}
	return e, nil
}

func (b *bill) apiGateway() {
	b.add(ServiceAPIGateway, "REST API requests", PriceRestRequests, b.total-b.mqtt-b.syntheticMqtt)
}

// syntheticRequests adds the synthetic vehicle's calls to the operations'
// requests, so that every line that follows them prices them too: a run
// uploads twice (HTTPS, and MQTT through the rule, both invoking the
// ingest function) and reads its events back.
func (b *bill) syntheticRequests() {
	s, u := b.Stack, b.Usage
	if s.Synthetic == nil {
		return
	}
	b.syntheticRuns = u.DaysPerMonth * 24 * 60 / float64(s.SyntheticEveryMinutes)
	for id, n := range map[string]float64{"createEvent": 2, "getEvent": u.SyntheticReadsPerRun} {
		b.requests[id] += n * b.syntheticRuns
		b.total += n * b.syntheticRuns
	}
	b.syntheticMqtt = b.syntheticRuns
	// Its own log lines, which the Lambda logs line prices.
	b.logBytes += b.syntheticRuns * (syntheticSteps*SyntheticLogLineBytes + float64(PlatformLogBytes(s.Synthetic.MemoryMiB, s.Synthetic.Tracing)))
}

// syntheticVehicle writes what the synthetic vehicle costs besides its
// calls of the API and its log lines (syntheticRequests): its own
// function, its MQTT connection, the upload rule and action of its MQTT
// upload, its metrics. Its secret is among the template's secrets, its
// alarm among the alarms.
func (b *bill) syntheticVehicle() {
	f, runs := b.Stack.Synthetic, b.syntheticRuns
	if f == nil {
		return
	}
	price := PriceLambdaArm64
	if f.Architecture == "x86_64" {
		price = PriceLambdaX8664
	}
	b.add(ServiceLambda, "synthetic vehicle: runs (requests)", PriceLambdaRequests, runs)
	b.add(ServiceLambda, fmt.Sprintf("synthetic vehicle: %d MB %s, %g ms a run", f.MemoryMiB, f.Architecture, b.Usage.SyntheticRunMs), price,
		runs*math.Ceil(b.Usage.SyntheticRunMs)/1000*float64(f.MemoryMiB)/1024)
	// A connection a run, billed by the minute started; one message.
	b.add(ServiceIoTCore, "synthetic vehicle: connection minutes", PriceIoTConnectivity, runs)
	b.add(ServiceIoTCore, "synthetic vehicle: upload rule triggered", PriceIoTRules, runs)
	b.add(ServiceIoTCore, "synthetic vehicle: Lambda actions", PriceIoTActions, runs)
	b.add(ServiceCloudWatch, fmt.Sprintf("synthetic vehicle: custom metrics (success and latency of %d steps)", syntheticSteps), PriceCustomMetrics, 2*syntheticSteps)
}

// iotCore writes the MQTT path of the uploads: the vehicles' connection
// minutes (connected while driving), and the upload rule triggered and its
// Lambda action executed once per upload and 5 KB of it (IoT Core meters
// both in 5 KB increments: the rule of the message, the action of the
// event the rule's SQL makes, whose payload is the message base64).
// Basic Ingest has no messaging charge; Lambda bills the asynchronous
// invocations as the synchronous ones.
func (b *bill) iotCore() {
	if b.mqtt == 0 {
		return
	}
	u := b.Usage
	b.add(ServiceIoTCore, "connection minutes (connected while driving)", PriceIoTConnectivity, b.vehicles*u.DrivingMinutesPerDay*u.DaysPerMonth)
	msg, event := MqttUploadBytes(u.SamplesPerUpload)
	b.add(ServiceIoTCore, fmt.Sprintf("upload rule triggered (%s B messages: %d × 5 KB each)", group(int64(msg)), increments(msg)), PriceIoTRules, b.mqtt*float64(increments(msg)))
	b.add(ServiceIoTCore, fmt.Sprintf("Lambda actions (%s B events: %d × 5 KB each)", group(int64(event)), increments(event)), PriceIoTActions, b.mqtt*float64(increments(event)))
}

// iotIncrementBytes is IoT Core's metering increment of rules and actions.
const iotIncrementBytes = 5 * 1024

func increments(bytes int) int { return max(1, (bytes+iotIncrementBytes-1)/iotIncrementBytes) }

// mqttShare is the share of the uploads that came over MQTT.
func (b *bill) mqttShare() float64 {
	if b.Usage.UploadsOverMqtt {
		return 1
	}
	return 0
}

// lambda writes the requests, and GB-seconds per function from its memory
// and architecture, durations billed by the started millisecond.
func (b *bill) lambda() {
	u := b.Usage
	b.add(ServiceLambda, "requests", PriceLambdaRequests, b.total)
	for _, f := range b.Stack.Functions {
		n, ms := 0.0, 0.0
		for _, op := range f.Operations {
			n += b.requests[op]
			ms += b.requests[op] * math.Ceil(u.DurationMsByOperationID[op])
			logBytes := operations[op].logBytes
			if operations[op].upload {
				logBytes = b.mqttShare()*MqttUploadLogBytes + (1-b.mqttShare())*logBytes
			}
			b.logBytes += b.requests[op] * logBytes
		}
		b.coldStarts[f.LogicalID] = n * u.ColdStartsPerMillion / 1e6
		ms += b.coldStarts[f.LogicalID] * math.Ceil(u.InitMs)
		if !f.QuietPlatform {
			b.logBytes += n * float64(PlatformLogBytes(f.MemoryMiB, f.Tracing))
		}
		price := PriceLambdaArm64
		if f.Architecture == "x86_64" {
			price = PriceLambdaX8664
		}
		b.add(ServiceLambda, fmt.Sprintf("%s: %d MB %s, %s", f.LogicalID, f.MemoryMiB, f.Architecture, strings.Join(f.Operations, ", ")), price, ms/1000*float64(f.MemoryMiB)/1024)
	}
}

// dynamoDB writes each table's request units (or provisioned capacity),
// its storage and its backups.
func (b *bill) dynamoDB() {
	s, u := b.Stack, b.Usage
	units := b.units
	hours := u.DaysPerMonth * 24
	for _, t := range []struct {
		name           string
		table          Table
		units          Units
		bytesPerDay    float64
		retentionDays  int
		fixedBytes     float64
		growsWithUsage bool
	}{
		{"vehicleEvents", s.Events, units.Events, b.vehicles * u.UploadsPerDay() * (EventItemBytes(u.SamplesPerUpload) + StorageOverheadBytes), s.EventRetentionDays, 0, true},
		{"vehicles", s.Vehicles, units.Vehicles, 0, 0, b.vehicles * (VehicleItemBytes + StorageOverheadBytes), false},
		{"vehicleState", s.State, units.State, 0, 0, b.vehicles * (StateItemBytes + StorageOverheadBytes), false},
	} {
		if t.table.LogicalID == "" {
			continue // no state table
		}
		wp, rp, sp, class := PriceWriteUnits, PriceReadUnits, PriceStorage, "Standard"
		wcp, rcp := PriceWriteCapacity, PriceReadCapacity
		if t.table.InfrequentAccess {
			wp, rp, sp, class = PriceIAWriteUnits, PriceIAReadUnits, PriceIAStorage, "Standard-IA"
			wcp, rcp = PriceIAWriteCapacity, PriceIAReadCapacity
		}
		if t.table.OnDemand {
			b.add(ServiceDynamoDB, t.name+" write request units", wp, t.units.Writes)
			b.add(ServiceDynamoDB, t.name+" read request units", rp, t.units.Reads)
		} else {
			b.add(ServiceDynamoDB, fmt.Sprintf("%s provisioned write capacity (%g units)", t.name, t.table.WriteCapacity), wcp, t.table.WriteCapacity*hours)
			b.add(ServiceDynamoDB, fmt.Sprintf("%s provisioned read capacity (%g units)", t.name, t.table.ReadCapacity), rcp, t.table.ReadCapacity*hours)
		}
		if t.growsWithUsage {
			b.addStored(ServiceDynamoDB, fmt.Sprintf("%s storage (%s, %d-day TTL)", t.name, class, t.retentionDays), sp, t.bytesPerDay/gib, t.retentionDays)
			if t.table.PITR {
				b.addStored(ServiceDynamoDB, t.name+" point-in-time recovery", PricePITR, t.bytesPerDay/gib, t.retentionDays)
			}
		} else {
			b.add(ServiceDynamoDB, fmt.Sprintf("%s storage (%s)", t.name, class), sp, t.fixedBytes/gib)
			if t.table.PITR {
				b.add(ServiceDynamoDB, t.name+" point-in-time recovery", PricePITR, t.fixedBytes/gib)
			}
		}
	}
}

// cloudWatch writes the logs the functions and the access log write, their
// storage at the log groups' retention, alarms, dashboards, metrics.
func (b *bill) cloudWatch() error {
	s, u := b.Stack, b.Usage
	accessLine, err := AccessLogBytes(s.AccessLogFormat)
	if err != nil {
		return err
	}
	fnLogs := b.logBytes / gib
	accessLogs := (b.total - b.mqtt) * float64(accessLine) / gib
	b.add(ServiceCloudWatch, "Lambda logs ingested", PriceLambdaLogsIngestion, fnLogs)
	b.add(ServiceCloudWatch, "API access logs ingested", PriceLogsIngestion, accessLogs)
	fnRetention := 0
	for _, f := range s.Functions {
		fnRetention = max(fnRetention, f.LogRetentionDays)
	}
	perDay := (fnLogs + accessLogs) * LogCompressedFraction / u.DaysPerMonth
	retention := fmt.Sprintf("%d-day", fnRetention)
	if fnRetention != s.AccessLogRetentionDays {
		retention = fmt.Sprintf("functions %d-day, access %d-day", fnRetention, s.AccessLogRetentionDays)
	}
	b.addStored(ServiceCloudWatch, "logs stored, compressed ("+retention+" retention)", PriceLogsStorage,
		perDay, max(fnRetention, s.AccessLogRetentionDays))
	b.add(ServiceCloudWatch, fmt.Sprintf("alarms (%d metrics)", s.AlarmMetrics), PriceAlarmMetrics, float64(s.AlarmMetrics))
	if s.HighResolutionAlarmMetrics > 0 {
		b.add(ServiceCloudWatch, "high-resolution alarms", PriceHighResAlarmMetrics, float64(s.HighResolutionAlarmMetrics))
	}
	if s.CompositeAlarms > 0 {
		b.add(ServiceCloudWatch, fmt.Sprintf("composite alarms (%d)", s.CompositeAlarms), PriceCompositeAlarms, float64(s.CompositeAlarms))
	}
	b.add(ServiceCloudWatch, "dashboards", PriceDashboards, float64(s.Dashboards))
	// The ingest functions' embedded metric, one per function name.
	metrics := 0.0
	for _, f := range s.Functions {
		if slices.ContainsFunc(f.Operations, func(op string) bool { return operations[op].upload }) {
			metrics++
		}
	}
	metricsItem := "custom metrics (samples ingested)"
	if s.DetailedMetrics {
		metrics += float64(detailedMetricsPerMethod * len(b.requests))
		metricsItem = fmt.Sprintf("custom metrics (samples ingested; API detailed metrics, %d per method)", detailedMetricsPerMethod)
	}
	b.add(ServiceCloudWatch, metricsItem, PriceCustomMetrics, metrics)
	return nil
}

// other writes everything else the template holds.
func (b *bill) other() {
	s, u := b.Stack, b.Usage
	// The REST API's requests are traced at the gateway (its stage
	// traces) or at their function; an MQTT upload only when the upload's
	// function traces actively (the rule's invocation carries no trace
	// header for a function that passes traces through).
	// With a sampling rule of the stage the gateway's share follows it
	// (a function behind it keeps the gateway's decision).
	traced, mqttTraced := 0.0, 0.0
	for _, f := range s.Functions {
		for _, op := range f.Operations {
			mqtt := 0.0
			if operations[op].upload {
				mqtt = b.requests[op] * b.mqttShare()
			}
			if s.APITracing || f.Tracing {
				traced += b.requests[op] - mqtt
			}
			if f.Tracing {
				mqttTraced += mqtt
			}
		}
	}
	traces := sampledTraces(mqttTraced, u.DaysPerMonth)
	item := "X-Ray traces recorded (default sampling)"
	if rule := s.APITraceSampling; rule != nil && s.APITracing {
		reservoir := math.Min(traced, rule.Reservoir*u.DaysPerMonth*86400)
		traces += reservoir + rule.FixedRate*(traced-reservoir)
		item = fmt.Sprintf("X-Ray traces recorded (the stage's rule: %g a second, then %g %%)", rule.Reservoir, rule.FixedRate*100)
	} else {
		traces += sampledTraces(traced, u.DaysPerMonth)
	}
	if traces > 0 {
		b.add(ServiceOther, item, PriceXRayTraces, traces)
	}
	b.add(ServiceOther, "KMS keys (alarm topic)", PriceKMSKeys, float64(s.KMSKeys))
	secrets := "Secrets Manager secrets (cursor key)"
	if s.Synthetic != nil {
		secrets = "Secrets Manager secrets (cursor key; the synthetic vehicle's certificate and key)"
	}
	b.add(ServiceOther, secrets, PriceSecrets, float64(s.Secrets))
	// At most a read per execution environment (per cold start): the key is
	// read when a listing first needs a cursor.
	secretReads := 0.0
	for _, f := range s.Functions {
		if f.ReadsSecret {
			secretReads += b.coldStarts[f.LogicalID]
		}
	}
	// The synthetic vehicle reads its secret at each cold start of its
	// function.
	secretReads += b.syntheticRuns * u.ColdStartsPerMillion / 1e6
	b.add(ServiceOther, "Secrets Manager calls (a read per environment, at its first cursor)", PriceSecretsAPICalls, secretReads)
	if s.EmailSubscriptions > 0 {
		// An alarm's change of state a day, to each address.
		b.add(ServiceOther, "SNS e-mail notifications", PriceSNSEmail, float64(s.EmailSubscriptions)*u.DaysPerMonth)
	}
	b.add(ServiceOther, "Budgets (without actions)", PriceBudgets, float64(s.Budgets)*u.DaysPerMonth)
	out := 0.0
	for _, id := range slices.Sorted(maps.Keys(b.requests)) {
		if u.UploadsOverMqtt && operations[id].upload {
			continue // a PUBACK of a few bytes
		}
		out += b.requests[id] * (operations[id].responseBytes + u.ResponseHeaderBytes)
	}
	b.add(ServiceOther, "data transfer out (responses)", PriceDataTransferOut, out/gib)
}

// freeTier returns what the account's free tier takes off, a line for
// each price with one. Lambda's GB-seconds are one allowance for both
// architectures.
func (m Model) freeTier(lines []Line) []Line {
	quantity := map[string]float64{}
	var order []string
	for _, l := range lines {
		if _, seen := quantity[l.price]; !seen {
			order = append(order, l.price)
		}
		quantity[l.price] += l.freeQuantity
	}
	var free []Line
	lambdaFree := m.Prices.Prices[PriceLambdaArm64].Free
	for _, name := range order {
		p := m.Prices.Prices[name]
		if p.Free == 0 || quantity[name] == 0 {
			continue
		}
		q := math.Min(quantity[name], p.Free)
		if name == PriceLambdaArm64 || name == PriceLambdaX8664 {
			q = math.Min(quantity[name], lambdaFree)
			lambdaFree -= q
		}
		if q == 0 {
			continue
		}
		v := -p.Cost(q)
		if v > -0.005 { // less than a cent
			continue
		}
		free = append(free, Line{Service: serviceOf(lines, name), Item: "free tier", Quantity: q, Unit: p.Unit, Month1: v, Steady: v, price: name})
	}
	return free
}

func serviceOf(lines []Line, price string) string {
	for _, l := range lines {
		if l.price == price {
			return l.Service
		}
	}
	return ServiceOther
}

// sampledTraces is the requests X-Ray's default rule records in a month
// of the given days, the requests spread evenly.
func sampledTraces(requests, days float64) float64 {
	reservoir := math.Min(requests, xrayReservoirPerSecond*days*86400)
	return reservoir + xrayFixedRate*(requests-reservoir)
}

// storedGBMonths is the mean stored quantity during a month (1-based) of
// data that grows by perDay and expires after retentionDays (0: never).
func storedGBMonths(perDay float64, retentionDays int, daysPerMonth float64, month int) float64 {
	from, to := float64(month-1)*daysPerMonth, float64(month)*daysPerMonth
	held := func(t float64) float64 { // the integral of min(t, r) dt from 0 to t
		r := float64(retentionDays)
		if retentionDays == 0 || t <= r {
			return t * t / 2
		}
		return r*r/2 + r*(t-r)
	}
	return perDay * (held(to) - held(from)) / daysPerMonth
}

// steadyMonth is the first month whose storage no longer grows; data
// that never expires is shown after a year.
func steadyMonth(retentionDays int, daysPerMonth float64) int {
	if retentionDays == 0 {
		return 12
	}
	return int(math.Ceil(float64(retentionDays)/daysPerMonth)) + 1
}

// readUnits is the strongly consistent read units of reading bytes in one
// request: a unit per started 4 KB, at least one.
func readUnits(bytes float64) float64 { return math.Max(1, math.Ceil(bytes/ReadUnitBytes)) }
