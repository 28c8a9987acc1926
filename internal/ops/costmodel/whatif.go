package costmodel

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"slices"
)

// WhatIf is the steady-state monthly cost of one change to the stack or
// the usage, next to the stack as it is.
type WhatIf struct {
	Change   string  `json:"change"`
	Vehicles int     `json:"vehicles"`
	Baseline float64 `json:"baselineUsd"`
	Steady   float64 `json:"steadyUsd"`
	// Delta is Steady - Baseline: negative saves.
	Delta float64 `json:"deltaUsd"`
	// Note qualifies an estimate that holds other things equal.
	Note string `json:"note,omitempty"`
}

// WhatIfs prices the changes the estimate prints at a fleet size.
func (m Model) WhatIfs(vehicles int) ([]WhatIf, error) {
	base, err := m.Estimate(vehicles)
	if err != nil {
		return nil, err
	}
	var out []WhatIf
	try := func(change, note string, edit func(*Model)) error {
		v := m.clone()
		edit(&v)
		e, err := v.Estimate(vehicles)
		if err != nil {
			return fmt.Errorf("what if %s: %w", change, err)
		}
		out = append(out, WhatIf{Change: change, Vehicles: vehicles, Baseline: base.Steady, Steady: e.Steady, Delta: e.Steady - base.Steady, Note: note})
		return nil
	}
	s, u := m.Stack, m.Usage
	samples := 60
	if u.SamplesPerUpload == 60 {
		samples = 10
	}
	retention := 90
	if s.EventRetentionDays == 90 {
		retention = 365
	}
	class, classNote := "Standard-Infrequent-Access", "writes and reads cost 25 % more, storage 60 % less"
	if s.Events.InfrequentAccess {
		class, classNote = "Standard", "writes and reads cost 20 % less, storage 2.5 times more"
	}
	pitr := "off"
	if !s.Events.PITR {
		pitr = "on"
	}
	for _, c := range []struct {
		change, note string
		edit         func(*Model)
	}{
		{fmt.Sprintf("%d samples per upload (now %d)", samples, u.SamplesPerUpload), "the same samples in fewer, larger calls",
			func(v *Model) { v.Usage.SamplesPerUpload = samples }},
		{fmt.Sprintf("event retention %d days (now %d)", retention, s.EventRetentionDays), "",
			func(v *Model) { v.Stack.EventRetentionDays = retention }},
		{fmt.Sprintf("events table class %s", class), classNote,
			func(v *Model) { v.Stack.Events.InfrequentAccess = !v.Stack.Events.InfrequentAccess }},
		{fmt.Sprintf("point-in-time recovery %s on every table", pitr), "",
			func(v *Model) {
				v.Stack.Events.PITR, v.Stack.Vehicles.PITR = !s.Events.PITR, !s.Events.PITR
				if v.Stack.State.LogicalID != "" {
					v.Stack.State.PITR = !s.Events.PITR
				}
			}},
		{"functions at 128 MB", "durations held equal: an estimate; CPU-bound work would take longer",
			func(v *Model) { v.setMemory(128) }},
		{"functions at 512 MB", "durations held equal: an estimate; CPU-bound work would finish sooner",
			func(v *Model) { v.setMemory(512) }},
		{"tables provisioned for the peak", fmt.Sprintf("capacity for %gx the average all month; no throttling at the peak (the state table stays on demand)", u.PeakToAverage),
			func(v *Model) { v.provision(vehicles, u.PeakToAverage) }},
		{"tables provisioned with auto scaling", "capacity following the load at 70 % utilization: a lower bound, auto scaling lags a rising load",
			func(v *Model) { v.provision(vehicles, 1/0.7) }},
		{"API Gateway detailed metrics " + onOff(!s.DetailedMetrics), "the burn-rate alarms and the uploads metric read per-method metrics: without them they have no data",
			func(v *Model) { v.Stack.DetailedMetrics = !v.Stack.DetailedMetrics }},
	} {
		if err := try(c.change, c.note, c.edit); err != nil {
			return nil, err
		}
	}
	// The state's coalescing: without the stream's batching window, a
	// write of the state per upload.
	if t := s.Tracker; t != nil && t.BatchingWindowSeconds > 0 {
		if err := try(fmt.Sprintf("no state batching window (now %d s)", t.BatchingWindowSeconds),
			"a write of a vehicle's state per upload: its state within seconds of each upload",
			func(v *Model) { v.Stack.Tracker.BatchingWindowSeconds = 0 }); err != nil {
			return nil, err
		}
	}
	// The MQTT path, where the stack has the upload rule: at these samples
	// per upload, and at the other batch size.
	if s.UploadRule && !u.UploadsOverMqtt {
		note := "IoT Core: connected while driving, the rule and its Lambda action in 5 KB increments, no messaging charge (Basic Ingest); reads stay on the REST API"
		for _, n := range []int{u.SamplesPerUpload, samples} {
			msg, ev := MqttUploadBytes(n)
			if err := try(fmt.Sprintf("uploads over MQTT, %d samples per upload (%d B message, %d B rule event)", n, msg, ev), note,
				func(v *Model) { v.Usage.UploadsOverMqtt, v.Usage.SamplesPerUpload = true, n }); err != nil {
				return nil, err
			}
		}
	}
	// The request line only: an HTTP API has no request validation from the
	// spec, no per-operation IAM authorization types of a REST API's kind,
	// other access logs; an estimate of the line, not of a migration.
	rest := m.Prices.Prices[PriceRestRequests].Cost(base.Requests)
	http := m.Prices.Prices[PriceHTTPRequests].Cost(base.Requests)
	out = append(out, WhatIf{Change: "HTTP API instead of REST API (request line only)", Vehicles: vehicles, Baseline: base.Steady,
		Steady: base.Steady - rest + http, Delta: http - rest,
		Note: "an estimate of the request line; an HTTP API does not validate requests against the spec"})
	return out, nil
}

// Cheapest returns the what-if that saves the most.
func Cheapest(whatIfs []WhatIf) WhatIf {
	return slices.MinFunc(whatIfs, func(a, b WhatIf) int { return cmp.Compare(a.Delta, b.Delta) })
}

// provision makes both tables provisioned with capacity for factor times
// their average load at a fleet size (at least a unit each).
func (m *Model) provision(vehicles int, factor float64) {
	// WhatIfs' base estimate checked the model: there is no error here.
	requests, _ := m.RequestsByOperation(vehicles)
	units := m.tableUnits(requests)
	perSecond := func(perMonth float64) float64 {
		return math.Max(1, math.Ceil(perMonth/(m.Usage.DaysPerMonth*86400)*factor))
	}
	for _, t := range []struct {
		table *Table
		units Units
	}{{&m.Stack.Events, units.Events}, {&m.Stack.Vehicles, units.Vehicles}} {
		t.table.OnDemand = false
		t.table.WriteCapacity, t.table.ReadCapacity = perSecond(t.units.Writes), perSecond(t.units.Reads)
	}
}

func (m *Model) setMemory(mib int) {
	for i := range m.Stack.Functions {
		m.Stack.Functions[i].MemoryMiB = mib
	}
	if m.Stack.Tracker != nil {
		m.Stack.Tracker.MemoryMiB = mib
	}
}

// clone copies the model so that a what-if can change its stack and usage.
func (m Model) clone() Model {
	s := *m.Stack
	s.Functions = slices.Clone(s.Functions)
	if s.Tracker != nil {
		t := *s.Tracker
		s.Tracker = &t
	}
	u := m.Usage
	u.DurationMsByOperationID = maps.Clone(u.DurationMsByOperationID)
	return Model{Stack: &s, Usage: u, Prices: m.Prices}
}

func onOff(on bool) string {
	if on {
		return "on"
	}
	return "off"
}
