package costmodel

import (
	"strings"
	"testing"
)

func prodModel(t *testing.T) Model {
	t.Helper()
	s, err := LoadStack("../../../test/testdata/FleetApi-prod.template.json")
	if err != nil {
		t.Fatal(err)
	}
	p, err := LoadPrices("../../../cost/prices-us-east-1.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return Model{Stack: s, Usage: DefaultUsage(), Prices: p}
}

// At 10,000 vehicles the default profile makes, by hand: 240 uploads, 2
// vehicle reads and a day read back in 3 pages a vehicle-day (245 × 30 ×
// 10,000 = 73,500,000), 24 fleet listings of 100 pages a day (72,000) and
// an update a vehicle (10,000): 73,582,000 requests; the state read of one
// vehicle in ten a day (30,000) and the fleet's state listed 96 times a
// day in 10 pages (28,800): 73,640,800; and the synthetic vehicle's, a
// run a minute of 30 days (43,200), each an upload over HTTPS and 3 reads
// (172,800): 73,813,600. An HTTP API's request line is $1.00 a
// million against REST's $3.50 below the first tier.
func TestWhatIfs(t *testing.T) {
	m := prodModel(t)
	e, err := m.Estimate(10000)
	if err != nil {
		t.Fatal(err)
	}
	if e.Requests != 73_813_600 {
		t.Errorf("requests %g, want 73,813,600", e.Requests)
	}
	whatIfs, err := m.WhatIfs(10000)
	if err != nil {
		t.Fatal(err)
	}
	byChange := map[string]WhatIf{}
	for _, w := range whatIfs {
		byChange[strings.Fields(w.Change)[0]+" "+strings.Fields(w.Change)[1]] = w
		if w.Baseline != e.Steady || !approx(w.Delta, w.Steady-w.Baseline) {
			t.Errorf("%s: baseline %g (estimate %g), delta %g", w.Change, w.Baseline, e.Steady, w.Delta)
		}
	}
	if w := byChange["HTTP API"]; !approx(w.Delta, -2.5*73.8136) {
		t.Errorf("HTTP API: %+v, want a difference of %g", w, -2.5*73.8136)
	}
	// Fewer, larger uploads: a sixth of the requests, and a 60-sample item
	// (about 2.1 KB) takes 3 write units instead of 6 for 6 uploads.
	if w := byChange["60 samples"]; w.Delta >= 0 {
		t.Errorf("60 samples per upload: %+v, want a saving", w)
	}
	// PITR off takes off exactly its lines.
	pitr := 0.0
	for _, l := range e.Lines {
		if strings.Contains(l.Item, "point-in-time") {
			pitr += l.Steady
		}
	}
	if w := byChange["point-in-time recovery"]; !approx(w.Delta, -pitr) {
		t.Errorf("PITR off: %+v, want %g", w, -pitr)
	}
	if c := Cheapest(whatIfs); c.Delta > byChange["HTTP API"].Delta {
		t.Errorf("Cheapest %+v saves less than another", c)
	}
}

// By hand at 1,000,000 vehicles: 240,000,000 uploads a day are 2,777.8 a
// second, 16,667 at a peak of 6 times; the stage's throttle (1,000) and
// the events table's cap (4,000 write units) bind, a vehicle's own
// partition key does not (0.1 write units a second while driving).
func TestCapacity(t *testing.T) {
	c, err := prodModel(t).Capacity(1_000_000)
	if err != nil {
		t.Fatal(err)
	}
	if !approx(c.AverageUploads, 240e6/86400) || !approx(c.PeakUploads, 6*240e6/86400) {
		t.Errorf("uploads %g / %g", c.AverageUploads, c.PeakUploads)
	}
	binds := map[string]bool{}
	for _, l := range c.Limits {
		binds[l.Name] = l.Binds()
	}
	for name, want := range map[string]bool{
		"API requests/s: the stage's throttle rate":                    true,
		"events table write units/s: the stage's on-demand maximum":    true,
		"events table write units/s: per-table quota":                  false,
		"write units/s of one vehicle (a partition key) while driving": false,
	} {
		if got, ok := binds[name]; !ok || got != want {
			t.Errorf("%s: binds %v (listed %v), want %v", name, got, ok, want)
		}
	}
}

// Over MQTT the uploads leave the REST API's request rows and meet IoT
// Core's quotas instead: at 1,000,000 vehicles (40 minutes of driving in 2
// trips a day, a 6x peak) 1e6 × 40/1440 × 6 = 166,667 vehicles are
// connected at the peak, 166,667 / 1,200 s = 139 connect a second, and the
// 16,667 uploads a second are as many inbound publishes and rule
// evaluations: under the 20,000 of each, which bind from 1,200,000 vehicles.
func TestCapacityOverMqtt(t *testing.T) {
	m := prodModel(t)
	m.Usage.UploadsOverMqtt = true
	c, err := m.Capacity(1_000_000)
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]Limit{}
	for _, l := range c.Limits {
		rows[l.Name] = l
	}
	peakUploads := 6 * 240e6 / 86400
	for name, want := range map[string]struct{ need, from float64 }{
		"IoT Core concurrent connections (vehicles driving at the peak)": {1e6 * 40 / 1440 * 6, 3e6},
		"IoT Core connect requests/s (a connection a trip)":              {1e6 * 40 / 1440 * 6 / 1200, 3.6e6},
		"IoT Core inbound publish requests/s (an upload each)":           {peakUploads, 1.2e6},
		"IoT Core rule evaluations/s (the upload rule, an upload each)":  {peakUploads, 1.2e6},
	} {
		l, ok := rows[name]
		if !ok || !approx(l.Need, want.need) || !approx(l.FromVehicles(c.Vehicles), want.from) || l.Binds() {
			t.Errorf("%s: %+v (listed %v), want a need of %g, binding from %g vehicles", name, l, ok, want.need, want.from)
		}
	}
	if api := rows["API requests/s: the stage's throttle rate"]; api.Need > 1000 || api.Binds() {
		t.Errorf("the REST API at the peak needs %g requests/s over MQTT: the uploads are still counted", api.Need)
	}
	if l := rows["IoT Core publish requests/s of one connection while driving"]; !l.PerVehicle || !approx(l.Need, 0.1) {
		t.Errorf("one connection's publishes: %+v, want 0.1 a second (an upload each 10 s)", l)
	}
	m.Usage.UploadsOverMqtt = false
	if c, _ := m.Capacity(1_000_000); len(c.Limits) != len(rows)-5 {
		t.Errorf("over HTTPS %d limits, want IoT Core's 5 fewer than %d", len(c.Limits), len(rows))
	}
}
