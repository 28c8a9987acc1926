package costmodel

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

// smallTemplate is a stack of one function (128 MB arm64, no tracing,
// logs kept 30 days) serving uploads, both tables on demand without PITR,
// events kept 30 days, an access log of one variable kept 30 days, one
// alarm.
func smallTemplate(t *testing.T) []byte {
	t.Helper()
	literal := map[string]any{"Resources": map[string]any{
		"Fn": map[string]any{"Type": "AWS::Lambda::Function", "Properties": map[string]any{
			"MemorySize": 128, "Architectures": []string{"arm64"}, "Timeout": 3,
			"LoggingConfig": map[string]any{"LogFormat": "JSON", "LogGroup": map[string]any{"Ref": "FnLogs"}},
			"Environment": map[string]any{"Variables": map[string]any{
				"FLEETAPI_ROUTES": "createEvent POST /vehicles/{vid}/events vehicle", "EVENT_RETENTION_DAYS": "30"}}}},
		"FnLogs":     map[string]any{"Type": "AWS::Logs::LogGroup", "Properties": map[string]any{"RetentionInDays": 30}},
		"AccessLogs": map[string]any{"Type": "AWS::Logs::LogGroup", "Properties": map[string]any{"RetentionInDays": 30}},
		"Events": map[string]any{"Type": "AWS::DynamoDB::Table", "Properties": map[string]any{"BillingMode": "PAY_PER_REQUEST",
			"KeySchema": []any{map[string]any{"AttributeName": "vid", "KeyType": "HASH"}, map[string]any{"AttributeName": "eid", "KeyType": "RANGE"}}}},
		"Vehicles": map[string]any{"Type": "AWS::DynamoDB::Table", "Properties": map[string]any{"BillingMode": "PAY_PER_REQUEST",
			"KeySchema": []any{map[string]any{"AttributeName": "vid", "KeyType": "HASH"}}}},
		"Stage": map[string]any{"Type": "AWS::ApiGateway::Stage", "Properties": map[string]any{"StageName": "small",
			"AccessLogSetting": map[string]any{"Format": `{"id":"$context.requestId"}`,
				"DestinationArn": map[string]any{"Fn::Join": []any{"", []any{"arn:", map[string]any{"Ref": "AWS::Partition"}, ":logs:", map[string]any{"Ref": "AccessLogs"}}}}},
			"MethodSettings": []any{map[string]any{"HttpMethod": "*", "ResourcePath": "/*", "ThrottlingRateLimit": 10, "ThrottlingBurstLimit": 20}}}},
		"Alarm": map[string]any{"Type": "AWS::CloudWatch::Alarm", "Properties": map[string]any{"Period": 300}},
	}}
	data, err := json.Marshal(literal)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// smallUsage: 10 minutes of driving a day at a sample a second, 10 a call
// (60 uploads a vehicle-day), no reads, 10 ms a request, no cold starts.
func smallUsage() Usage {
	u := DefaultUsage()
	u.DrivingMinutesPerDay, u.SamplesPerSecond, u.SamplesPerUpload, u.DaysPerMonth = 10, 1, 10, 30
	u.VehicleReadsPerDay, u.DayReadsPerDay, u.EventReadsPerDay, u.FleetListingsPerDay, u.VehicleUpdatesPerMonth = 0, 0, 0, 0, 0
	u.VehicleStateReadsPerDay, u.FleetStateListingsPerDay = 0, 0
	u.ResponseHeaderBytes, u.ColdStartsPerMillion, u.InitMs = 0, 0, 0
	for op := range u.DurationMsByOperationID {
		u.DurationMsByOperationID[op] = 10
	}
	return u
}

// The small case computed by hand, line by line, at 10 vehicles:
// 10 × 60 uploads × 30 days = 18,000 requests a month.
func TestEstimateSmallCase(t *testing.T) {
	stack, err := ParseStack(smallTemplate(t))
	if err != nil {
		t.Fatal(err)
	}
	prices := testPrices(t, map[string]float64{
		PriceRestRequests: 1e-6, PriceLambdaRequests: 2e-7, PriceLambdaArm64: 1e-5,
		PriceWriteUnits: 1e-6, PriceReadUnits: 1e-6, PriceStorage: 1,
		PriceLambdaLogsIngestion: 1, PriceLogsIngestion: 2, PriceLogsStorage: 1,
		PriceAlarmMetrics: 0.1, PriceCustomMetrics: 0.3, PriceDataTransferOut: 1,
	}, map[string]float64{PriceLambdaRequests: 1000, PriceAlarmMetrics: 1})
	m := Model{Stack: stack, Usage: smallUsage(), Prices: prices}
	e, err := m.Estimate(10)
	if err != nil {
		t.Fatal(err)
	}
	const requests, gib = 18000.0, 1 << 30
	item := EventItemBytes(10) // < 1 KB: one write unit
	fnLog := operations["createEvent"].logBytes + 378
	eventsPerDay := 10 * 60 * (item + 100)
	logsPerMonth := requests * (fnLog + 46)
	want := map[string][2]float64{ // item → {steady, month 1}
		"REST API requests": {0.018, 0.018},
		"requests":          {0.0036, 0.0036},
		// 18,000 × 10 ms × 0.125 GB = 22.5 GB-s.
		"Fn: 128 MB arm64, createEvent":     {22.5e-5, 22.5e-5},
		"vehicleEvents write request units": {0.018, 0.018},
		"vehicleEvents read request units":  {0, 0},
		// Storage: 30 days held once steady; half a month's on average in month 1.
		"vehicleEvents storage (Standard, 30-day TTL)": {30 * eventsPerDay / gib, 15 * eventsPerDay / gib},
		"vehicles write request units":                 {0, 0},
		// A trip's uploads check their vehicle once with one execution
		// environment: 10 × 2 trips × 30 days, half a unit each,
		// eventually consistent.
		"vehicles read request units":                {0.0003, 0.0003},
		"vehicles storage (Standard)":                {10 * 256.0 / gib, 10 * 256.0 / gib},
		"Lambda logs ingested":                       {requests * fnLog / gib, requests * fnLog / gib},
		"API access logs ingested":                   {2 * requests * 46 / gib, 2 * requests * 46 / gib},
		"logs stored, compressed (30-day retention)": {logsPerMonth * LogCompressedFraction / gib, logsPerMonth * LogCompressedFraction / 2 / gib},
		"alarms (1 metrics)":                         {0.1, 0.1},
		"dashboards":                                 {0, 0},
		"custom metrics (samples ingested)":          {0.3, 0.3},
		"KMS keys (alarm topic)":                     {0, 0},
		"Secrets Manager secrets (cursor key)":       {0, 0},
		"Secrets Manager calls (a read per environment, at its first cursor)": {0, 0},
		"Budgets (without actions)":     {0, 0},
		"data transfer out (responses)": {requests * UploadResponseBytes / gib, requests * UploadResponseBytes / gib},
	}
	if e.Requests != requests {
		t.Errorf("requests %g, want %g", e.Requests, requests)
	}
	sum := 0.0
	for _, l := range e.Lines {
		w, ok := want[l.Item]
		if !ok {
			t.Errorf("unexpected line %q", l.Item)
			continue
		}
		delete(want, l.Item)
		if !approx(l.Steady, w[0]) || !approx(l.Month1, w[1]) {
			t.Errorf("%s: steady %.9f month 1 %.9f, want %.9f and %.9f", l.Item, l.Steady, l.Month1, w[0], w[1])
		}
		sum += l.Steady
	}
	for item := range want {
		t.Errorf("no line %q", item)
	}
	if !approx(e.Steady, sum) {
		t.Errorf("total %g, lines sum to %g", e.Steady, sum)
	}
	// The free tier: one alarm metric; the first 1,000 Lambda requests are
	// worth less than a cent and not listed.
	if len(e.FreeTier) != 1 || !approx(e.FreeSteady, -0.1) {
		t.Errorf("free tier %+v", e.FreeTier)
	}
}

func approx(a, b float64) bool { return math.Abs(a-b) <= 1e-9+1e-9*math.Abs(b) }

// A request the template has no function for cannot be priced.
func TestEstimateNeedsAFunctionForEachRequest(t *testing.T) {
	stack, err := ParseStack(smallTemplate(t))
	if err != nil {
		t.Fatal(err)
	}
	u := smallUsage()
	u.VehicleReadsPerDay = 1
	_, err = Model{Stack: stack, Usage: u, Prices: testPrices(t, nil, nil)}.Estimate(10)
	if err == nil || !strings.Contains(err.Error(), "the usage calls getVehicle, which no function of the template serves") {
		t.Errorf("got %v, want an error naming getVehicle", err)
	}
}

// An operation the cost model has no figures for is an error naming it,
// not a request priced at $0.
func TestEstimateNeedsFiguresForEachOperation(t *testing.T) {
	template := strings.Replace(string(smallTemplate(t)), "createEvent POST /vehicles/{vid}/events vehicle",
		"createEvent POST /vehicles/{vid}/events vehicle;getLatest GET /vehicles/{vid}/latest vehicle", 1)
	stack, err := ParseStack([]byte(template))
	if err != nil {
		t.Fatal(err)
	}
	m := Model{Stack: stack, Usage: smallUsage(), Prices: testPrices(t, nil, nil)}
	const want = "the cost model has no figures for operation getLatest, which the stack serves: known are createEvent, createVehicle"
	if _, err := m.Estimate(10); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Estimate: got %v, want %q", err, want)
	}
	if _, err := m.Capacity(10); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Capacity: got %v, want %q", err, want)
	}
}

// Month 1 against the steady state, by hand: data kept r days that grows
// by d a day holds on average d·15 in month 1 and d·r once r days are held.
func TestStoredGBMonths(t *testing.T) {
	for _, tt := range []struct {
		retention, month int
		want             float64
	}{
		{365, 1, 15}, {365, 2, 45}, {365, 13, 364.5833333333333}, {365, 14, 365}, {7, 1, 7*7/2.0/30 + 7*23/30.0}, {7, 2, 7}, {0, 12, 345},
	} {
		if got := storedGBMonths(1, tt.retention, 30, tt.month); !approx(got, tt.want) {
			t.Errorf("retention %d, month %d: %g, want %g", tt.retention, tt.month, got, tt.want)
		}
	}
	if got := steadyMonth(365, 30); got != 14 {
		t.Errorf("steadyMonth(365) = %d, want 14", got)
	}
}

// X-Ray's default rule: the first request each second, 5 % of the rest.
func TestSampledTraces(t *testing.T) {
	const month = 30 * 86400.0
	if got := sampledTraces(1000, 30); got != 1000 {
		t.Errorf("fewer requests than seconds: %g, want all 1000", got)
	}
	if got := sampledTraces(3*month, 30); !approx(got, month+0.05*2*month) {
		t.Errorf("3 a second: %g, want %g", got, month+0.1*month)
	}
}

// A provisioned table is billed by the hour for its capacity, whatever it
// serves: 5 write units for a 30-day month are 3,600 unit-hours.
func TestProvisionedTable(t *testing.T) {
	data := strings.Replace(string(smallTemplate(t)), `"BillingMode":"PAY_PER_REQUEST","KeySchema":[{"AttributeName":"vid","KeyType":"HASH"},{"AttributeName":"eid"`,
		`"BillingMode":"PROVISIONED","ProvisionedThroughput":{"ReadCapacityUnits":2,"WriteCapacityUnits":5},"KeySchema":[{"AttributeName":"vid","KeyType":"HASH"},{"AttributeName":"eid"`, 1)
	stack, err := ParseStack([]byte(data))
	if err != nil {
		t.Fatal(err)
	}
	if stack.Events.OnDemand || stack.Events.WriteCapacity != 5 || stack.Events.ReadCapacity != 2 {
		t.Fatalf("events table %+v, want provisioned 5/2", stack.Events)
	}
	prices := testPrices(t, map[string]float64{PriceWriteCapacity: 0.001, PriceReadCapacity: 0.0005, PriceWriteUnits: 1}, nil)
	e, err := Model{Stack: stack, Usage: smallUsage(), Prices: prices}.Estimate(10)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, l := range e.Lines {
		got[l.Item] = l.Steady
	}
	if !approx(got["vehicleEvents provisioned write capacity (5 units)"], 3.6) || !approx(got["vehicleEvents provisioned read capacity (2 units)"], 0.72) {
		t.Errorf("lines %v", got)
	}
	if _, billed := got["vehicleEvents write request units"]; billed {
		t.Error("a provisioned table billed per request")
	}
}
