package costmodel

import (
	"fmt"
	"math"
)

// Default quotas of an account and Region, as the services document them
// (Service Quotas shows an account's own). Each is a limit a fleet meets.
const (
	// API Gateway: "Throttle quota per account, per Region across HTTP
	// APIs, REST APIs, WebSocket APIs, and WebSocket callback APIs":
	// 10,000 requests per second, burst 5,000 (adjustable).
	QuotaAPIRequestsPerSecond = 10000
	QuotaAPIBurst             = 5000
	// Lambda: 1,000 concurrent executions per Region (adjustable); 100 of
	// them can never be reserved.
	QuotaLambdaConcurrency = 1000
	QuotaLambdaUnreserved  = 100
	// DynamoDB: an on-demand table (and its throughput per second) is
	// capped at 40,000 read and 40,000 write request units per second by
	// default ("Per table" quota, adjustable); a partition serves 3,000
	// read and 1,000 write units a second, whatever the mode.
	QuotaTableWriteUnits     = 40000
	QuotaTableReadUnits      = 40000
	QuotaPartitionWriteUnits = 1000
	QuotaPartitionReadUnits  = 3000
	// A new on-demand table serves up to 4,000 writes and 12,000 reads a
	// second at once, more as traffic doubles within 30 minutes (or at
	// once with warm throughput).
	NewTableWriteUnits = 4000
	// AWS IoT Core (General Reference, "AWS IoT Core endpoints and
	// quotas"): 500,000 concurrent client connections and 500 CONNECT
	// requests a second per account, 20,000 inbound publish requests a
	// second per account (a message to the rules engine counts), 20,000
	// rule evaluations a second per account, all adjustable; 100 publish
	// requests a second per connection, not adjustable (beyond it they
	// are discarded).
	QuotaIoTConnections          = 500000
	QuotaIoTConnectsPerSecond    = 500
	QuotaIoTInboundPublishes     = 20000
	QuotaIoTRuleEvaluations      = 20000
	QuotaIoTPublishPerConnection = 100
)

// Whose a limit is.
const (
	ofStage   = "stage setting"
	ofQuota   = "default quota"
	ofScaling = "DynamoDB"
)

// Capacity is what a fleet asks of the stack's limits at its peak.
type Capacity struct {
	Vehicles int `json:"vehicles"`
	// AverageUploads and PeakUploads are uploads a second over the day and
	// at the peak (the usage's peakToAverage).
	AverageUploads float64 `json:"averageUploadsPerSecond"`
	PeakUploads    float64 `json:"peakUploadsPerSecond"`
	Limits         []Limit `json:"limits"`
}

// Limit compares what the peak needs with a limit of the stage or a
// default quota of the account.
type Limit struct {
	Name  string  `json:"name"`
	Need  float64 `json:"need"`
	Limit float64 `json:"limit"`
	// Of says whose limit it is: the stage's (its template), a default
	// quota of the account, or how DynamoDB scales.
	Of string `json:"of"`
	// PerVehicle marks a need that does not grow with the fleet.
	PerVehicle bool `json:"perVehicle,omitempty"`
}

// FromVehicles is the fleet size from which a limit that grows with the
// fleet binds (0 for one that does not grow with it).
func (l Limit) FromVehicles(vehicles int) float64 {
	if l.PerVehicle || l.Need == 0 {
		return 0
	}
	return float64(vehicles) * l.Limit / l.Need
}

// Binds reports whether the peak needs more than the limit.
func (l Limit) Binds() bool { return l.Limit > 0 && l.Need > l.Limit }

// Capacity computes a fleet's peak needs against the stack's and the
// account's limits, from the same request mix as the estimate.
func (m Model) Capacity(vehicles int) (Capacity, error) {
	s, u := m.Stack, m.Usage
	secondsPerMonth := u.DaysPerMonth * 86400
	requests, err := m.RequestsByOperation(vehicles)
	if err != nil {
		return Capacity{}, err
	}
	peak := func(perMonth float64) float64 { return perMonth / secondsPerMonth * u.PeakToAverage }
	c := Capacity{Vehicles: vehicles,
		AverageUploads: uploads(requests) / secondsPerMonth,
		PeakUploads:    peak(uploads(requests))}
	total := 0.0
	for _, n := range requests {
		total += n
	}
	if u.UploadsOverMqtt {
		total -= uploads(requests) // over MQTT, not the REST API
	}
	peakRPS := peak(total)
	c.Limits = append(c.Limits,
		Limit{Name: "API requests/s: the stage's throttle rate", Need: peakRPS, Limit: s.ThrottleRate, Of: ofStage},
		Limit{Name: "API requests/s: account throttle per Region", Need: peakRPS, Limit: QuotaAPIRequestsPerSecond, Of: ofQuota},
	)
	concurrency := 0.0
	for _, f := range s.Functions {
		need := 0.0
		for _, op := range f.Operations {
			need += u.peakEnvironments(op, requests[op])
		}
		need = math.Ceil(need)
		concurrency += need
		if f.ReservedConcurrency > 0 {
			c.Limits = append(c.Limits, Limit{Name: fmt.Sprintf("Lambda concurrency: %s's reserved", f.LogicalID), Need: need, Limit: float64(f.ReservedConcurrency), Of: ofStage})
		}
	}
	state := m.State(vehicles)
	if t := s.Tracker; t != nil {
		// At most a batch of each stream shard at a time (per
		// parallelization); a batch holds its invocation only while it
		// runs, tens of milliseconds a window.
		concurrency += state.Concurrency
		c.Limits = append(c.Limits,
			Limit{Name: "Lambda concurrency: the tracker's (its batches and states a second times their durations)", Need: state.Concurrency,
				Limit: QuotaLambdaConcurrency - QuotaLambdaUnreserved, Of: ofQuota},
			// A count of the fleet is one Scan, within the tracker's timeout.
			Limit{Name: "seconds of the fleet's count (a Scan of every state) within the tracker's timeout",
				Need: float64(vehicles) * StateItemBytes / 1e6 * figuresScanMsPerMB / 1000, Limit: float64(t.TimeoutSeconds), Of: ofStage},
		)
	}
	// The functions' concurrency comes out of the Region's; 100 of it
	// always stays unreserved, for functions without a reservation.
	c.Limits = append(c.Limits, Limit{Name: "Lambda concurrency: the Region's, less the 100 kept unreserved",
		Need: concurrency, Limit: QuotaLambdaConcurrency - QuotaLambdaUnreserved, Of: ofQuota})

	units := m.tableUnits(requests)
	writes, vehicleReads := peak(units.Events.Writes), peak(units.Vehicles.Reads)
	stateWrites := peak(state.StateWrites * float64(WriteUnits(StateItemBytes)))
	for _, t := range []struct {
		name, unit string
		table      Table
		need       float64
		max, prov  float64
	}{
		{"events", "write", s.Events, writes, s.Events.MaxWriteUnits, s.Events.WriteCapacity},
		{"vehicles", "read", s.Vehicles, vehicleReads, s.Vehicles.MaxReadUnits, s.Vehicles.ReadCapacity},
		{"state", "write", s.State, stateWrites, s.State.MaxWriteUnits, s.State.WriteCapacity},
	} {
		if t.table.LogicalID == "" {
			continue
		}
		switch {
		case !t.table.OnDemand:
			c.Limits = append(c.Limits, Limit{Name: fmt.Sprintf("%s table %s units/s: provisioned", t.name, t.unit), Need: t.need, Limit: t.prov, Of: ofStage})
		case t.max > 0:
			c.Limits = append(c.Limits, Limit{Name: fmt.Sprintf("%s table %s units/s: the stage's on-demand maximum", t.name, t.unit), Need: t.need, Limit: t.max, Of: ofStage})
		}
	}
	c.Limits = append(c.Limits,
		Limit{Name: "events table write units/s: a new on-demand table at once", Need: writes, Limit: NewTableWriteUnits, Of: ofScaling},
		Limit{Name: "events table write units/s: per-table quota", Need: writes, Limit: QuotaTableWriteUnits, Of: ofQuota},
		Limit{Name: "vehicles table read units/s: per-table quota", Need: vehicleReads, Limit: QuotaTableReadUnits, Of: ofQuota},
		// One vehicle's uploads go to one partition key; while driving it
		// writes a sample a second, an upload every samplesPerUpload seconds.
		Limit{Name: "write units/s of one vehicle (a partition key) while driving", Need: u.SamplesPerSecond / float64(u.SamplesPerUpload) * uploadWriteUnits(u.SamplesPerUpload),
			Limit: QuotaPartitionWriteUnits, Of: ofScaling, PerVehicle: true},
	)
	if s.Tracker != nil {
		// The tracker writes a driving vehicle's state about once a
		// batching window.
		c.Limits = append(c.Limits, Limit{Name: "state table write units/s: per-table quota", Need: stateWrites, Limit: QuotaTableWriteUnits, Of: ofQuota})
	}
	if u.UploadsOverMqtt {
		// Connected while driving: the share of the day driven, at the
		// peak; a connection a trip, each trip an equal share of it.
		connected := float64(vehicles) * u.DrivingMinutesPerDay / 1440 * u.PeakToAverage
		trip := u.DrivingMinutesPerDay / u.TripsPerDay * 60
		c.Limits = append(c.Limits,
			Limit{Name: "IoT Core concurrent connections (vehicles driving at the peak)", Need: connected, Limit: QuotaIoTConnections, Of: ofQuota},
			Limit{Name: "IoT Core connect requests/s (a connection a trip)", Need: connected / trip, Limit: QuotaIoTConnectsPerSecond, Of: ofQuota},
			Limit{Name: "IoT Core inbound publish requests/s (an upload each)", Need: c.PeakUploads, Limit: QuotaIoTInboundPublishes, Of: ofQuota},
			Limit{Name: "IoT Core rule evaluations/s (the upload rule, an upload each)", Need: c.PeakUploads, Limit: QuotaIoTRuleEvaluations, Of: ofQuota},
			Limit{Name: "IoT Core publish requests/s of one connection while driving", Need: u.SamplesPerSecond / float64(u.SamplesPerUpload),
				Limit: QuotaIoTPublishPerConnection, Of: "IoT Core", PerVehicle: true},
		)
	}
	return c, nil
}

// peakEnvironments is the execution environments n requests a month of
// operation op hold at the peak, by Little's law: requests a second times
// seconds each; a cold start holds its environment for the init too.
func (u Usage) peakEnvironments(op string, n float64) float64 {
	rps := n / (u.DaysPerMonth * 86400) * u.PeakToAverage
	return rps*u.DurationMsByOperationID[op]/1000 + rps*u.ColdStartsPerMillion/1e6*u.InitMs/1000
}
