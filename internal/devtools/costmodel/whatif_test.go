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
// an update a vehicle (10,000): 73,582,000 requests. An HTTP API's request
// line is $1.00 a million against REST's $3.50 below the first tier.
func TestWhatIfs(t *testing.T) {
	m := prodModel(t)
	e, err := m.Estimate(10000)
	if err != nil {
		t.Fatal(err)
	}
	if e.Requests != 73_582_000 {
		t.Errorf("requests %g, want 73,582,000", e.Requests)
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
	if w := byChange["HTTP API"]; !approx(w.Delta, -2.5*73.582) {
		t.Errorf("HTTP API: %+v, want a difference of %g", w, -2.5*73.582)
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
