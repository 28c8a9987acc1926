package costmodel

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/fleetapi/fleetapi/internal/shared/fleet"
)

// operation is what the cost model knows of an operation of the spec: how
// often the fleet calls it and what one call reads and writes, answers,
// logs and lasts. Every operation the stack serves needs one: Estimate and
// Capacity fail naming an operation without it, never price it at $0.
type operation struct {
	// perMonth is its requests a month at a fleet size.
	perMonth func(u Usage, vehicles float64) float64
	// units adds to u the table request units of n of its requests.
	units func(u Usage, n float64, units *tableUnits)
	// responseBytes is its answer's body as sent (before the headers).
	responseBytes float64
	// logBytes is what its function logs for it: the request line (with
	// the embedded metric for an upload), before Lambda's platform lines.
	// Those of createEvent, getVehicle, listVehicles and listEvents are
	// measured (TestMeasuredFiguresAreCurrent); the others log as
	// getVehicle does.
	logBytes float64
	// durationMs is its default billed duration (Usage.DurationMsByOperationID).
	durationMs float64
	// upload marks the uploads of samples: the upload rate of Capacity,
	// and their function's SamplesIngested metric.
	upload bool
}

// operations are the cost model's figures of each operation of
// api/swagger.yaml, by operationId.
var operations = map[string]operation{
	"createEvent": {
		perMonth: func(u Usage, v float64) float64 { return v * u.UploadsPerDay() * u.DaysPerMonth },
		// Every upload checks its vehicle exists, reading it once per
		// execution environment that serves it (VehicleChecks).
		units: func(u Usage, n float64, t *tableUnits) {
			t.Events.Writes += n * uploadWriteUnits(u.SamplesPerUpload)
			t.Vehicles.Reads += VehicleChecks(u, n) * readUnits(VehicleItemBytes) * eventuallyConsistent
		},
		responseBytes: UploadResponseBytes, logBytes: 260, durationMs: 12, upload: true,
	},
	"getEvent": {
		perMonth: func(u Usage, v float64) float64 { return v * u.EventReadsPerDay * u.DaysPerMonth },
		units: func(u Usage, n float64, t *tableUnits) {
			t.Events.Reads += n * readUnits(EventItemBytes(u.SamplesPerUpload))
		},
		responseBytes: VehicleResponseBytes, logBytes: 231, durationMs: 8,
	},
	// A vehicle's day of events, read in pages of the largest limit.
	"listEvents": {
		perMonth: func(u Usage, v float64) float64 {
			return v * u.DayReadsPerDay * float64(len(dayPages(u))) * u.DaysPerMonth
		},
		units: func(u Usage, n float64, t *tableUnits) {
			pages := dayPages(u)
			for _, items := range pages {
				t.Events.Reads += n / float64(len(pages)) * readUnits(items*EventItemBytes(u.SamplesPerUpload)) * eventuallyConsistent
			}
		},
		responseBytes: EventsPageGzipBytes, logBytes: 238, durationMs: 40,
	},
	// Registering a vehicle is once in its life, not monthly.
	"createVehicle": {
		perMonth:      func(Usage, float64) float64 { return 0 },
		units:         func(Usage, float64, *tableUnits) {},
		responseBytes: VehicleResponseBytes, logBytes: 231, durationMs: 10,
	},
	"getVehicle": {
		perMonth: func(u Usage, v float64) float64 { return v * u.VehicleReadsPerDay * u.DaysPerMonth },
		units: func(_ Usage, n float64, t *tableUnits) {
			t.Vehicles.Reads += n * readUnits(VehicleItemBytes) * eventuallyConsistent
		},
		responseBytes: VehicleResponseBytes, logBytes: 231, durationMs: 8,
	},
	"updateVehicle": {
		perMonth: func(u Usage, v float64) float64 { return v * u.VehicleUpdatesPerMonth },
		units: func(_ Usage, n float64, t *tableUnits) {
			t.Vehicles.Writes += n * float64(WriteUnits(VehicleItemBytes))
		},
		responseBytes: VehicleResponseBytes, logBytes: 231, durationMs: 10,
	},
	// A vehicle's state, read eventually consistently (one that was never
	// heard of reads its registration too: not counted).
	"getVehicleState": {
		perMonth: func(u Usage, v float64) float64 { return v * u.VehicleStateReadsPerDay * u.DaysPerMonth },
		units: func(_ Usage, n float64, t *tableUnits) {
			t.State.Reads += n * readUnits(StateItemBytes) * eventuallyConsistent
		},
		responseBytes: StateResponseBytes, logBytes: 209, durationMs: 8,
	},
	// The fleet's states in pages of the largest limit, each a Scan of one
	// state more than it returns.
	"listFleetState": {
		perMonth: func(u Usage, v float64) float64 {
			return u.FleetStateListingsPerDay * math.Ceil(v/fleet.MaxStateLimit) * u.DaysPerMonth
		},
		units: func(_ Usage, n float64, t *tableUnits) {
			t.State.Reads += n * readUnits((fleet.MaxStateLimit+1)*StateItemBytes) * eventuallyConsistent
		},
		responseBytes: StatePageGzipBytes, logBytes: 201, durationMs: 150,
	},
	// The fleet listed in pages of the largest limit; each page scans one
	// vehicle more than it returns.
	"listVehicles": {
		perMonth: func(u Usage, v float64) float64 {
			return u.FleetListingsPerDay * math.Ceil(v/fleet.MaxLimit) * u.DaysPerMonth
		},
		units: func(_ Usage, n float64, t *tableUnits) {
			t.Vehicles.Reads += n * readUnits((fleet.MaxLimit+1)*VehicleItemBytes) * eventuallyConsistent
		},
		responseBytes: VehicleResponseBytes, logBytes: 225, durationMs: 20,
	},
}

// Units are a table's request units a month.
type Units struct{ Writes, Reads float64 }

// tableUnits are the tables' request units a month.
type tableUnits struct{ Events, Vehicles, State Units }

// operationOf returns the figures of an operation.
func operationOf(id string) (operation, error) {
	op, ok := operations[id]
	if !ok {
		return operation{}, fmt.Errorf("the cost model has no figures for operation %s, which the stack serves: known are %s",
			id, strings.Join(slices.Sorted(maps.Keys(operations)), ", "))
	}
	return op, nil
}

// defaultDurations are the operations' default durations.
func defaultDurations() DurationMs {
	d := DurationMs{}
	for id, op := range operations {
		d[id] = op.durationMs
	}
	return d
}

// check requires figures and a duration for every operation the stack
// serves.
func (m Model) check() error {
	for _, id := range m.Stack.Operations() {
		if _, err := operationOf(id); err != nil {
			return err
		}
		if _, ok := m.Usage.DurationMsByOperationID[id]; !ok {
			return fmt.Errorf("durationMs: no duration for %s", id)
		}
	}
	return nil
}

// RequestsByOperation returns the API requests a month of each operation
// the stack serves. The usage calling an operation the stack does not
// serve is an error too.
func (m Model) RequestsByOperation(vehicles int) (map[string]float64, error) {
	if err := m.check(); err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for _, id := range m.Stack.Operations() {
		out[id] = operations[id].perMonth(m.Usage, float64(vehicles))
	}
	for _, id := range slices.Sorted(maps.Keys(operations)) {
		if _, served := out[id]; !served && operations[id].perMonth(m.Usage, float64(vehicles)) > 0 {
			return nil, fmt.Errorf("the usage calls %s, which no function of the template serves", id)
		}
	}
	return out, nil
}

// tableUnits returns the request units each table serves a month for the
// requests of each operation (RequestsByOperation).
func (m Model) tableUnits(requests map[string]float64) tableUnits {
	var u tableUnits
	for _, id := range slices.Sorted(maps.Keys(requests)) {
		operations[id].units(m.Usage, requests[id], &u)
	}
	return u
}

// uploads is the requests a month of the uploads.
func uploads(requests map[string]float64) float64 {
	n := 0.0
	for id, r := range requests {
		if operations[id].upload {
			n += r
		}
	}
	return n
}

// uploadWriteUnits is the write units an upload of samples takes.
func uploadWriteUnits(samples int) float64 {
	return float64(WriteUnits(int(math.Ceil(EventItemBytes(samples)))))
}

// dayPages returns the items each Query reads to list a vehicle's day of
// events in pages of the largest limit: the store asks for one more than
// the page, to know whether there is a next.
func dayPages(u Usage) []float64 {
	var pages []float64
	for left := u.UploadsPerDay(); left > 0; left -= fleet.MaxLimit {
		pages = append(pages, math.Min(left, fleet.MaxLimit+1))
	}
	return pages
}

// RequestsPerMonth is an operation's requests a month at a fleet size.
func RequestsPerMonth(u Usage, id string, vehicles int) (float64, error) {
	op, err := operationOf(id)
	if err != nil {
		return 0, err
	}
	return op.perMonth(u, float64(vehicles)), nil
}

// VehicleChecks is how many of n uploads a month read their vehicle's
// item. A function remembers the vehicles it found registered (vehicles
// are never deleted), so a trip's uploads read it once per execution
// environment that serves one of them: of C environments (the upload
// function's concurrency at the peak, at least one), a trip's U uploads
// reach C·(1 − (1 − 1/C)^U) of them on average, each equally likely (C
// as the capacity plan counts the function's environments). It
// assumes an environment outlives a trip, which Lambda's reuse of
// environments gives a function invoked continuously (it replaces them
// "every few hours", "Understanding the Lambda execution environment
// lifecycle"); cold starts of a quiet fleet read more.
func VehicleChecks(u Usage, n float64) float64 {
	perTrip := u.UploadsPerDay() / u.TripsPerDay
	if n == 0 || perTrip <= 1 {
		return n
	}
	c := max(1, math.Ceil(u.peakEnvironments("createEvent", n)))
	reached := c * (1 - math.Pow(1-1/c, perTrip))
	return n / perTrip * reached
}
