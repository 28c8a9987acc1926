package costmodel

import (
	"fmt"
	"math"
)

// How the events table's stream is laid out and read, as the cost model
// takes it: DynamoDB keeps about one shard per partition of the table, and
// a partition holds at most 10 GB and 1,000 write units a second (DynamoDB
// Developer Guide, "Partitions and data distribution"); an on-demand
// table starts with the throughput of 4,000 write units a second, about
// four partitions. Lambda reads each shard in order, one batch at a time
// per ParallelizationFactor, and ends a batch when it is full, when its
// batching window has passed, or at its 6 MB payload (Lambda Developer
// Guide, "Batching behavior").
const (
	minStreamShards       = 4
	partitionBytes        = 10e9
	partitionWritesPerSec = 1000
	lambdaPayloadBytes    = 6 << 20
	// Each lifecycle event is counted as a message (the pricing page
	// meters MQTT PUBLISH sent by the service; whether the rules engine's
	// read of one is billed so, it does not say), a rule triggered and a
	// Lambda action, each in 5 KB increments: an event is about 300 bytes.
	lifecycleEventsPerTrip = 2
	// The tracker's log lines: a stream batch's, a lifecycle event's and
	// a count's, before Lambda's platform lines.
	trackerBatchLogBytes     = 260
	trackerLifecycleLogBytes = 190
	trackerFiguresLogBytes   = 620
	// The figures' Scan reads about 1 MB in 50 ms.
	figuresScanMsPerMB = 50
	// The fleet's figures are three custom metrics.
	figuresMetrics = 3
)

// StateFigures are the tracker's work a month at a fleet size.
type StateFigures struct {
	// Shards are the events table's stream shards; Readers the batches
	// Lambda may have in flight at once (a batch per shard and
	// parallelization); Concurrency the tracker's invocations at once at
	// the peak (Little's law: batches and states a second times their
	// durations), at most Readers.
	Shards, Readers, Concurrency float64
	// WindowSeconds is how long a batch gathers uploads at the peak: the
	// mapping's window, less when a batch fills first; never less than the
	// time between two uploads of a vehicle.
	WindowSeconds float64
	// WritesPerVehicleDay are a driving vehicle's state writes a day: one
	// per batch that holds an upload of it.
	WritesPerVehicleDay float64
	// StateWrites are the states written a month (each a read and a
	// conditional put): the uploads' batches, the lifecycle events and the
	// synthetic vehicle's.
	StateWrites float64
	// Batches are the stream batches a month; LifecycleEvents the connects
	// and disconnects the rule hands on; FiguresRuns the counts.
	Batches, LifecycleEvents, FiguresRuns float64
}

// State returns the tracker's work a month at a fleet size; zero without
// a tracker.
func (m Model) State(vehicles int) StateFigures {
	s, u := m.Stack, m.Usage
	t := s.Tracker
	if t == nil {
		return StateFigures{}
	}
	v := float64(vehicles)
	seconds := u.DaysPerMonth * 86400
	uploadsPerDay := u.UploadsPerDay()
	peakRate := v * uploadsPerDay / 86400 * u.PeakToAverage
	eventsBytes := v * uploadsPerDay * (EventItemBytes(u.SamplesPerUpload) + StorageOverheadBytes) * float64(max(s.EventRetentionDays, 1))
	var f StateFigures
	f.Shards = math.Max(minStreamShards, math.Max(math.Ceil(eventsBytes/partitionBytes),
		math.Ceil(peakRate*uploadWriteUnits(u.SamplesPerUpload)/partitionWritesPerSec)))
	f.Readers = f.Shards * float64(max(t.Parallelization, 1))
	interval := float64(u.SamplesPerUpload) / u.SamplesPerSecond // between two uploads of a vehicle
	perBatch := math.Min(float64(t.BatchSize), math.Floor(lambdaPayloadBytes/StreamRecordBytes))
	window := float64(t.BatchingWindowSeconds)
	if peakRate > 0 {
		window = math.Min(window, perBatch*f.Readers/peakRate)
	}
	f.WindowSeconds = math.Max(window, interval)
	trip := u.DrivingMinutesPerDay * 60 / u.TripsPerDay
	// A trip's uploads fall into its windows, and its first and last
	// window each straddle a batch's edge.
	f.WritesPerVehicleDay = math.Min(uploadsPerDay, u.TripsPerDay*(math.Ceil(trip/f.WindowSeconds)+1))
	uploadsPerMonth := v * uploadsPerDay * u.DaysPerMonth
	f.Batches = math.Min(uploadsPerMonth, f.Shards*seconds/f.WindowSeconds)
	f.StateWrites = v * f.WritesPerVehicleDay * u.DaysPerMonth
	if s.LifecycleRule && u.UploadsOverMqtt {
		f.LifecycleEvents = v * u.TripsPerDay * lifecycleEventsPerTrip * u.DaysPerMonth
	}
	// The lifecycle events of the fleet write its states; the synthetic
	// vehicle's (a connect and a disconnect a run) and its uploads (a
	// batch a run) invoke the tracker, which writes no state of it: it is
	// not the fleet's.
	f.StateWrites += f.LifecycleEvents
	if s.Synthetic != nil {
		runs := u.DaysPerMonth * 24 * 60 / float64(s.SyntheticEveryMinutes)
		f.Batches += runs
		if s.LifecycleRule {
			f.LifecycleEvents += runs * lifecycleEventsPerTrip
		}
	}
	f.FiguresRuns = seconds / 60 / float64(t.FiguresEveryMinutes)
	// A batch holds its invocation only while it runs, not while its
	// window gathers: at the peak every shard's batch has records, and
	// the states are written at the peak's rate.
	peakStates := v * f.WritesPerVehicleDay / 86400 * u.PeakToAverage
	f.Concurrency = math.Min(f.Readers, math.Ceil(f.Readers/f.WindowSeconds*u.TrackerBatchMs/1000+peakStates*u.TrackerStateMs/1000))
	return f
}

// tracker writes what keeping the vehicles' state costs: the state
// table's writes (a read and a put each), its storage, the figures' Scans,
// the tracker's invocations and durations, the lifecycle rule, its logs
// and its metrics. The stream's reads are free; the state's reads through
// the API are their operations'.
func (b *bill) tracker() {
	s, u := b.Stack, b.Usage
	t := s.Tracker
	if t == nil {
		return
	}
	f := b.State(int(b.vehicles))
	b.e.State = f
	// Each write reads the state first, eventually consistent (a stale
	// read, rare, fails the write's condition and is read again).
	b.units.State.Writes += f.StateWrites * float64(WriteUnits(StateItemBytes))
	b.units.State.Reads += f.StateWrites * readUnits(StateItemBytes) * eventuallyConsistent
	// A count reads every state once, eventually consistent.
	b.units.State.Reads += f.FiguresRuns * math.Ceil(b.vehicles*StateItemBytes/ReadUnitBytes) * eventuallyConsistent

	invocations := f.Batches + f.LifecycleEvents + f.FiguresRuns
	b.add(ServiceLambda, fmt.Sprintf("tracker: %s stream batches (%d shards, a batch each %.0f s at the peak), %s lifecycle events, %s counts (requests)",
		group(int64(f.Batches)), int(f.Shards), f.WindowSeconds, group(int64(f.LifecycleEvents)), group(int64(f.FiguresRuns))), PriceLambdaRequests, invocations)
	ms := f.Batches*u.TrackerBatchMs + f.StateWrites*u.TrackerStateMs +
		f.FiguresRuns*(u.TrackerBatchMs+b.vehicles*StateItemBytes/1e6*figuresScanMsPerMB)
	price := PriceLambdaArm64
	if t.Architecture == "x86_64" {
		price = PriceLambdaX8664
	}
	b.add(ServiceLambda, fmt.Sprintf("tracker: %d MB %s, %.1f states written per driving vehicle-day", t.MemoryMiB, t.Architecture, f.WritesPerVehicleDay),
		price, ms/1000*float64(t.MemoryMiB)/1024)
	b.logBytes += f.Batches*trackerBatchLogBytes + f.LifecycleEvents*trackerLifecycleLogBytes + f.FiguresRuns*trackerFiguresLogBytes
	if !t.QuietPlatform {
		b.logBytes += invocations * float64(PlatformLogBytes(t.MemoryMiB, t.Tracing))
	}
	if f.LifecycleEvents > 0 {
		b.add(ServiceIoTCore, "lifecycle events: messages (a connect and a disconnect a trip)", PriceIoTMessages, f.LifecycleEvents)
		b.add(ServiceIoTCore, "lifecycle rule triggered", PriceIoTRules, f.LifecycleEvents)
		b.add(ServiceIoTCore, "lifecycle rule: Lambda actions", PriceIoTActions, f.LifecycleEvents)
	}
	b.add(ServiceCloudWatch, "custom metrics (the fleet's figures: connected, silent, not seen)", PriceCustomMetrics, figuresMetrics)
}
