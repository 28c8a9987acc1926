package costmodel

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"slices"
	"strings"

	"go.yaml.in/yaml/v4"

	"github.com/fleetapi/fleetapi/internal/shared/fleet"
)

// Usage is how a fleet uses the API, per vehicle unless named otherwise.
// DefaultUsage is the talk's workload plus a stated read pattern; a usage
// file overrides any figure (as an Infracost usage file does).
type Usage struct {
	// The talk's workload: minutes of driving a day, samples a second while
	// driving, samples per upload (one API call), days of a month.
	DrivingMinutesPerDay float64 `yaml:"drivingMinutesPerDay" json:"drivingMinutesPerDay"`
	SamplesPerSecond     float64 `yaml:"samplesPerSecond" json:"samplesPerSecond"`
	SamplesPerUpload     int     `yaml:"samplesPerUpload" json:"samplesPerUpload"`
	DaysPerMonth         float64 `yaml:"daysPerMonth" json:"daysPerMonth"`
	// UploadsOverMqtt: the vehicles upload over MQTT through the upload
	// rule (AWS IoT Core Basic Ingest), connected while they drive, not
	// through the REST API; reads stay on the API.
	UploadsOverMqtt bool `yaml:"uploadsOverMqtt" json:"uploadsOverMqtt"`
	// TripsPerDay is how often a vehicle starts driving: over MQTT each
	// trip is a connection (the capacity plan's connect rate).
	TripsPerDay float64 `yaml:"tripsPerDay" json:"tripsPerDay"`

	// The read pattern (the talk has none): how often a vehicle is read
	// (its record), how often its day of events is read back in pages of
	// the largest limit, single events read, and how often the whole fleet
	// is listed in pages (per fleet, not per vehicle); vehicle updates a
	// month. Which operation each drives is said in operations.
	VehicleReadsPerDay      float64    `yaml:"vehicleReadsPerDay" json:"vehicleReadsPerDay"`
	DayReadsPerDay          float64    `yaml:"dayReadsPerDay" json:"dayReadsPerDay"`
	EventReadsPerDay        float64    `yaml:"eventReadsPerDay" json:"eventReadsPerDay"`
	FleetListingsPerDay     float64    `yaml:"fleetListingsPerDay" json:"fleetListingsPerDay"`
	VehicleUpdatesPerMonth  float64    `yaml:"vehicleUpdatesPerMonth" json:"vehicleUpdatesPerMonth"`
	ResponseHeaderBytes     float64    `yaml:"responseHeaderBytes" json:"responseHeaderBytes"`
	ColdStartsPerMillion    float64    `yaml:"coldStartsPerMillion" json:"coldStartsPerMillion"`
	InitMs                  float64    `yaml:"initMs" json:"initMs"`
	PeakToAverage           float64    `yaml:"peakToAverage" json:"peakToAverage"`
	DurationMsByOperationID DurationMs `yaml:"durationMs" json:"durationMs"`
	// The synthetic vehicle (per stage, not per vehicle): how long its
	// function runs for one run, and how many getEvent calls its read-back
	// makes (one for the HTTPS upload, more while the MQTT one is on its
	// way through the rule).
	SyntheticRunMs       float64 `yaml:"syntheticRunMs" json:"syntheticRunMs"`
	SyntheticReadsPerRun float64 `yaml:"syntheticReadsPerRun" json:"syntheticReadsPerRun"`
	// The vehicles' state: how often a vehicle's state is read
	// (getVehicleState) and the fleet's listed in full pages
	// (listFleetState, per fleet); how long the tracker runs for a batch
	// of the stream besides its vehicles, and for each vehicle's state it
	// writes (its read and conditional put, 16 at a time).
	VehicleStateReadsPerDay  float64 `yaml:"vehicleStateReadsPerDay" json:"vehicleStateReadsPerDay"`
	FleetStateListingsPerDay float64 `yaml:"fleetStateListingsPerDay" json:"fleetStateListingsPerDay"`
	TrackerBatchMs           float64 `yaml:"trackerBatchMs" json:"trackerBatchMs"`
	TrackerStateMs           float64 `yaml:"trackerStateMs" json:"trackerStateMs"`
	// The history (per fleet): queries a day and the bytes each scans,
	// the share of those bytes in the older storage classes, and the
	// writer's time for a thousand rows.
	HistoryQueriesPerDay      float64 `yaml:"historyQueriesPerDay" json:"historyQueriesPerDay"`
	HistoryScanMBPerQuery     float64 `yaml:"historyScanMBPerQuery" json:"historyScanMBPerQuery"`
	HistoryOldScanShare       float64 `yaml:"historyOldScanShare" json:"historyOldScanShare"`
	HistoryWriterMsPerKiloRow float64 `yaml:"historyWriterMsPerKiloRow" json:"historyWriterMsPerKiloRow"`
}

// DurationMs is each operation's billed duration, milliseconds.
type DurationMs map[string]float64

// DefaultUsage returns the talk's workload (40 minutes of driving a day, a
// sample a second, 10 samples a call, 30-day months) and the stated read
// pattern. Durations are estimates above what was measured: a warm
// 10-sample upload took 5.6 ms (median) under the Lambda runtime interface
// emulator against a local DynamoDB; in AWS each DynamoDB call is a network
// round trip of a few milliseconds. Init 50 ms: Go on provided.al2023 arm64
// starts in about 42 ms in public measurements, and AWS bills the init of
// OS-only runtimes.
func DefaultUsage() Usage {
	return Usage{
		DrivingMinutesPerDay:   40,
		SamplesPerSecond:       1,
		SamplesPerUpload:       10,
		DaysPerMonth:           30,
		TripsPerDay:            2,
		VehicleReadsPerDay:     2,
		DayReadsPerDay:         1,
		EventReadsPerDay:       0,
		FleetListingsPerDay:    24,
		VehicleUpdatesPerMonth: 1,
		ResponseHeaderBytes:    350,
		ColdStartsPerMillion:   1000,
		InitMs:                 50,
		PeakToAverage:          6,
		// Each operation's, as operations declares it.
		DurationMsByOperationID: defaultDurations(),
		// An estimate: make local runs it in 10 to 120 ms with no network;
		// in AWS each of its five calls is a round trip of tens of
		// milliseconds, and the MQTT upload reaches the table through the
		// rule and an asynchronous invocation, read back after about a
		// second of polling (three getEvent calls).
		SyntheticRunMs:       2000,
		SyntheticReadsPerRun: 3,
		// A fleet view refreshed every 15 minutes; one vehicle in ten
		// looked up a day (a support tool).
		VehicleStateReadsPerDay:  0.1,
		FleetStateListingsPerDay: 96,
		// Estimates above make local's: a batch's decoding and its log
		// line; a state's strongly consistent read and conditional put,
		// two round trips of about 8 ms, 16 vehicles at a time.
		TrackerBatchMs: 50,
		TrackerStateMs: 2,
		// A fleet team's day: a report of ten queries of a day of the
		// fleet, and forty of a vehicle or an hour; a vehicle-day scans
		// little, a fleet-day about a day's objects' columns it reads
		// (docs/history.md). One byte in ten of the older classes.
		HistoryQueriesPerDay:  50,
		HistoryScanMBPerQuery: 200,
		HistoryOldScanShare:   0.1,
		// make local's writer encodes a thousand rows in 1.3-1.7 ms on
		// this machine (docs/performance.md); arm64 Lambda at 1 GB about
		// as fast.
		HistoryWriterMsPerKiloRow: 2,
	}
}

// LoadUsage reads a usage file over DefaultUsage; "" is DefaultUsage. Its
// errors name the file and the figure.
func LoadUsage(path string) (Usage, error) {
	u := DefaultUsage()
	if path == "" {
		return u, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return Usage{}, fmt.Errorf("usage file: %w", err)
	}
	if err := u.overlay(data); err != nil {
		return Usage{}, fmt.Errorf("usage file %s: %w", path, err)
	}
	return u, nil
}

// overlay reads a usage file's figures over u and validates the result.
func (u *Usage) overlay(data []byte) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(u); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return u.Validate()
}

// Validate names the first figure out of its range.
func (u Usage) Validate() error {
	for _, c := range []struct {
		name     string
		v        float64
		min, max float64
	}{
		{"drivingMinutesPerDay", u.DrivingMinutesPerDay, 0, 1440},
		{"samplesPerSecond", u.SamplesPerSecond, 0, 100},
		{"daysPerMonth", u.DaysPerMonth, 28, 31},
		{"vehicleReadsPerDay", u.VehicleReadsPerDay, 0, 1e6},
		{"dayReadsPerDay", u.DayReadsPerDay, 0, 1e6},
		{"eventReadsPerDay", u.EventReadsPerDay, 0, 1e6},
		{"fleetListingsPerDay", u.FleetListingsPerDay, 0, 1e6},
		{"vehicleUpdatesPerMonth", u.VehicleUpdatesPerMonth, 0, 1e6},
		{"responseHeaderBytes", u.ResponseHeaderBytes, 0, 1e5},
		{"coldStartsPerMillion", u.ColdStartsPerMillion, 0, 1e6},
		{"initMs", u.InitMs, 0, 10000},
		{"syntheticRunMs", u.SyntheticRunMs, 0, 60000},
		{"syntheticReadsPerRun", u.SyntheticReadsPerRun, 2, 100},
		{"peakToAverage", u.PeakToAverage, 1, 1000},
		{"tripsPerDay", u.TripsPerDay, 1, 100},
		{"vehicleStateReadsPerDay", u.VehicleStateReadsPerDay, 0, 1e6},
		{"fleetStateListingsPerDay", u.FleetStateListingsPerDay, 0, 1e6},
		{"trackerBatchMs", u.TrackerBatchMs, 1, 60000},
		{"trackerStateMs", u.TrackerStateMs, 0.1, 60000},
		{"historyQueriesPerDay", u.HistoryQueriesPerDay, 0, 1e6},
		{"historyScanMBPerQuery", u.HistoryScanMBPerQuery, 0, 1e7},
		{"historyOldScanShare", u.HistoryOldScanShare, 0, 1},
		{"historyWriterMsPerKiloRow", u.HistoryWriterMsPerKiloRow, 0.01, 1000},
	} {
		if math.IsNaN(c.v) || c.v < c.min || c.v > c.max {
			return fmt.Errorf("%s %g is invalid: allowed are numbers from %g to %g", c.name, c.v, c.min, c.max)
		}
	}
	if u.SamplesPerUpload < 1 || u.SamplesPerUpload > fleet.MaxSamplesPerEvent {
		return fmt.Errorf("samplesPerUpload %d is invalid: allowed are whole numbers from 1 to %d (the API's limit)", u.SamplesPerUpload, fleet.MaxSamplesPerEvent)
	}
	ops := slices.Sorted(maps.Keys(operations))
	for op, ms := range u.DurationMsByOperationID {
		if !slices.Contains(ops, op) {
			return fmt.Errorf("durationMs: %q is not an operation: allowed are %s", op, strings.Join(ops, ", "))
		}
		if math.IsNaN(ms) || ms < 1 || ms > 29000 {
			return fmt.Errorf("durationMs.%s %g is invalid: allowed are milliseconds from 1 to 29000", op, ms)
		}
	}
	for _, op := range ops {
		if _, ok := u.DurationMsByOperationID[op]; !ok {
			return fmt.Errorf("durationMs: no duration for %s", op)
		}
	}
	return nil
}

// UploadsPerDay is one vehicle's uploads a day.
func (u Usage) UploadsPerDay() float64 {
	return u.DrivingMinutesPerDay * 60 * u.SamplesPerSecond / float64(u.SamplesPerUpload)
}
