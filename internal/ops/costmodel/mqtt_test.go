package costmodel

import (
	"math"
	"strings"
	"testing"
)

// Prod at 10,000 vehicles with the uploads over MQTT: the REST API serves
// the reads alone, IoT Core bills the connection minutes while driving and
// the rule and its Lambda action per 5 KB of each upload; the goal is a
// steady-state month of at most $175, with PITR on the hot window and 365
// days of history queryable.
func TestUploadsOverMqtt(t *testing.T) {
	m := prodModel(t)
	rest, err := m.Estimate(10000)
	if err != nil {
		t.Fatal(err)
	}
	m.Usage.UploadsOverMqtt = true
	mqtt, err := m.Estimate(10000)
	if err != nil {
		t.Fatal(err)
	}
	requests, err := m.RequestsByOperation(10000)
	if err != nil {
		t.Fatal(err)
	}
	uploads := requests["createEvent"]
	if math.Abs(rest.Requests-mqtt.Requests-uploads) > 1 {
		t.Errorf("REST requests %v over HTTPS, %v over MQTT: want %v uploads fewer", rest.Requests, mqtt.Requests, uploads)
	}
	msg, ev := MqttUploadBytes(m.Usage.SamplesPerUpload)
	quantities := map[string]float64{}
	for _, l := range mqtt.Lines {
		quantities[l.price] += l.Quantity
	}
	// The synthetic vehicle's run a minute: a connection minute, a message
	// of one increment, whichever way the fleet uploads. The lifecycle
	// rule: a connect and a disconnect a trip and a run, each a message,
	// a rule triggered and an action.
	runs := m.Usage.DaysPerMonth * 24 * 60
	lifecycle := (10000*m.Usage.TripsPerDay*m.Usage.DaysPerMonth + runs) * 2
	want := map[string]float64{
		PriceIoTConnectivity: 10000*m.Usage.DrivingMinutesPerDay*m.Usage.DaysPerMonth + runs,
		PriceIoTRules:        uploads*math.Ceil(float64(msg)/5120) + runs + lifecycle,
		PriceIoTActions:      uploads*math.Ceil(float64(ev)/5120) + runs + lifecycle,
		PriceIoTMessages:     lifecycle,
		PriceRestRequests:    rest.Requests - uploads,
	}
	for price, q := range want {
		if math.Abs(quantities[price]-q) > 1 {
			t.Errorf("%s: %v, want %v", price, quantities[price], q)
		}
	}
	if !m.Stack.Events.PITR || m.Stack.EventRetentionDays != 30 || m.Stack.History == nil || m.Stack.History.RetentionDays != 365 {
		t.Fatalf("prod's template has PITR %v, retention %d", m.Stack.Events.PITR, m.Stack.EventRetentionDays)
	}
	if mqtt.Steady > 175 {
		t.Errorf("prod at 10,000 vehicles over MQTT: $%.2f a month, above the goal of $175", mqtt.Steady)
	}
	// Compressed, a 10-sample upload is one increment of the rule and of
	// its action.
	if increments(msg) != 1 || increments(ev) != 1 {
		t.Errorf("a %d B message and a %d B event: want one 5 KB increment each", msg, ev)
	}
	t.Logf("prod at 10,000 vehicles: $%.2f over HTTPS, $%.2f over MQTT (REST $%.2f → $%.2f, IoT Core $%.2f); a %d-sample upload is a %d B message (%d × 5 KB) and a %d B rule event (%d × 5 KB)",
		rest.Steady, mqtt.Steady, rest.Service(ServiceAPIGateway), mqtt.Service(ServiceAPIGateway), mqtt.Service(ServiceIoTCore),
		m.Usage.SamplesPerUpload, msg, int(math.Ceil(float64(msg)/5120)), ev, int(math.Ceil(float64(ev)/5120)))

	m.Stack.UploadRule = false
	if _, err := m.Estimate(10000); err == nil || !strings.Contains(err.Error(), "no upload rule") {
		t.Errorf("uploads over MQTT without the rule: %v", err)
	}
}

// The tracker writes a vehicle's state once per batch of the stream that
// holds an upload of it: at the talk's workload (two 20-minute trips a
// day, an upload every 10 s) and prod's 70-second window, 19 batches a
// trip, 38 writes a vehicle-day for 240 uploads; a write per upload would
// be 72 million write units a month at 10,000 vehicles, about $45, the
// window's $7.13. Without a window a batch holds one upload of a vehicle;
// a window the peak fills first is shorter.
func TestStateCoalesces(t *testing.T) {
	m := prodModel(t)
	f := m.State(10000)
	if f.WritesPerVehicleDay != 38 || f.WindowSeconds != 70 || f.Shards < 4 || f.Readers != f.Shards || f.Concurrency < 1 || f.Concurrency >= f.Readers {
		t.Errorf("at 10,000 vehicles: %+v, want 38 writes a vehicle-day in 70 s windows", f)
	}
	perUpload := 10000 * m.Usage.UploadsPerDay() * m.Usage.DaysPerMonth * 0.625 / 1e6
	coalesced := f.StateWrites * 0.625 / 1e6
	if math.Abs(perUpload-45.05) > 0.1 || coalesced > perUpload/5 {
		t.Errorf("a write per upload $%.2f, coalesced $%.2f: want about $45 and a fifth of it at most", perUpload, coalesced)
	}
	m.Stack.Tracker.BatchingWindowSeconds = 0
	if f := m.State(10000); f.WritesPerVehicleDay != m.Usage.UploadsPerDay() {
		t.Errorf("without a window: %v writes a vehicle-day, want one per upload (%v)", f.WritesPerVehicleDay, m.Usage.UploadsPerDay())
	}
	m.Stack.Tracker.BatchingWindowSeconds, m.Stack.Tracker.BatchSize = 70, 100
	if f := m.State(10000); f.WindowSeconds >= 70 || f.WritesPerVehicleDay <= 38 {
		t.Errorf("batches of 100 records: a window of %v s, %v writes; want the peak to fill them before 70 s", f.WindowSeconds, f.WritesPerVehicleDay)
	}
	t.Logf("at 10,000 vehicles: %d shards, %.1f writes a vehicle-day, $%.2f of state writes a month against $%.2f for a write per upload",
		int(f.Shards), f.WritesPerVehicleDay, coalesced, perUpload)
}

// A trip's uploads read the vehicle's item once per execution environment
// that serves one of them: once with one environment, about as many as
// the environments when they are few against the trip's uploads, nearly
// every upload when they are many.
func TestVehicleChecks(t *testing.T) {
	u := DefaultUsage()
	perTrip := u.UploadsPerDay() / u.TripsPerDay
	// Uploads a month at which the peak needs c environments: 12 ms an
	// upload, and a cold start's init every ColdStartsPerMillion.
	perUpload := u.DurationMsByOperationID["createEvent"]/1000 + u.ColdStartsPerMillion/1e6*u.InitMs/1000
	uploadsFor := func(c float64) float64 {
		return c / perUpload / u.PeakToAverage * u.DaysPerMonth * 86400
	}
	for _, c := range []struct {
		name       string
		n, perTrip float64
	}{
		{"one environment", uploadsFor(0.5), 1},
		{"two", uploadsFor(1.99), 2},
		{"as many environments as a trip has uploads", uploadsFor(perTrip - 0.01), perTrip * (1 - math.Pow(1-1/perTrip, perTrip))},
	} {
		got := VehicleChecks(u, c.n) / (c.n / perTrip)
		if math.Abs(got-c.perTrip) > 0.01 {
			t.Errorf("%s: %.2f reads a trip, want %.2f", c.name, got, c.perTrip)
		}
	}
	if n := uploadsFor(100 * perTrip); VehicleChecks(u, n) < 0.99*n || VehicleChecks(u, n) > n {
		t.Errorf("environments far more than a trip's uploads: %.0f reads of %.0f uploads, want nearly each", VehicleChecks(u, n), n)
	}
	if VehicleChecks(u, 0) != 0 {
		t.Error("no uploads read something")
	}
}
